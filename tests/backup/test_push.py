"""Sealed backups pushed home with HTTP PUT to a real nginx: delivered byte for byte, retried
across an outage, never rotated away before the target confirmed them."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

from firmware.backup import archive as backup
from firmware.backup import push as backup_push
from firmware.config import BackupConfig, Config
from firmware.crypto.keys import x25519_keypair
from firmware.store.store import Store
from tests.conftest import Cli, query
from tests.security.nginx import Nginx


def configured(tmp_path: Path, url: str) -> Config:
    _, public = x25519_keypair()
    (tmp_path / "operator.pub").write_text(public.hex())
    return replace(
        Config(data_dir=tmp_path / "data"),
        backup=BackupConfig(
            operator_public_key_file=str(tmp_path / "operator.pub"),
            push_url=url,
            push_attempts=2,
            push_timeout_s=5,
            keep_daily=1,
            keep_weekly=0,
        ),
    )


def test_push_delivers_retries_and_keeps_unconfirmed_archives(tmp_path: Path, cli: Cli) -> None:
    server = Nginx(tmp_path / "nginx")
    config = configured(tmp_path, server.url)
    with Store.open(config.paths) as store:
        first = backup.create(store, config, datetime(2026, 11, 20, 3, 0, tzinfo=UTC))[1]
        # the target is down: the push fails, is recorded, and the archive is kept through rotation
        down = backup_push.push(store, config)
        assert list(down.failed) == [first.name] and down.pushed == []
        second = backup.create(store, config, datetime(2026, 11, 21, 3, 0, tzinfo=UTC))[1]
        assert first.exists(), "an unconfirmed archive was rotated away"
        server.start()
        try:
            up = backup_push.push(store, config)
            assert up.pushed == [first.name, second.name] and up.failed == {}
            for archive in (first, second):
                assert (server.root / "backups" / archive.name).read_bytes() == archive.read_bytes()
            assert backup_push.push(store, config).pushed == []  # nothing twice
            third = backup.create(store, config, datetime(2026, 11, 22, 3, 0, tzinfo=UTC) + timedelta(hours=1))[1]
        finally:
            server.stop()
        assert not first.exists() and not second.exists() and third.exists()  # confirmed ones rotate normally
    rows = query(config.paths, "SELECT name, status, attempts FROM backup_pushes ORDER BY name")
    assert rows == [(first.name, "pushed", 3), (second.name, "pushed", 1)]


def test_push_command_reports_failures_with_exit_1(tmp_path: Path, cli: Cli) -> None:
    config = configured(tmp_path, "http://127.0.0.1:9/backups")
    toml = tmp_path / "occur.toml"
    toml.write_text(
        f'[backup]\noperator_public_key_file = "{tmp_path / "operator.pub"}"\npush_url = "http://127.0.0.1:9/backups"\n'
        "push_attempts = 1\n"
    )
    d = str(config.paths.root)
    assert cli("--config", str(toml), "--data-dir", d, "backup", "create").status == 0
    result = cli("--config", str(toml), "--data-dir", d, "backup", "push", "--json")
    assert result.status == 1 and len(json.loads(result.out)["failed"]) == 1
    assert cli("--data-dir", d, "backup", "push").status == 2  # no push_url configured

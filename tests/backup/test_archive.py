"""Backups: sealed to the operator, consistent while writing, checked before restore, erasure
reaches them, the operator tool opens them, a damaged database is repaired at start."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import threading
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

from firmware import service
from firmware.backup import archive as backup
from firmware.config import BackupConfig, Config, Paths
from firmware.crypto.keys import x25519_keypair
from firmware.store.store import Store
from tests.conftest import REPO, SHARED, Cli, assert_enrolled, query

FACES = SHARED / "data" / "faces"


def operator(tmp_path: Path) -> tuple[Path, Path]:
    private, public = x25519_keypair()
    (tmp_path / "operator.key").write_text(private.hex())
    (tmp_path / "operator.pub").write_text(public.hex())
    return tmp_path / "operator.key", tmp_path / "operator.pub"


def setup(tmp_path: Path) -> tuple[str, Path, Path]:
    key, pub = operator(tmp_path)
    toml = tmp_path / "occur.toml"
    toml.write_text(f'[backup]\noperator_public_key_file = "{pub}"\n')
    return str(toml), key, tmp_path / "data"


def enrol(cli: Cli, toml: str, data: Path, who: str) -> None:
    photos = [str(p) for p in sorted((FACES / who).glob("*.jpg"))][1:]
    done = cli("--config", toml, "--data-dir", str(data), "enroll", who, *photos, "--consent-by", "hr", "--json")
    assert_enrolled(done.status, done.out, minimum=2)


def identify(cli: Cli, data: Path, who: str) -> str | None:
    doc = json.loads(
        cli("--data-dir", str(data), "identify", str(sorted((FACES / who).glob("*.jpg"))[0]), "--json").out
    )
    return doc["images"][0]["faces"][0]["name"]


def test_backup_while_writing_and_restore_round_trip(cli: Cli, tmp_path: Path) -> None:
    toml, key, data = setup(tmp_path)
    enrol(cli, toml, data, "amy")
    enrol(cli, toml, data, "sheldon")  # the door names nobody from a gallery of one
    config = replace(
        Config(data_dir=data), backup=BackupConfig(operator_public_key_file=str(tmp_path / "operator.pub"))
    )
    stop, written = threading.Event(), [0]
    with Store.open(config.paths) as store:

        def writer() -> None:
            while not stop.is_set():
                store.log_system_event("load", "x")
                written[0] += 1

        thread = threading.Thread(target=writer)
        thread.start()
        try:
            files = backup.create(store, config)
        finally:
            stop.set()
            thread.join()
    assert [f.suffix for f in files] == [".db", ".occbak"] and written[0] > 0
    archive = files[1]
    assert b"amy" not in archive.read_bytes()  # sealed: not even names are visible
    enrol(cli, toml, data, "raj")
    restored = cli("--config", toml, "--data-dir", str(data), "backup", "restore", str(archive), "--key", str(key))
    assert restored.status == 0, restored.err
    assert [r[0] for r in query(Paths(data), "SELECT name FROM users")] == ["amy", "sheldon"]
    assert identify(cli, data, "amy") == "amy"  # templates open: the device's keys were carried over
    assert cli("--data-dir", str(data), "audit", "verify").status == 0  # the restored log continues intact


def test_a_tampered_archive_is_refused_and_nothing_changes(cli: Cli, tmp_path: Path) -> None:
    toml, key, data = setup(tmp_path)
    enrol(cli, toml, data, "amy")
    assert cli("--config", toml, "--data-dir", str(data), "backup", "create").status == 0
    archive = next((data / "backups").glob("*.occbak"))
    body = bytearray(archive.read_bytes())
    body[len(body) // 2] ^= 1
    archive.write_bytes(bytes(body))
    before = hashlib.sha256((data / "occur.db").read_bytes()).hexdigest()
    refused = cli("--config", toml, "--data-dir", str(data), "backup", "restore", str(archive), "--key", str(key))
    assert refused.status == 7 and "nothing was changed" in refused.err
    assert hashlib.sha256((data / "occur.db").read_bytes()).hexdigest() == before


def test_erasure_reaches_backups_and_the_operator_tool_opens_them(cli: Cli, tmp_path: Path) -> None:
    toml, key, data = setup(tmp_path)
    enrol(cli, toml, data, "amy")
    assert cli("--config", toml, "--data-dir", str(data), "backup", "create").status == 0
    archive = next((data / "backups").glob("*.occbak"))
    out = tmp_path / "opened"
    tool = subprocess.run(
        [
            str(Path(sys.executable).parent / "occur-ota"),
            "decrypt-backup",
            str(archive),
            "--key",
            str(key),
            "--out",
            str(out),
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    assert tool.returncode == 0, tool.stderr
    assert (out / "occur.db").exists() and list((out / "face_db").rglob("*.jpg"))
    assert query(Paths(out), "SELECT count(*) FROM user_keys") == [(0,)]  # no key travels with a backup
    assert cli("--data-dir", str(data), "users", "forget", "amy").status == 0
    local = next((data / "backups").glob("*.db"))
    import sqlite3

    with sqlite3.connect(f"file:{local}?mode=ro", uri=True) as conn:
        assert conn.execute("SELECT count(*) FROM user_keys").fetchone() == (0,)
    restore = ("--config", toml, "--data-dir", str(data), "backup", "restore", str(archive), "--key", str(key))
    refused = cli(*restore)  # her key is gone: she could not be recognised, and the restore says so first
    assert refused.status == 7 and "amy (id 1)" in refused.err and "nothing was changed" in refused.err
    accepted = cli(*restore, "--allow-reenrolment")
    assert accepted.status == 0 and "amy (id 1)" in accepted.out
    assert [r[0] for r in query(Paths(data), "SELECT name FROM users")] == ["amy"]
    assert identify(cli, data, "amy") is None  # her templates came back sealed under a key that no longer exists


def test_a_damaged_database_is_repaired_from_the_local_copy_at_start(cli: Cli, tmp_path: Path) -> None:
    data = tmp_path / "data"
    assert cli("--data-dir", str(data), "users", "add", "Ada").status == 0
    assert cli("--data-dir", str(data), "backup", "create").status == 0
    database = data / "occur.db"
    raw = bytearray(database.read_bytes())
    raw[4096 * 2 : 4096 * 2 + 200] = b"\xff" * 200
    database.write_bytes(bytes(raw))
    replay = tmp_path / "r"
    replay.mkdir()
    (replay / "0.jpg").write_bytes((FACES / "noface" / "faceapi_white.jpg").read_bytes())
    config = replace(Config(data_dir=data), camera=replace(Config().camera, fps=0.0))
    service.run(config, f"replay:{replay}", gpio="mock", until_end=True)
    assert [r[0] for r in query(Paths(data), "SELECT name FROM users")] == ["Ada"]
    events = [r[0] for r in query(Paths(data), "SELECT event_type FROM system_events")]
    assert "restored_from_backup" in events
    assert list(data.glob("occur.db.damaged-*"))


def test_rotation_keeps_dailies_and_weeklies(tmp_path: Path) -> None:
    paths = Paths(tmp_path)
    paths.backups.mkdir(parents=True)
    start = datetime(2026, 1, 1, 3, 0, tzinfo=UTC)
    for day in range(60):
        (paths.backups / f"occur_{(start + timedelta(days=day)).strftime('%Y%m%d_%H%M%S')}.db").write_bytes(b"x")
    backup.rotate(paths, keep_daily=7, keep_weekly=4)
    kept = sorted(b.stamp for b in backup.list_backups(paths))
    assert len(kept) == 11 and kept[-1] == (start + timedelta(days=59)).strftime("%Y%m%d_%H%M%S")

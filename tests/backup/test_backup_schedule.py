"""Scheduled backups: daily with rotation, pushed to a real nginx; a failed push is retried with
back-off and shows in the status; a running door makes them on its own."""

from __future__ import annotations

import json
import threading
from dataclasses import replace
from pathlib import Path

from firmware import service
from firmware.backup import archive as backup
from firmware.config import Config
from firmware.platform.install import built_models_dir
from firmware.store.store import Store
from firmware.workers import backups
from tests.backup.test_push import configured
from tests.conftest import query
from tests.security.nginx import Nginx

DAY = 86400.0
START = 1_790_000_000.0  # 2026-09-21


class Clock:
    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> float:
        return self.now


def events(config: Config, kind: str) -> list[str]:
    return [str(r[0]) for r in query(config.paths, "SELECT details FROM system_events WHERE event_type = ?", (kind,))]


def test_daily_backups_rotate_and_a_failed_push_backs_off_then_delivers(tmp_path: Path) -> None:
    server = Nginx(tmp_path / "nginx")
    config = configured(tmp_path, server.url)
    config = replace(config, backup=replace(config.backup, keep_daily=2, interval_h=24.0, push_attempts=1))
    clock = Clock()
    with Store.open(config.paths) as store:
        scheduler = backups.BackupScheduler(config, store, clock)
        scheduler.tick()
        assert backup.list_backups(config.paths) == []  # nothing in the first minutes after start
        clock.now += backups.FIRST_DELAY_S
        scheduler.tick()  # the first backup; the target is down: the push fails
        assert {b.kind for b in backup.list_backups(config.paths)} == {"db", "occbak"}
        status = scheduler.status()
        assert status["push"] == "failing" and status["push_failures"] == 1 and status["unpushed"] == 1
        assert "Connection refused" in status["last_push_error"] or "refused" in status["last_push_error"]
        first_retry = backups.RETRY_FIRST_S
        clock.now += first_retry / 2
        scheduler.tick()  # inside the back-off: no attempt
        assert query(config.paths, "SELECT attempts FROM backup_pushes") == [(1,)]
        clock.now += first_retry / 2
        scheduler.tick()  # the retry, failing again: the wait doubles
        assert query(config.paths, "SELECT attempts FROM backup_pushes") == [(2,)]
        assert scheduler.next_push == clock.now + 2 * first_retry and scheduler.status()["push_failures"] == 2
        server.start()
        try:
            clock.now += 2 * first_retry
            scheduler.tick()
            status = scheduler.status()
            assert status["push"] == "ok" and status["unpushed"] == 0 and status["last_push_error"] is None
            pushed = sorted(p.name for p in (server.root / "backups").iterdir())
            for _ in range(3):  # three more days: a backup each day, pushed, rotated to keep_daily
                clock.now += DAY
                scheduler.tick()
            scheduler.tick()  # the same day: nothing new
        finally:
            server.stop()
        archives = [b.path.name for b in backup.list_backups(config.paths) if b.kind == "occbak"]
        assert len(archives) == 2 and len(pushed) == 1
        on_server = sorted(p.name for p in (server.root / "backups").iterdir())
        assert len(on_server) == 4 and set(pushed) | set(archives) <= set(on_server)
    assert len(events(config, "backup_created")) == 4
    assert len(events(config, "backup_push_failed")) == 2 and len(events(config, "backup_pushed")) == 4


def test_a_failing_backup_is_recorded_and_retried_later(tmp_path: Path) -> None:
    config = configured(tmp_path, "")
    (tmp_path / "operator.pub").write_text("not a key")
    clock = Clock()
    with Store.open(config.paths) as store:
        scheduler = backups.BackupScheduler(config, store, clock)
        clock.now += backups.FIRST_DELAY_S
        scheduler.tick()
        assert "not a readable hex X25519 public key" in events(config, "backup_failed")[0]
        assert (scheduler.next_backup() or 0) >= clock.now + backups.FAILED_BACKUP_RETRY_S
        scheduler.tick()
        assert len(events(config, "backup_failed")) == 1


def test_interval_zero_means_on_demand_only(tmp_path: Path) -> None:
    config = replace(Config(data_dir=tmp_path / "data"), backup=replace(Config().backup, interval_h=0.0))
    clock = Clock()
    with Store.open(config.paths) as store:
        scheduler = backups.BackupScheduler(config, store, clock)
        clock.now += 30 * DAY
        scheduler.tick()
        assert backup.list_backups(config.paths) == [] and scheduler.status()["next_backup"] is None


def test_the_running_door_reports_its_backup_schedule(tmp_path: Path) -> None:
    config = configured(tmp_path, "http://127.0.0.1:9/backups")
    frames = built_models_dir() / "demo"
    report = service.run(config, f"replay:{frames}", gpio="mock", until_end=True, stop=threading.Event())
    assert report.frames > 0
    status = json.loads((config.paths.root / "run" / "status.json").read_text())
    assert status["backup"]["last_backup"] is None and status["backup"]["next_backup"] is not None
    assert status["backup"]["push"] == "ok" and status["backup"]["unpushed"] == 0

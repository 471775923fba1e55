"""Snapshots (and their compat API), attendance, strangers and user access through the CLI."""

from __future__ import annotations

import csv
import json
import os
import shutil
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest

from firmware import compat, service
from firmware.config import Config, Paths, SnapshotConfig
from firmware.crypto.keys import Keys
from firmware.records.snapshots import SnapshotStore
from firmware.store.sealing import Sealer
from tests.conftest import SHARED, Cli, query

FACES = SHARED / "data" / "faces"


def test_snapshot_layout_numbering_and_rejected_user_ids(tmp_path: Path) -> None:
    snaps = SnapshotStore(Paths(tmp_path), SnapshotConfig(), Sealer(Keys(tmp_path / "keys", create=True)))
    frame = np.full((200, 300, 3), 90, np.uint8)
    when = datetime(2026, 11, 25, 8, 0, tzinfo=UTC)
    first = snaps.capture(frame, (100, 50, 160, 120), 7, when)
    second = snaps.capture(frame, (100, 50, 160, 120), 7, when)
    stranger = snaps.capture(frame, (0, 0, 40, 40), None, when)
    assert [str(p) for p in (first, second, stranger)] == [
        "snapshots/2026/11/25/7/snapshot_001.jpg",
        "snapshots/2026/11/25/7/snapshot_002.jpg",
        "snapshots/2026/11/25/unknown/snapshot_001.jpg",
    ]
    assert (tmp_path / first).stat().st_mode & 0o777 == 0o600
    for bad in ("../x", "/etc", "a/b", "..", "", "x" * 65):
        with pytest.raises(ValueError, match="not a plain id"):
            snaps.capture(frame, (0, 0, 10, 10), bad, when)
    with pytest.raises(ValueError, match="outside"):
        snaps.capture(frame, (400, 400, 500, 500), 7, when)


def test_retention_by_age_and_by_free_space(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    snaps = SnapshotStore(
        Paths(tmp_path), SnapshotConfig(keep_days=30, min_free_mb=100), Sealer(Keys(tmp_path / "keys", create=True))
    )
    frame = np.full((50, 50, 3), 90, np.uint8)
    now = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
    for days in (40, 31, 29, 1, 0):
        snaps.capture(frame, (5, 5, 40, 40), 1, now - timedelta(days=days))
    assert snaps.cleanup(now=now) == 2
    assert [p.relative_to(tmp_path / "snapshots").as_posix() for p in snaps.days()] == [
        "2026/10/27",
        "2026/11/24",
        "2026/11/25",
    ]
    usage = shutil.disk_usage(tmp_path)
    monkeypatch.setattr(shutil, "disk_usage", lambda _: usage._replace(free=0))
    assert snaps.enforce_free_space() == 2  # all but today's go when the disk is full
    assert [p.name for p in snaps.days()] == ["25"]


def test_compat_snapshot_api(compat_env: Paths) -> None:
    frame = np.zeros((100, 100, 3), np.uint8)
    path = compat.capture_snapshot(frame, (10, 10, 50, 50), user_id=3)
    assert path.endswith("/3/snapshot_001.jpg") and (compat_env.root / path).is_file()
    with pytest.raises(ValueError, match="plain id"):
        compat.capture_snapshot(frame, (10, 10, 50, 50), user_id="../../etc")
    with pytest.raises(ValueError, match="HxWx3 uint8"):
        compat.capture_snapshot(np.zeros((10, 10)), (1, 1, 5, 5))
    stray = compat_env.snapshots / "old_capture.jpg"
    stray.write_bytes((compat_env.root / path).read_bytes())
    old = (datetime.now() - timedelta(days=45)).timestamp()
    os.utime(stray, (old, old))
    assert compat.organize_snapshots() == 1
    assert compat.cleanup_old_snapshots(days_old=30) == 1
    assert compat.cleanup_old_snapshots(days_old=0) == 0  # whole days: today's pictures stay
    with pytest.raises(ValueError):
        compat.cleanup_old_snapshots(-1)


def test_attendance_list_mark_correct_export(cli: Cli, tmp_path: Path) -> None:
    d = str(tmp_path / "data")
    assert cli("--data-dir", d, "users", "add", "Ada").status == 0
    assert cli("--data-dir", d, "users", "add", "Alan").status == 0
    assert cli("--data-dir", d, "attendance", "mark", "Ada", "--at", "2026-11-24T08:00:00+00:00").status == 0
    assert cli("--data-dir", d, "attendance", "mark", "Ada", "--at", "2026-11-25T08:00:00+00:00").status == 0
    listed = json.loads(cli("--data-dir", d, "attendance", "list", "--from", "2026-11-25", "--json").out)
    assert [(r["name"], r["status"]) for r in listed] == [("Ada", "manual")]
    fixed = cli("--data-dir", d, "attendance", "correct", str(listed[0]["id"]), "--user", "Alan")
    assert fixed.status == 0 and "(Alan)" in fixed.out and "status corrected" in fixed.out
    audit = query(
        Paths(tmp_path / "data"), "SELECT details FROM system_events WHERE event_type = 'attendance_corrected'"
    )
    assert json.loads(str(audit[0][0]))["before"]["user_id"] == 1
    out = tmp_path / "a.csv"
    assert (
        cli(
            "--data-dir", d, "attendance", "export", "--from", "2026-11-01", "--to", "2026-12-01", "--csv", str(out)
        ).status
        == 0
    )
    rows = list(csv.DictReader(out.open()))
    assert [(r["name"], r["status"]) for r in rows] == [("Ada", "manual"), ("Alan", "corrected")]
    assert cli("--data-dir", d, "attendance", "correct", "99", "--user", "Ada").status == 6
    assert cli("--data-dir", d, "attendance", "list", "--from", "yesterday").status == 2


def test_strangers_are_listed_and_promoted_to_users(cli: Cli, tmp_path: Path) -> None:
    config = Config(data_dir=tmp_path / "data")
    config = replace(config, camera=replace(config.camera, fps=0.0))
    replay = tmp_path / "replay"
    replay.mkdir()
    for i in range(10):
        shutil.copy(sorted((FACES / "leonard").glob("*.jpg"))[0], replay / f"{i:03d}.jpg")
    service.run(config, f"replay:{replay}", gpio="mock", until_end=True)
    d = str(tmp_path / "data")
    strangers = json.loads(cli("--data-dir", d, "unknown", "list", "--json").out)
    assert len(strangers) == 1 and strangers[0]["seen_count"] == 1
    promoted = cli(
        "--data-dir",
        d,
        "unknown",
        "promote",
        str(strangers[0]["id"]),
        "Leonard",
        "--role",
        "staff",
        "--consent-by",
        "reception",
    )
    assert promoted.status == 0, promoted.err
    assert json.loads(cli("--data-dir", d, "unknown", "list", "--json").out) == []
    raj = str(sorted((FACES / "raj").glob("*.jpg"))[0])
    assert cli("--data-dir", d, "enroll", "--consent-by", "reception", "Raj", raj).status == 0  # a second person
    found = json.loads(
        cli("--data-dir", d, "identify", str(sorted((FACES / "leonard").glob("*.jpg"))[1]), "--json").out
    )
    assert found["images"][0]["faces"][0]["name"] == "Leonard"


def test_disable_and_enable_a_user(cli: Cli, tmp_path: Path) -> None:
    d = str(tmp_path / "data")
    cli("--data-dir", d, "users", "add", "Ada")
    assert cli("--data-dir", d, "users", "disable", "Ada").out.strip() == "user 1 (Ada) disabled"
    assert query(Paths(tmp_path / "data"), "SELECT active FROM user_access") == [(0,)]
    assert cli("--data-dir", d, "users", "enable", "1").status == 0
    assert query(Paths(tmp_path / "data"), "SELECT active FROM user_access") == [(1,)]

"""A full disk never denies an allowed person and never stops the service.

The data folder sits on a real small tmpfs (the tests run as root, as CI does). The disk is
filled to the last byte after enrolment; the door must still decide and open for an enrolled
person (the database goes first: snapshots are dropped, the ballast is released in time),
status files are best effort, and what could not be recorded is counted and reported once
space returns.
"""

from __future__ import annotations

import errno
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest

from firmware import service
from firmware.config import Config, DoorConfig, LoopConfig, StorageConfig
from firmware.recognition.enrol import enrol
from firmware.records.snapshots import SnapshotStore
from firmware.store.store import Store
from firmware.vision.engine import FaceEngine
from tests.conftest import REPO, query
from tests.loop.test_run_e2e import FACES, build_replay, photo, relay_rises


@pytest.fixture
def mount(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[Path]:
    size = getattr(request, "param", "16m")
    target = tmp_path / "disk"
    target.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size},mode=0700", "tmpfs", str(target)])
    if done.returncode != 0:
        pytest.fail("these tests need a tmpfs mount (run as root, as CI does)")
    try:
        yield target
    finally:
        subprocess.run(["umount", "-l", str(target)], check=False)


def fill(folder: Path) -> Path:
    """Take every free byte of the file system (as another program would)."""
    filler = folder / "filler"
    with filler.open("wb", buffering=0) as handle:
        block = b"\xa5" * 65536
        try:
            while True:
                handle.write(block)
        except OSError as err:
            assert err.errno == errno.ENOSPC
        try:
            while True:
                handle.write(b"\xa5")
        except OSError:
            pass
    assert shutil.disk_usage(folder).free < 4096
    return filler


def make_config(data: Path, ballast_kib: int) -> Config:
    config = Config(data_dir=data)
    return replace(
        config,
        storage=StorageConfig(ballast_kib=ballast_kib),
        door=DoorConfig(pulse_s=0.2),
        loop=LoopConfig(cooldown_s=0.0),
        camera=replace(config.camera, fps=20.0),
        vision=replace(config.vision, min_people=1),  # one person enrolled: see tests/vision for the default rule
    )


def enrol_amy(config: Config) -> int:
    engine = FaceEngine.load(config.vision)
    with Store.open(config.paths, config.storage) as store:
        report = enrol(store, engine, "amy", sorted((FACES / "amy").glob("*.jpg"))[1:3])
    assert report.user_id is not None and report.accepted
    return report.user_id


def test_an_allowed_person_gets_in_on_a_full_disk_and_the_loss_is_reported(mount: Path, tmp_path: Path) -> None:
    config = make_config(mount / "data", ballast_kib=1024)
    amy = enrol_amy(config)
    assert config.paths.ballast.exists()
    filler = fill(mount)
    build_replay(tmp_path / "replay", [photo("amy", 0)] * 2, frames=10, gap=30)
    decided: list[object] = []

    def on_decision(decision: object) -> None:
        decided.append(decision)
        if len(decided) == 1:
            filler.unlink()  # space comes back (an operator, retention) before the second visit

    report = service.run(config, f"replay:{tmp_path / 'replay'}", gpio="mock", until_end=True, on_decision=on_decision)
    assert [(d.user_id, d.granted, d.recorded) for d in report.decisions] == [(amy, True, True), (amy, True, True)]
    assert relay_rises(report) == 2
    paths = config.paths
    faces = query(paths, "SELECT user_id, image_path FROM face_events ORDER BY id")
    assert [f[0] for f in faces] == [str(amy), str(amy)]
    assert faces[0][1] is None  # the snapshot of the full-disk visit was dropped, not the decision
    assert faces[1][1] is not None and (paths.root / str(faces[1][1])).is_file()
    assert query(paths, "SELECT outcome FROM door_events ORDER BY id") == [("granted",), ("granted",)]
    kinds = dict(query(paths, "SELECT event_type, details FROM system_events"))
    assert "disk_full" in kinds
    assert "disk_space_recovered" in kinds, kinds
    assert "1 snapshot" in str(kinds["disk_space_recovered"])
    assert "decision_failed" not in kinds


@pytest.mark.parametrize("mount", ["2m"], indirect=True)
def test_a_2mb_disk_filling_up_while_the_door_runs_does_not_stop_it(mount: Path, tmp_path: Path) -> None:
    """Too small for a ballast (8 MiB by default): status writes fail, snapshots go first (old
    days' pictures are deleted to make room for records), and the door still records and opens."""
    config = make_config(mount / "data", ballast_kib=StorageConfig().ballast_kib)
    amy = enrol_amy(config)
    assert not config.paths.ballast.exists()
    with Store.open(config.paths, config.storage) as store:  # a door with a few days of history
        history = SnapshotStore(config.paths, config.snapshots, store.sealer)
        noise = np.random.default_rng(0).integers(0, 256, (240, 240, 3), np.uint8)  # pictures that do not compress
        for days in (3, 2, 1):
            history.capture(noise, (20, 20, 200, 200), amy, datetime.now(UTC) - timedelta(days=days))
    build_replay(tmp_path / "replay", [photo("amy", 0)] * 2, frames=10, gap=30)
    decided: list[object] = []

    def on_decision(decision: object) -> None:
        decided.append(decision)
        if len(decided) == 1:
            fill(mount)

    report = service.run(config, f"replay:{tmp_path / 'replay'}", gpio="mock", until_end=True, on_decision=on_decision)
    assert [(d.user_id, d.granted, d.recorded) for d in report.decisions] == [(amy, True, True), (amy, True, True)]
    assert relay_rises(report) == 2
    assert report.unrecorded["status_writes"] > 0 and report.unrecorded["snapshots"] >= 1
    assert report.unrecorded["reclaimed"] >= 1  # records went before the old pictures
    assert query(config.paths, "SELECT user_id FROM face_events") == [(str(amy),), (str(amy),)]
    assert query(config.paths, "SELECT outcome FROM door_events") == [("granted",), ("granted",)]


def test_occur_run_survives_status_writes_failing(tmp_path: Path) -> None:
    """``occur run`` as a process: a status file that cannot be written is logged, not fatal."""
    data = tmp_path / "data"
    (data / "run").mkdir(parents=True)
    (data / "run" / "status.json").mkdir()  # a status write now fails like a full disk would
    replay = tmp_path / "replay"
    build_replay(replay, [photo("howard", 0)], frames=6, gap=30)
    done = subprocess.run(
        [sys.executable, "-m", "firmware", "--data-dir", str(data), "run", "--source", f"replay:{replay}",
         "--gpio", "mock", "--until-end"],
        cwd=REPO, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "status file" in done.stderr
    stop = query(Config(data_dir=data).paths, "SELECT details FROM system_events WHERE event_type = 'system_stop'")
    assert len(stop) == 1 and "status file" in str(stop[0][0]), stop


def test_a_snapshot_that_hits_enospc_is_dropped_and_counted(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Without a full disk at hand: the snapshot write itself fails with ENOSPC."""
    from firmware.records import snapshots

    config = make_config(tmp_path / "data", ballast_kib=0)
    amy = enrol_amy(config)
    build_replay(tmp_path / "replay", [photo("amy", 0)], frames=10, gap=5)

    def full(*_: object, **__: object) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(snapshots, "write_private", full)
    report = service.run(config, f"replay:{tmp_path / 'replay'}", gpio="mock", until_end=True)
    assert [(d.user_id, d.granted, d.snapshot) for d in report.decisions] == [(amy, True, None)]
    assert relay_rises(report) == 1
    reported = query(
        config.paths, "SELECT details FROM system_events WHERE event_type IN ('disk_space_recovered', 'system_stop')"
    )
    assert sum("1 snapshot(s) dropped" in str(r[0]) for r in reported) == 1, reported  # reported once

"""Retention: old rows, strangers and snapshots go; the secure log is cut at a checkpoint and still verifies."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np

from firmware.config import Config
from firmware.crypto.keys import Keys
from firmware.platform.clock import to_iso
from firmware.records import retention
from firmware.records.snapshots import SnapshotStore
from firmware.security.securelog import CHECKPOINT_EVERY, SecureLog
from firmware.store import door_records, eventlog, events
from firmware.store.eventlog import Origin
from firmware.store.store import Store
from tests.conftest import Cli, query


def test_policies_remove_what_is_too_old_and_nothing_else(tmp_path: Path, cli: Cli) -> None:
    config = Config(data_dir=tmp_path / "data")
    now = time.time()
    old = to_iso(datetime.now(UTC) - timedelta(days=400))
    recent = to_iso(datetime.now(UTC) - timedelta(days=1))
    ancient = to_iso(datetime.now(UTC) - timedelta(days=800))  # past the secure log's 730 days
    with Store.open(config.paths) as store:
        log = SecureLog(Keys(config.paths.keys))
        for stamp in (old, recent):
            store.write(lambda c, s=stamp: events.insert_face_event(c, s, "unknown", None, None, None))
            store.write(lambda c, s=stamp: eventlog.system(c, Origin(), s, "x", None))
            store.write(lambda c, s=stamp: door_records.insert_door_event(c, s, "denied", "unknown face"))
        vectors = {"sface": ("sha", np.ones(128, np.float32))}
        stale = store.write(
            lambda c: door_records.new_unknown(c, old, "unknown_faces/u1.jpg", vectors, sealer=store.sealer)
        )
        store.write(lambda c: door_records.new_unknown(c, recent, "unknown_faces/u2.jpg", vectors, sealer=store.sealer))
        (config.paths.unknown_faces).mkdir(parents=True)
        (config.paths.unknown_faces / "u1.jpg").write_bytes(b"x")
        (config.paths.unknown_faces / "u2.jpg").write_bytes(b"y")
        snaps = SnapshotStore(config.paths, config.snapshots, store.sealer)
        frame = np.zeros((50, 50, 3), np.uint8)
        snaps.capture(frame, (5, 5, 40, 40), 1, datetime.now(UTC) - timedelta(days=40))
        snaps.capture(frame, (5, 5, 40, 40), 1, datetime.now(UTC))
        for i in range(CHECKPOINT_EVERY + 10):
            store.write(lambda c, i=i: log.append(c, "test", {"i": i}))
        # the first checkpoint's entries are old: age them
        store.write(
            lambda c: [
                c.execute("DROP TRIGGER secure_log_no_update"),
                c.execute("UPDATE secure_log SET timestamp = ? WHERE seq <= ?", (ancient, CHECKPOINT_EVERY)),
            ]
        )
        log2 = SecureLog(Keys(config.paths.keys))
        report = retention.run(store, config, log2, now)
    assert report.removed == {
        "face_events": 1,
        "door_events": 1,
        "system_events": 1,
        "unknown_faces": 1,
        "secure_log": CHECKPOINT_EVERY,
        "snapshot_files": 1,
    }
    assert query(config.paths, "SELECT id FROM unknown_faces") == [(stale + 1,)]
    assert query(config.paths, "SELECT count(*) FROM unknown_encodings WHERE unknown_id = ?", (stale,)) == [(0,)]
    assert not (config.paths.unknown_faces / "u1.jpg").exists() and (config.paths.unknown_faces / "u2.jpg").exists()
    assert query(config.paths, "SELECT min(seq) FROM secure_log") == [(CHECKPOINT_EVERY + 1,)]
    again = cli("--data-dir", str(config.paths.root), "retention", "run")
    assert again.status == 0 and again.out.strip() == "nothing is past its retention policy"
    assert cli("--data-dir", str(config.paths.root), "audit", "verify").status == 0


def test_admin_commands_refuse_another_users_data_folder(tmp_path: Path) -> None:
    """Run as 'nobody' against root's data folder: refused, naming the owner (skipped when not root)."""
    import os
    import shutil
    import subprocess
    import sys

    import pytest

    from tests.conftest import REPO

    setpriv = shutil.which("setpriv")
    if os.geteuid() != 0 or setpriv is None:
        pytest.skip("needs root and setpriv to act as another user")
    shared = Path("/tmp") / f"occur-owner-{os.getpid()}"
    shutil.rmtree(shared, ignore_errors=True)
    shared.mkdir(mode=0o755)
    try:
        data = shared / "data"
        Store.open(Config(data_dir=data).paths).close()
        data.chmod(0o755)
        out = subprocess.run(
            [
                setpriv,
                "--reuid=65534",
                "--regid=65534",
                "--clear-groups",
                sys.executable,
                "-m",
                "firmware",
                "--data-dir",
                str(data),
                "users",
                "list",
            ],
            cwd=REPO,
            capture_output=True,
            text=True,
            env={**os.environ, "HOME": "/tmp"},
        )
        assert out.returncode == 4 and "belongs to user id 0" in out.stderr, out.stderr
    finally:
        shutil.rmtree(shared, ignore_errors=True)

"""A database or WAL file unlinked under the running writer (st_nlink 0) is noticed at the next
health check: what was acknowledged is saved into the database file, and writing stops with a
clear error instead of going on into a file nobody will ever read."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from firmware.config import Paths
from firmware.errors import StoreError
from firmware.store.store import Store
from tests.conftest import REPO, query
from tests.loop.test_run_e2e import FACES, build_replay

WRITER = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    from firmware.config import Paths
    from firmware.store.store import Store
    store = Store.open(Paths(Path(sys.argv[1])))
    acked = 0
    while True:
        problems = store.health()
        if problems:
            print("stopped:", acked, "|".join(problems), flush=True)
            time.sleep(60)
        for _ in range(20):
            store.log_system_event("row", str(acked))
            acked += 1
        print("acked", acked, flush=True)
    """
)


def test_a_deleted_wal_is_noticed_and_acknowledged_rows_survive_a_sigkill(tmp_path: Path) -> None:
    paths = Paths(tmp_path / "data")
    Store.open(paths).close()
    proc = subprocess.Popen(
        [sys.executable, "-c", WRITER, str(paths.root)], cwd=REPO, stdout=subprocess.PIPE, text=True
    )
    assert proc.stdout is not None
    acked = 0
    try:
        for line in proc.stdout:
            acked = int(line.split()[1])
            if acked >= 1000:
                break
        assert acked >= 1000, "the writer stopped early"
        Path(str(paths.database) + "-wal").unlink()
        stopped = ""
        for line in proc.stdout:
            if line.startswith("stopped:"):
                stopped = line
                break
            acked = int(line.split()[1])
        assert "occur.db-wal" in stopped and ("deleted" in stopped or "unlinked" in stopped), stopped
        acked = int(stopped.split()[1])
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    kept = query(paths, "SELECT count(*) FROM system_events WHERE event_type = 'row'")[0][0]
    assert kept == acked, f"{acked} acknowledged, {kept} kept"


def test_writes_stop_with_a_clear_error(tmp_path: Path) -> None:
    paths = Paths(tmp_path / "data")
    store = Store.open(paths)
    try:
        store.log_system_event("before", None)
        assert store.health() == []
        moved = paths.root / "moved.db"
        os.rename(paths.database, moved)  # replaced or deleted: the writer's file has no name here any more
        problems = store.health()
        assert problems and "occur.db" in problems[0]
        with pytest.raises(StoreError, match=r"occur\.db"):
            store.log_system_event("after", None)
    finally:
        store.close()


def test_occur_run_stops_when_its_wal_is_deleted(tmp_path: Path) -> None:
    data = tmp_path / "data"
    replay = tmp_path / "replay"
    strangers = [sorted((FACES / who).glob("*.jpg"))[0] for who in ("howard", "stuart", "leonard", "penny")]
    build_replay(replay, strangers * 6, frames=5, gap=8)
    toml = tmp_path / "occur.toml"
    toml.write_text("[camera]\nfps = 10.0\n[loop]\ncooldown_s = 0.0\n")
    proc = subprocess.Popen(
        [sys.executable, "-m", "firmware", "--config", str(toml), "--data-dir", str(data), "run",
         "--source", f"replay:{replay}", "--gpio", "mock"],
        cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 120
        status = data / "run" / "status.json"
        while time.monotonic() < deadline:
            try:
                if json.loads(status.read_text()).get("decisions", 0) >= 2:
                    break
            except (OSError, ValueError):
                pass
            time.sleep(0.1)
        else:
            pytest.fail("the door never decided")
        Path(str(data / "occur.db") + "-wal").unlink()
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 4, err
    assert "occur.db-wal" in err and "occur: error:" in err
    printed = [line for line in out.splitlines() if line.startswith("frame ")]
    kept = query(Paths(data), "SELECT count(*) FROM face_events")[0][0]
    assert kept >= len(printed) >= 2  # every decision acted on is still recorded
    assert len(printed) < 24  # it stopped, it did not run to the end of the replay

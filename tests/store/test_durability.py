"""Acknowledged means durable: a writer killed with SIGKILL at random moments loses nothing it
reported as logged, and the database stays intact, round after round on the same file.

The child logs through the documented API (firmware.compat) and prints a marker only after the
call returned. OCCUR_DURABILITY_ROUNDS sets the number of kills per test (default 30).
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from firmware.config import Paths
from firmware.store.db import open_plain
from firmware.store.store import Store
from tests.conftest import REPO

ROUNDS = int(os.environ.get("OCCUR_DURABILITY_ROUNDS", "30"))

CHILD = r"""
import os, sys, threading
from firmware import compat
label, threads = sys.argv[1], int(sys.argv[2])
compat.initialize_db()
os.write(1, b"ready\n")

def work(t):
    n = 0
    while True:
        marker = f"{label}-{t}-{n}"
        if n % 5 == 4:
            compat.log_system_event("heartbeat", marker)
        else:
            compat.log_face_event("recognized", user_id=marker, confidence=(n % 100) / 100)
        os.write(1, (marker + "\n").encode())
        n += 1

workers = [threading.Thread(target=work, args=(t,), daemon=True) for t in range(threads)]
for w in workers:
    w.start()
for w in workers:
    w.join()
"""


def kill_at_random(data: Path, label: str, threads: int, rng: random.Random) -> set[str]:
    """Run the child until it is ready, let it write for 50-400 ms, SIGKILL it; return its acks."""
    env = {**os.environ, "OCCUR_DATA_DIR": str(data), "PYTHONPATH": str(REPO)}
    child = subprocess.Popen([sys.executable, "-c", CHILD, label, str(threads)], stdout=subprocess.PIPE, env=env)
    assert child.stdout is not None
    assert child.stdout.readline() == b"ready\n"
    time.sleep(rng.uniform(0.05, 0.4))
    child.send_signal(signal.SIGKILL)
    out, _ = child.communicate(timeout=30)
    assert child.returncode == -signal.SIGKILL
    lines = out.split(b"\n")[:-1]  # a line cut by the kill has no newline: not acknowledged
    return {line.decode() for line in lines}


def stored(paths: Paths) -> list[str]:
    conn = open_plain(paths.database)
    try:
        assert [r[0] for r in conn.execute("PRAGMA integrity_check")] == ["ok"]
        faces = [str(r[0]) for r in conn.execute("SELECT user_id FROM face_events")]
        heartbeats = [
            str(r[0]) for r in conn.execute("SELECT details FROM system_events WHERE event_type = 'heartbeat'")
        ]
        return faces + heartbeats
    finally:
        conn.close()


@pytest.mark.slow
@pytest.mark.parametrize("threads", [1, 6], ids=["one-caller", "six-callers-group-commit"])
def test_sigkill_loses_no_acknowledged_event(tmp_path: Path, threads: int) -> None:
    paths = Paths(tmp_path / "data")
    rng = random.Random(threads)
    acked: set[str] = set()
    for round_ in range(ROUNDS):
        acked |= kill_at_random(paths.root, f"r{round_}", threads, rng)
        rows = stored(paths)
        missing = acked - set(rows)
        assert not missing, f"round {round_}: {len(missing)} acknowledged events lost, e.g. {sorted(missing)[:3]}"
        assert len(rows) == len(set(rows)), f"round {round_}: duplicated events"
    assert len(acked) > ROUNDS * 10, "the child hardly wrote anything: the test would prove nothing"
    with Store.open(paths) as store, store.reader() as conn:  # reopens cleanly after all the kills
        assert conn.execute("SELECT count(*) FROM face_events").fetchone()[0] > 0

"""Restart back-off: quick failures in a row make 'occur run' wait, doubling to a cap; a clean
stop or a long run resets it."""

from __future__ import annotations

import json
from pathlib import Path

from firmware.platform import restart_backoff as rb
from tests.conftest import Cli


def crash(run_dir: Path) -> None:
    (run_dir / "status.json").write_text(json.dumps({"pid": 1, "stopped": False}))


def test_quick_failures_back_off_exponentially_and_a_clean_stop_resets(tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    now = 1_000_000.0
    assert rb.before_start(run_dir, now) == 0.0  # first start ever
    waits = []
    for _ in range(9):
        crash(run_dir)
        now += 3
        waits.append(rb.before_start(run_dir, now))
    assert waits == [0.0, 5.0, 10.0, 20.0, 40.0, 80.0, 160.0, 300.0, 300.0]
    (run_dir / "status.json").write_text(json.dumps({"pid": 1, "stopped": True}))
    assert rb.before_start(run_dir, now + 3) == 0.0
    crash(run_dir)
    assert rb.before_start(run_dir, now + 6) == 0.0  # one failure after a clean run: at once
    crash(run_dir)
    assert rb.before_start(run_dir, now + 6 + rb.HEALTHY_S + 1) == 0.0  # it had run long enough


def test_unreadable_state_never_keeps_the_door_down(tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    (run_dir / "restarts.json").write_text("{garbage")
    crash(run_dir)
    assert rb.before_start(run_dir, 5.0) == 0.0


def test_occur_run_waits_and_says_why(cli: Cli, tmp_path: Path) -> None:
    data = tmp_path / "data"
    run_dir = data / "run"
    run_dir.mkdir(parents=True)
    import time

    (run_dir / "restarts.json").write_text(json.dumps({"failures": 1, "started": time.time() - 1}))
    crash(run_dir)
    result = cli("--data-dir", str(data), "run", "--source", f"replay:{tmp_path / 'missing'}", "--gpio", "mock")
    assert "waiting 5 s before starting" in result.out
    assert result.status != 0  # then the start itself fails on the missing replay, as it would

"""Exponential back-off between restarts of a failing ``occur run`` under systemd.

systemd 252 (Debian 12, Raspberry Pi OS Bookworm) restarts a failed service after a fixed
``RestartSec``; it has no ``RestartSteps``. A door whose camera cable is loose or whose database
disk is failing would then restart every few seconds for ever, flooding the log and the broker.
So ``occur run`` waits before it starts when the runs before it failed quickly: 5 s after the
second quick failure in a row, doubling up to 5 minutes. A run that ended cleanly (its status
file says ``stopped``) or that lasted ``HEALTHY_S`` resets the count. While the door waits,
``occur run`` holds the relay driven locked and shows ``fault`` on the LEDs
(:func:`firmware.service.wait_locked`): a run killed in the middle of a pulse may have left the
line at its unlocked level.

State: ``run/restarts.json`` in the data folder (``failures``, ``started``).
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

from firmware.platform.fileio import write_private

log = logging.getLogger(__name__)
FIRST_S = 5.0
MAX_S = 300.0
HEALTHY_S = 600.0


def delay_s(failures: int) -> float:
    """Seconds to wait after ``failures`` quick failures in a row (none after the first)."""
    if failures < 2:
        return 0.0
    return float(min(FIRST_S * 2.0 ** (failures - 2), MAX_S))


def before_start(run_dir: Path, now: float) -> float:
    """Record this start and return how long to wait before starting the door.

    A previous run failed when its status file lacks ``stopped`` (killed, crashed, or exited on
    an error); it failed quickly when it started less than ``HEALTHY_S`` before now. Unreadable
    state counts as a clean history (never a reason to keep the door down).
    """
    state_file = run_dir / "restarts.json"
    try:
        state = json.loads(state_file.read_text())
        failures, previous = int(state.get("failures", 0)), float(state.get("started", 0.0))
    except (OSError, ValueError, AttributeError):
        failures, previous = 0, 0.0
    try:
        status = json.loads((run_dir / "status.json").read_text())
        failed = not status.get("stopped")
    except (OSError, ValueError, AttributeError):
        failed = previous > 0  # started before but never wrote a status: it died early
    failures = failures + 1 if failed and 0 < now - previous < HEALTHY_S else 0
    try:
        write_private(state_file, json.dumps({"failures": failures, "started": now}).encode())
    except OSError as err:
        log.warning("restart back-off: cannot record the start: %s", err)
    wait = delay_s(failures)
    if wait:
        log.warning(
            "the door failed %d times in a row within %.0f s: waiting %.0f s before starting", failures, HEALTHY_S, wait
        )
    return wait

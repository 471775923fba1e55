"""The systemd watchdog, fed only while the parts are healthy.

``WATCHDOG=1`` is sent every half ``WatchdogSec`` (1 s outside systemd, where it is a no-op)
while every health check passes. A check returns None when its part is healthy, or a reason.
The frame thread's check (:meth:`firmware.workers.frames.FrameThread.health`) passes while the
thread is alive and making progress, including while it retries a dead camera: that is a camera
outage, shown in the status, and a restart would not bring the camera back. A stuck or dead
frame thread fails it, the pings stop, and systemd restarts the door (``Restart=always``).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from firmware.platform import sdnotify
from firmware.workers.base import Clock, Worker

log = logging.getLogger(__name__)
Check = Callable[[], str | None]


class Watchdog(Worker):
    """Pings systemd while ``checks`` pass."""

    name = "watchdog"

    def __init__(
        self,
        stop: threading.Event,
        checks: list[Check],
        interval_s: float | None = None,
        notify: Callable[[str], bool] = sdnotify.notify,
        clock: Clock = time.monotonic,
    ) -> None:
        super().__init__(stop, clock)
        self.checks = checks
        self.interval_s = interval_s or sdnotify.watchdog_interval_s() or 1.0
        self.notify = notify
        self.pings = 0
        self.problem: str | None = None

    def first_delay_s(self) -> float:
        """At once: the first ping follows READY=1."""
        return 0.0

    def step(self) -> None:
        """Ping if every check passes; log a change of verdict once."""
        problems = [p for p in (check() for check in self.checks) if p]
        problem = "; ".join(problems) or None
        if problem != self.problem:
            if problem:
                log.critical("watchdog: not pinging systemd (it restarts the door): %s", problem)
            else:
                log.warning("watchdog: healthy again")
            self.problem = problem
        if problem is None:
            self.notify("WATCHDOG=1")
            self.pings += 1

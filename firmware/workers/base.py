"""One thread per periodic duty, each on its own ``stop.wait(interval)`` schedule.

A slow duty (a retention pass over thousands of snapshots, a backup push over a slow link)
delays only itself: not the frames, not the watchdog, not the status. A step that raises is
logged and tried again at the next interval; a step that raises :class:`FatalError` ends the run
(the service stops every part, the relay locked, and re-raises the cause).

The clock is injectable so tests drive :meth:`Worker.step` with a fake time instead of sleeping
against limits.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from firmware.errors import OccurError

log = logging.getLogger(__name__)
Clock = Callable[[], float]


class FatalError(Exception):
    """Raised by a step when the door must stop; ``cause`` is re-raised by the service."""

    def __init__(self, cause: OccurError) -> None:
        super().__init__(str(cause))
        self.cause = cause


class Worker:
    """A named duty run every :attr:`interval_s` seconds until ``stop`` is set.

    Subclasses implement :meth:`step`; :meth:`first_delay_s` and :meth:`next_delay_s` may vary
    the schedule (a first check a minute after start, jitter across a fleet).
    """

    name = "worker"
    interval_s = 1.0

    def __init__(self, stop: threading.Event, clock: Clock = time.monotonic) -> None:
        self.stop = stop
        self.clock = clock
        self.fatal: FatalError | None = None
        self.steps = 0
        self._thread = threading.Thread(target=self._run, name=self.name, daemon=True)

    def step(self) -> None:
        """One round of the duty."""
        raise NotImplementedError

    def first_delay_s(self) -> float:
        """Seconds before the first step."""
        return self.interval_s

    def next_delay_s(self) -> float:
        """Seconds between steps."""
        return self.interval_s

    def start(self) -> None:
        """Start the thread."""
        self._thread.start()

    @property
    def alive(self) -> bool:
        """True while the thread runs."""
        return self._thread.is_alive()

    def join(self, timeout_s: float = 30.0) -> None:
        """Wait for the thread after ``stop`` was set (a step in progress finishes first)."""
        if self._thread.is_alive():
            self._thread.join(timeout_s)
            if self._thread.is_alive():
                log.warning("%s: still busy after %.0f s; left to finish on its own", self.name, timeout_s)

    def run_step(self) -> None:
        """:meth:`step`, with its failures contained (see the module doc)."""
        try:
            self.step()
        except FatalError as err:
            log.critical("%s: %s", self.name, err)
            self.fatal = err
            self.stop.set()
        except (OccurError, OSError) as err:
            log.error("%s: %s (tried again in %.0f s)", self.name, err, self.next_delay_s())
        except Exception:  # a duty must never take the door down with it
            log.exception("%s failed; tried again in %.0f s", self.name, self.next_delay_s())
        self.steps += 1

    def _run(self) -> None:
        delay = self.first_delay_s()
        while not self.stop.wait(delay):
            self.run_step()
            delay = self.next_delay_s()

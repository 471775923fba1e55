"""Model updates in the running door: following the ``current`` release (a swap takes the
engine lock the frame thread and the console use) and the scheduled repository check."""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable
from typing import Any

from firmware.config import Config
from firmware.ota.install import Installer
from firmware.ota.worker import ModelFollower
from firmware.store.store import Store
from firmware.workers.base import Clock, Worker

log = logging.getLogger(__name__)
FOLLOW_EVERY_S = 1.0
FIRST_CHECK_S = 60.0


class FollowWorker(Worker):
    """Swaps the loop's models when the release changes (see :class:`ModelFollower`)."""

    name = "model-follower"
    interval_s = FOLLOW_EVERY_S

    def __init__(
        self, stop: threading.Event, follower: ModelFollower, engine_lock: threading.Lock, clock: Clock = time.monotonic
    ) -> None:
        super().__init__(stop, clock)
        self.follower = follower
        self.engine_lock = engine_lock

    def step(self) -> None:
        """Swap if the release changed (under the engine lock)."""
        if not self.follower.changed():
            return
        with self.engine_lock:  # the frame thread waits (and counts the wait as progress)
            self.follower.poll()


class CheckWorker(Worker):
    """Checks the repository (and with ``auto_apply`` installs) every ``check_interval_s``
    (spread by 10 % across a fleet), the first time about a minute after start. Failures are
    logged and recorded by the installer; the door is never held up."""

    name = "update-check"

    def __init__(
        self,
        stop: threading.Event,
        config: Config,
        store: Store,
        notify: Callable[[dict[str, Any]], None] | None,
        clock: Clock = time.monotonic,
    ) -> None:
        super().__init__(stop, clock)
        self.config = config
        self.store = store
        self.notify = notify
        self.interval_s = config.ota.check_interval_s

    def first_delay_s(self) -> float:
        """About a minute after start."""
        return min(FIRST_CHECK_S, self.interval_s)

    def next_delay_s(self) -> float:
        """``check_interval_s`` give or take 10 %."""
        return self.interval_s * random.uniform(0.9, 1.1)  # noqa: S311 - spreads a fleet's checks, not security

    def step(self) -> None:
        """Check (or install) once."""
        installer = Installer(self.config, self.store, self.notify)
        outcome = installer.apply() if self.config.ota.auto_apply else installer.check()[0]
        log.info("ota: %s %s", outcome.status, outcome.release)


def scheduled(config: Config) -> bool:
    """True when the repository is to be checked (a URL and a positive interval)."""
    return bool(config.ota.repository_url) and config.ota.check_interval_s > 0

"""Retention every ``RETENTION_EVERY_S`` (see :mod:`firmware.records.retention`): by age and by the
free-space floor. A failure is logged and tried again at the next round; it never stops the door."""

from __future__ import annotations

import threading
import time

from firmware.config import Config
from firmware.records import retention
from firmware.security.audit import secure_log
from firmware.store.store import Store
from firmware.workers.base import Clock, Worker

RETENTION_EVERY_S = 600.0


class RetentionWorker(Worker):
    """Applies the retention policies, the first time at start."""

    name = "retention"
    interval_s = RETENTION_EVERY_S

    def __init__(self, stop: threading.Event, config: Config, store: Store, clock: Clock = time.monotonic) -> None:
        super().__init__(stop, clock)
        self.config = config
        self.store = store

    def first_delay_s(self) -> float:
        """At once: a door that restarts often must still apply retention."""
        return 0.0

    def step(self) -> None:
        """One retention pass."""
        retention.run(self.store, self.config, secure_log(self.config.paths, self.config.device.id))

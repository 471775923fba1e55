"""Scheduled backups inside ``occur run``: every ``[backup] interval_h`` (daily by default) a
backup with its rotation (see :mod:`firmware.backup.archive`), and the sealed archives pushed home when
``[backup] push_url`` is set: two workers (:class:`BackupWorker`, :class:`PushWorker`) on one
:class:`BackupScheduler`, so a slow push never delays a backup and neither delays the door.

A push that fails is retried with back-off, 5 minutes doubling to 6 hours, on top of the
per-archive retries inside one push (:mod:`firmware.backup.push`); the archives stay on the device
(rotation never removes one that is not confirmed) until the target has them. Every outcome is a
system event (and its MQTT message), and :meth:`BackupScheduler.status` goes into the door's
status document, so a failing push is visible in ``occur status`` and on ``<prefix>/status``.

When is a backup due: ``interval_h`` after the newest backup in ``backups/`` (so a restart does
not repeat one), or ``FIRST_DELAY_S`` after start when there is none yet. The clock is
injectable; the workers only call :meth:`BackupScheduler.tick_backup` and
:meth:`BackupScheduler.tick_push`.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from firmware.backup import archive as backup
from firmware.backup import push as backup_push
from firmware.config import Config
from firmware.errors import OccurError
from firmware.platform.clock import unix_iso
from firmware.store.store import Store
from firmware.workers.base import Worker

log = logging.getLogger(__name__)
FIRST_DELAY_S = 600.0
RETRY_FIRST_S = 300.0
RETRY_MAX_S = 6 * 3600.0
FAILED_BACKUP_RETRY_S = 3600.0
WAKE_MAX_S = 60.0


class BackupScheduler:
    """Decides and does the scheduled work; thread-safe :meth:`status`."""

    def __init__(self, config: Config, store: Store, clock: Callable[[], float] = time.time) -> None:
        self.config = config
        self.store = store
        self.clock = clock
        self.started = clock()
        self._lock = threading.Lock()
        self.last_error = ""
        self.push_failures = 0
        self.next_push = self.started
        self.backup_retry_at = 0.0
        self.last_push_ok: float | None = None
        self._status: dict[str, Any] = {}

    @property
    def interval_s(self) -> float:
        """Seconds between backups; 0 = no scheduled backups."""
        return self.config.backup.interval_h * 3600.0

    def newest(self) -> float | None:
        """Unix time of the newest backup on the device, if any."""
        found = backup.list_backups(self.config.paths)
        if not found:
            return None
        return datetime.strptime(found[0].stamp, "%Y%m%d_%H%M%S").replace(tzinfo=UTC).timestamp()

    def next_backup(self) -> float | None:
        """When the next scheduled backup is due (None: not scheduled)."""
        if not self.interval_s:
            return None
        newest = self.newest()
        due = self.started + FIRST_DELAY_S if newest is None else newest + self.interval_s
        return max(due, self.backup_retry_at)

    def unpushed(self) -> list[str]:
        """Sealed archives the push target has not confirmed."""
        archives = [b.path.name for b in backup.list_backups(self.config.paths) if b.kind == "occbak"]
        done = backup.pushed_archives(self.store)
        return [name for name in archives if name not in done]

    def tick(self, stop: threading.Event | None = None) -> None:
        """Back up if due, then push if archives wait and no back-off holds; never raises."""
        self.tick_backup()
        self.tick_push(stop)

    def tick_backup(self) -> None:
        """Back up if due; never raises."""
        now = self.clock()
        due = self.next_backup()
        if due is not None and now >= due:
            self._backup(now)
        self.refresh()

    def tick_push(self, stop: threading.Event | None = None) -> None:
        """Push if archives wait and no back-off holds; never raises."""
        now = self.clock()
        if self.config.backup.push_url and now >= self.next_push:
            self._push(now, stop)
            self.refresh()

    def _backup(self, now: float) -> None:
        try:
            written = backup.create(self.store, self.config, datetime.fromtimestamp(now, UTC))
        except (OccurError, OSError) as err:
            self.backup_retry_at = now + FAILED_BACKUP_RETRY_S
            self._event("backup_failed", f"scheduled backup failed, retried in 1 h: {err}")
            return
        self.backup_retry_at = 0.0
        self._event("backup_created", "scheduled: " + ", ".join(p.name for p in written))

    def _push(self, now: float, stop: threading.Event | None) -> None:
        try:
            if not self.unpushed():
                return
            report = backup_push.push(self.store, self.config, stop)
            failed = dict(report.failed)
        except (OccurError, OSError) as err:
            failed = {"push": str(err)}
        with self._lock:
            if failed:
                self.push_failures += 1
                delay = min(RETRY_FIRST_S * 2 ** (self.push_failures - 1), RETRY_MAX_S)
                self.next_push = now + delay
                self.last_error = "; ".join(f"{k}: {v}" for k, v in failed.items())
            else:
                self.push_failures, self.next_push, self.last_error, self.last_push_ok = 0, now, "", now
        if failed:
            self._event("backup_push_failed", f"{self.last_error}; retried in {delay / 60:.0f} min")
        else:
            self._event("backup_pushed", ", ".join(report.pushed))

    def _event(self, kind: str, details: str) -> None:
        log.log(logging.WARNING if kind.endswith("failed") else logging.INFO, "%s: %s", kind, details)
        try:
            self.store.log_system_event(kind, details)
        except OccurError as err:
            log.error("could not record %s: %s", kind, err)

    def status(self) -> dict[str, Any]:
        """The ``backup`` part of the status document, as of the last :meth:`tick` (cheap: the
        door writes its status every second)."""
        with self._lock:
            return dict(self._status)

    def refresh(self) -> None:
        """Recompute :meth:`status` (reads the backups folder and the database)."""
        newest, due = self.newest(), self.next_backup()
        with self._lock:
            doc: dict[str, Any] = {
                "last_backup": unix_iso(newest) if newest else None,
                "next_backup": unix_iso(due) if due else None,
            }
            if self.config.backup.push_url:
                doc["push"] = "failing" if self.push_failures else "ok"
                doc["push_failures"] = self.push_failures
                doc["last_push_error"] = self.last_error or None
                doc["next_push_attempt"] = unix_iso(self.next_push) if self.push_failures else None
                doc["last_push_ok"] = unix_iso(self.last_push_ok) if self.last_push_ok else None
        if self.config.backup.push_url:
            try:
                doc["unpushed"] = len(self.unpushed())
            except OccurError:
                doc["unpushed"] = None
        with self._lock:
            self._status = doc


class BackupWorker(Worker):
    """Backs up when due (checked every minute)."""

    name = "backups"
    interval_s = WAKE_MAX_S

    def __init__(self, scheduler: BackupScheduler, stop: threading.Event) -> None:
        super().__init__(stop, scheduler.clock)
        self.scheduler = scheduler

    def step(self) -> None:
        """Back up if due."""
        self.scheduler.tick_backup()


class PushWorker(Worker):
    """Pushes the archives the target lacks (checked every minute; the scheduler's back-off
    decides when a failed push is tried again). A push in progress ends at its next back-off
    wait once ``stop`` is set."""

    name = "backup-push"
    interval_s = WAKE_MAX_S

    def __init__(self, scheduler: BackupScheduler, stop: threading.Event) -> None:
        super().__init__(stop, scheduler.clock)
        self.scheduler = scheduler

    def step(self) -> None:
        """Push if due."""
        self.scheduler.tick_push(self.stop)

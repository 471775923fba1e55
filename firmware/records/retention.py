"""Retention: nothing is kept past its policy (``[retention]``, ``[snapshots] keep_days``).

Run by ``occur run`` every 10 minutes and by ``occur retention run``. Rows older than their kind's
limit are deleted (``secure_delete`` overwrites them in the file); strangers not seen within
their limit go with their picture and embeddings; snapshot day folders by age and by the
free-space floor. The secure log is cut only at a signed checkpoint, so what remains still
verifies. Each run that removes anything is itself logged in the secure log (counts only).
"""

from __future__ import annotations

import contextlib
import logging
import time
from dataclasses import dataclass, field

from firmware.config import Config
from firmware.platform.clock import unix_iso
from firmware.platform.fileio import UnsafePathError, contained
from firmware.records.snapshots import SnapshotStore
from firmware.security.securelog import SecureLog
from firmware.store import expiry, secure_log
from firmware.store.db import Connection
from firmware.store.store import Store

log = logging.getLogger(__name__)
TABLES = (
    ("face_events", "face_events_days"),
    ("door_events", "door_events_days"),
    ("system_events", "system_events_days"),
    ("attendance_logs", "attendance_days"),
)


@dataclass
class RetentionReport:
    """Rows and files removed, per kind."""

    removed: dict[str, int] = field(default_factory=dict)

    @property
    def total(self) -> int:
        """Everything removed."""
        return sum(self.removed.values())


def _cutoff(days: float, now: float) -> str | None:
    return unix_iso(now - days * 86400) if days > 0 else None


def _rows(conn: Connection, config: Config, now: float) -> tuple[dict[str, int], list[str]]:
    removed: dict[str, int] = {}
    for table, key in TABLES:
        cutoff = _cutoff(getattr(config.retention, key), now)
        if cutoff is not None:
            removed[table] = expiry.delete_records_before(conn, table, cutoff)
    pictures: list[str] = []
    cutoff = _cutoff(config.retention.unknown_faces_days, now)
    if cutoff is not None:
        removed["unknown_faces"], pictures = expiry.delete_strangers_unseen_since(conn, cutoff)
    return removed, pictures


def _secure_log(conn: Connection, days: float, now: float) -> int:
    cutoff = _cutoff(days, now)
    return 0 if cutoff is None else secure_log.cut_before(conn, cutoff)


def _delete_pictures(config: Config, pictures: list[str]) -> int:
    """Delete strangers' pictures whose rows went; returns how many paths were unsafe and left
    alone (each checked here again, whatever checked it when it was stored)."""
    unsafe = 0
    for stored in pictures:
        try:
            path = contained(config.paths.root, "unknown_faces", stored)
        except UnsafePathError as err:
            log.warning("retention: not deleting a stranger's picture: %s", err)
            unsafe += 1
            continue
        with contextlib.suppress(FileNotFoundError, IsADirectoryError):
            path.unlink()
    return unsafe


def run(store: Store, config: Config, secure: SecureLog, now: float | None = None) -> RetentionReport:
    """Apply every policy once."""
    now = time.time() if now is None else now
    removed, pictures = store.write(lambda conn: _rows(conn, config, now))
    removed["unsafe_paths_skipped"] = _delete_pictures(config, pictures)
    removed["secure_log"] = store.write(lambda conn: _secure_log(conn, config.retention.secure_log_days, now))
    snapshots = SnapshotStore(config.paths, config.snapshots, store.sealer)
    removed["snapshot_files"] = snapshots.cleanup() + snapshots.enforce_free_space()
    report = RetentionReport({k: v for k, v in removed.items() if v})
    if report.total:
        store.write(lambda conn: secure.append(conn, "retention", report.removed))
    return report

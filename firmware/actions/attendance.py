"""Attendance: corrections, manual marks and the CSV export, each logged with who did it."""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence

from firmware.config import Config
from firmware.platform.clock import now_iso
from firmware.security.audit import audit
from firmware.store.attendance import Attendance, correct, mark
from firmware.store.store import Store

CSV_HEADER = ("id", "timestamp", "user_id", "name", "status", "snapshot_path")
_FORMULA = ("=", "+", "-", "@", "\t", "\r")


def _cell(value: object) -> object:
    """Text that a spreadsheet would run as a formula gets a leading apostrophe (CSV injection)."""
    if isinstance(value, str) and value.startswith(_FORMULA):
        return "'" + value
    return value


def csv_text(rows: Sequence[Attendance]) -> str:
    """The export: a header line, then one line per record (RFC 4180 quoting)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(CSV_HEADER)
    writer.writerows(
        [_cell(v) for v in (r.id, r.timestamp, r.user_id, r.name, r.status, r.snapshot_path)] for r in rows
    )
    return buffer.getvalue()


def correct_record(
    store: Store, config: Config, record: int, user_id: int | None, when: str | None, actor: str
) -> Attendance:
    """Fix a record's person and/or time (status ``corrected``; old values in ``system_events``).

    Raises:
        NotFoundError: no such record. InvalidInputError: nothing to change.
    """
    row = store.write(lambda c: correct(c, store.origin, record, now_iso(), user_id, when))
    audit(
        store, config.paths, "attendance_corrected", {"record": record, "user_id": user_id, "at": when, "by": actor},
        row.user_id, config.device.id,
    )  # fmt: skip
    return row


def mark_present(store: Store, config: Config, user_id: int, when: str, actor: str) -> int:
    """A manual record; returns its id."""
    row = store.write(lambda c: mark(c, user_id, when))
    audit(store, config.paths, "attendance_marked", {"record": row, "at": when, "by": actor}, user_id, config.device.id)
    return row


def exported(store: Store, config: Config, rows: int, since: str | None, until: str | None, actor: str) -> None:
    """Log an export of attendance (personal data leaving the device)."""
    audit(store, config.paths, "attendance_export", {"rows": rows, "from": since, "to": until, "by": actor})

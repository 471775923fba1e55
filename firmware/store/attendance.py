"""Attendance records (``attendance_logs``): list, mark by hand, correct, with an audit trail.

Statuses are the original CHECK constraint's: ``recognized`` (the door), ``manual`` (marked by
an operator), ``corrected`` (a row an operator fixed; the old values go to ``system_events``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from firmware.errors import InvalidInputError, NotFoundError
from firmware.store import eventlog
from firmware.store.db import Connection
from firmware.store.door_records import insert_attendance


@dataclass(frozen=True)
class Attendance:
    """A row of ``attendance_logs`` with the user's name."""

    id: int
    user_id: int | None
    name: str | None
    status: str
    timestamp: str
    snapshot_path: str | None


def list_attendance(
    conn: Connection, since: str | None = None, until: str | None = None, user_id: int | None = None
) -> list[Attendance]:
    """Rows in [since, until), oldest first (ISO timestamps compare as text)."""
    rows: list[Any] = conn.execute(
        "SELECT a.id, a.user_id, u.name, a.status, a.timestamp, a.snapshot_path FROM attendance_logs a"
        " LEFT JOIN users u ON u.id = a.user_id WHERE (? IS NULL OR a.timestamp >= ?)"
        " AND (? IS NULL OR a.timestamp < ?) AND (? IS NULL OR a.user_id = ?) ORDER BY a.timestamp, a.id",
        (since, since, until, until, user_id, user_id),
    ).fetchall()
    return [Attendance(int(r[0]), r[1], r[2], str(r[3]), str(r[4]), r[5]) for r in rows]


def mark(conn: Connection, user_id: int, timestamp: str) -> int:
    """A manual attendance row; returns its id."""
    return insert_attendance(conn, user_id, "manual", timestamp, None)


def correct(
    conn: Connection,
    origin: eventlog.Origin,
    attendance_id: int,
    now: str,
    user_id: int | None = None,
    timestamp: str | None = None,
) -> Attendance:
    """Change a row's user and/or time; it becomes ``corrected`` and the old values are logged.

    Raises:
        NotFoundError: no such row. InvalidInputError: nothing to change.
    """
    if user_id is None and timestamp is None:
        raise InvalidInputError("give a new user or a new time")
    row: Any = conn.execute(
        "SELECT user_id, status, timestamp FROM attendance_logs WHERE id = ?", (attendance_id,)
    ).fetchone()
    if row is None:
        raise NotFoundError(f"no attendance record {attendance_id}")
    conn.execute(
        "UPDATE attendance_logs SET user_id = coalesce(?, user_id), timestamp = coalesce(?, timestamp),"
        " status = 'corrected' WHERE id = ?",
        (user_id, timestamp, attendance_id),
    )
    before = {"id": attendance_id, "user_id": row[0], "status": row[1], "timestamp": row[2]}
    eventlog.system(
        conn,
        origin,
        now,
        "attendance_corrected",
        json.dumps({"before": before, "user_id": user_id, "timestamp": timestamp}),
    )
    return next(a for a in list_attendance(conn) if a.id == attendance_id)

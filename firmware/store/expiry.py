"""Deleting rows past their retention limit (the policy and the files are
:mod:`firmware.records.retention`'s). ``secure_delete`` overwrites what is deleted."""

from __future__ import annotations

from typing import Any

from firmware.store.db import Connection

RECORD_TABLES = ("face_events", "door_events", "system_events", "attendance_logs")
"""The tables of timestamped records, each cut by its own limit."""


def delete_records_before(conn: Connection, table: str, cutoff: str) -> int:
    """Delete ``table``'s rows stamped before ``cutoff`` (ISO timestamp); returns how many.

    Raises:
        ValueError: ``table`` is not one of :data:`RECORD_TABLES`.
    """
    if table not in RECORD_TABLES:
        raise ValueError(f"not a record table: {table!r}")
    conn.execute(f"DELETE FROM {table} WHERE timestamp < ?", (cutoff,))  # noqa: S608 - one of RECORD_TABLES
    return int(conn.changes())


def delete_strangers_unseen_since(conn: Connection, cutoff: str) -> tuple[int, list[str]]:
    """Delete strangers last seen before ``cutoff`` (with their templates, by cascade); returns
    how many and the stored paths of their pictures, which the caller deletes."""
    rows: list[Any] = conn.execute(
        "SELECT id, snapshot_path FROM unknown_faces WHERE coalesce(last_seen, first_seen) < ?", (cutoff,)
    ).fetchall()
    conn.executemany("DELETE FROM unknown_faces WHERE id = ?", [(int(r[0]),) for r in rows])
    return len(rows), [str(r[1]) for r in rows if r[1]]

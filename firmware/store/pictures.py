"""Where a record's picture is stored: the relative path a face event, an attendance row, a
stranger or an enrolment sample names (the web console opens it; the files stay sealed)."""

from __future__ import annotations

from typing import Literal

from firmware.store.db import Connection, fetch_all

RecordKind = Literal["event", "attendance", "stranger"]
_QUERIES: dict[str, str] = {
    "event": "SELECT image_path FROM face_events WHERE id = ?",
    "attendance": "SELECT snapshot_path FROM attendance_logs WHERE id = ?",
    "stranger": "SELECT snapshot_path FROM unknown_faces WHERE id = ?",
}
RECORD_KINDS: tuple[RecordKind, ...] = ("event", "attendance", "stranger")


def record_picture(conn: Connection, kind: RecordKind, record_id: int) -> str | None:
    """The stored path of record ``record_id``'s picture; None for no record or no picture."""
    rows = fetch_all(conn, _QUERIES[kind], (record_id,))
    return str(rows[0][0]) if rows and rows[0][0] else None


def sample_chip(conn: Connection, sample_id: int) -> tuple[int, str | None] | None:
    """The owner and the stored chip path of an enrolment sample; None when there is no sample."""
    rows = fetch_all(conn, "SELECT user_id, chip_path FROM face_samples WHERE id = ?", (sample_id,))
    return None if not rows else (int(rows[0][0]), None if rows[0][1] is None else str(rows[0][1]))

"""The rows half of the right to erasure (``occur users forget``; the files and the policy are
:mod:`firmware.recognition.forget`'s): one user's biometric rows go, their records stay detached
or under a pseudonym."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from firmware.store.db import Connection


@dataclass(frozen=True)
class Erased:
    """Counts of what :func:`erase_user` removed or detached (no personal data)."""

    encodings: int
    samples: int
    attendance_detached: int
    events_pseudonymised: int


def _count(conn: Connection, sql: str, args: tuple[object, ...]) -> int:
    row: Any = conn.execute(sql, args).fetchone()
    return int(row[0])


def erase_user(conn: Connection, user_id: int, pseudonym: str) -> Erased:
    """Delete the user (cascading to samples, encodings and access), detach their attendance rows
    (user and snapshot cleared), put ``pseudonym`` in their face events (pictures cleared) and
    clear them from door events; a legacy import's verbatim copies of their rows become
    tombstones naming only the pseudonym. Runs in the caller's transaction."""
    uid = (user_id,)
    encodings = _count(conn, "SELECT count(*) FROM face_encodings WHERE user_id = ?", uid)
    samples = _count(conn, "SELECT count(*) FROM face_samples WHERE user_id = ?", uid)
    attendance = _count(conn, "SELECT count(*) FROM attendance_logs WHERE user_id = ?", uid)
    tombstone = json.dumps({"forgotten": pseudonym})
    conn.execute(
        "UPDATE legacy_imports SET source_row = ? WHERE (target_table = 'users' AND target_id = ?)"
        " OR (target_table = 'attendance_logs' AND target_id IN (SELECT id FROM attendance_logs WHERE user_id = ?))",
        (tombstone, user_id, user_id),
    )
    conn.execute("UPDATE attendance_logs SET user_id = NULL, snapshot_path = NULL WHERE user_id = ?", uid)
    conn.execute("UPDATE face_events SET user_id = ?, image_path = NULL WHERE user_id = ?", (pseudonym, str(user_id)))
    events = int(conn.changes())
    conn.execute("UPDATE door_events SET user_id = NULL WHERE user_id = ?", uid)
    conn.execute("DELETE FROM users WHERE id = ?", uid)
    return Erased(encodings, samples, attendance, events)

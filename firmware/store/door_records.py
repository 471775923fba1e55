"""Table access for the appliance loop: door events, attendance, strangers, user access.

Writers run inside writer jobs (``Store.write``); the loop puts one decision's rows in one job so
a decision is recorded whole or not at all.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from firmware.store.db import Connection, fetch_all
from firmware.store.encodings import to_blob
from firmware.store.sealing import Sealer

ATTENDANCE_STATUSES = ("recognized", "manual", "corrected")
DOOR_OUTCOMES = ("granted", "denied", "exit_request", "forced_open", "held_open", "closed", "tamper")


@dataclass(frozen=True)
class Unknown:
    """A row of ``unknown_faces``."""

    id: int
    snapshot_path: str | None
    first_seen: str | None
    last_seen: str | None
    seen_count: int


def insert_door_event(
    conn: Connection,
    timestamp: str,
    outcome: str,
    reason: str,
    user_id: int | None = None,
    face_event_id: int | None = None,
    score: float | None = None,
) -> int:
    """Record a door decision or input; returns its id."""
    if outcome not in DOOR_OUTCOMES:
        raise ValueError(f"door outcome {outcome!r} is not one of {DOOR_OUTCOMES}")
    conn.execute(
        "INSERT INTO door_events (timestamp, outcome, reason, user_id, face_event_id, score) VALUES (?, ?, ?, ?, ?, ?)",
        (timestamp, outcome, reason, user_id, face_event_id, score),
    )
    return int(conn.last_insert_rowid())


def set_liveness(conn: Connection, door_event_id: int, record: dict[str, Any]) -> None:
    """Keep a decision's liveness verdict (``live``, ``attack``, ``not_proven`` or NULL when
    not checked) and its cues, as JSON, on its ``door_events`` row."""
    conn.execute(
        "UPDATE door_events SET liveness = ?, liveness_cues = ? WHERE id = ?",
        (record.get("verdict"), json.dumps(record, sort_keys=True, separators=(",", ":")), door_event_id),
    )


def insert_attendance(conn: Connection, user_id: int, status: str, timestamp: str, snapshot_path: str | None) -> int:
    """Add an attendance row; returns its id."""
    conn.execute(
        "INSERT INTO attendance_logs (user_id, status, timestamp, snapshot_path) VALUES (?, ?, ?, ?)",
        (user_id, status, timestamp, snapshot_path),
    )
    return int(conn.last_insert_rowid())


def new_unknown(
    conn: Connection,
    timestamp: str,
    snapshot_path: str | None,
    vectors: dict[str, tuple[str, npt.NDArray[np.float32]]],
    *,
    sealer: Sealer,
) -> int:
    """A stranger seen for the first time, with its embeddings per model (sealed); returns its id."""
    conn.execute(
        "INSERT INTO unknown_faces (snapshot_path, first_seen, last_seen, seen_count) VALUES (?, ?, ?, 1)",
        (snapshot_path, timestamp, timestamp),
    )
    unknown_id = int(conn.last_insert_rowid())
    for model, (sha, vector) in vectors.items():
        dim, plain = to_blob(vector)
        blob = sealer.seal_stranger(unknown_id, model, plain)
        conn.execute(
            "INSERT INTO unknown_encodings (unknown_id, model, model_sha256, dim, vector, created_at)"
            " VALUES (?, ?, ?, ?, ?, ?)",
            (unknown_id, model, sha, dim, blob, timestamp),
        )
    return unknown_id


def unknown_seen_again(conn: Connection, unknown_id: int, timestamp: str) -> None:
    """The same stranger came back."""
    conn.execute(
        "UPDATE unknown_faces SET last_seen = ?, seen_count = coalesce(seen_count, 0) + 1 WHERE id = ?",
        (timestamp, unknown_id),
    )


def unknown_gallery_rows(
    conn: Connection, model: str, model_sha256: str, since: str, *, sealer: Sealer
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float32]]:
    """Strangers' embeddings of one model file, seen since ``since``, ordered by stranger id."""
    rows = fetch_all(
        conn,
        "SELECT e.unknown_id, e.vector, e.dim FROM unknown_encodings e JOIN unknown_faces u ON u.id = e.unknown_id"
        " WHERE e.model = ? AND e.model_sha256 = ? AND coalesce(u.last_seen, u.first_seen) >= ?"
        " ORDER BY e.unknown_id, e.id",
        (model, model_sha256, since),
    )
    opened = [(int(r[0]), sealer.open_stranger(int(r[0]), model, bytes(r[1]), int(r[2]))) for r in rows]
    kept = [(uid, v) for uid, v in opened if v is not None]
    if not kept:
        return np.zeros(0, dtype=np.int64), np.zeros((0, 0), dtype=np.float32)
    return np.array([uid for uid, _ in kept], dtype=np.int64), np.stack([v for _, v in kept])


def list_unknown(conn: Connection, limit: int = 100) -> list[Unknown]:
    """Strangers, most recently seen first."""
    rows = fetch_all(
        conn,
        "SELECT id, snapshot_path, first_seen, last_seen, coalesce(seen_count, 1) FROM unknown_faces"
        " ORDER BY coalesce(last_seen, first_seen) DESC, id DESC LIMIT ?",
        (limit,),
    )
    return [Unknown(int(r[0]), r[1], r[2], r[3], int(r[4])) for r in rows]


def find_unknown(conn: Connection, unknown_id: int) -> Unknown | None:
    """One stranger, None when there is none (promoted, dismissed or expired)."""
    rows = fetch_all(
        conn,
        "SELECT id, snapshot_path, first_seen, last_seen, coalesce(seen_count, 1) FROM unknown_faces WHERE id = ?",
        (unknown_id,),
    )
    return None if not rows else Unknown(int(rows[0][0]), rows[0][1], rows[0][2], rows[0][3], int(rows[0][4]))


def delete_unknown(conn: Connection, unknown_id: int) -> bool:
    """Delete a stranger (templates by cascade); False when there was none."""
    conn.execute("DELETE FROM unknown_faces WHERE id = ?", (unknown_id,))
    return bool(conn.changes())


def user_active(conn: Connection, user_id: int) -> bool:
    """False only when the user was disabled."""
    row = conn.execute("SELECT active FROM user_access WHERE user_id = ?", (user_id,)).fetchone()
    return row is None or bool(row[0])


def set_user_active(conn: Connection, user_id: int, active: bool, timestamp: str) -> None:
    """Enable or disable a user at every door."""
    conn.execute(
        "INSERT INTO user_access (user_id, active, changed_at) VALUES (?, ?, ?)"
        " ON CONFLICT(user_id) DO UPDATE SET active = excluded.active, changed_at = excluded.changed_at",
        (user_id, int(active), timestamp),
    )


def forget_unknown(conn: Connection, unknown_id: int) -> None:
    """Delete a stranger (its embeddings cascade); the caller records why, in the same job."""
    conn.execute("DELETE FROM unknown_faces WHERE id = ?", (unknown_id,))


@dataclass(frozen=True)
class DoorLogRow:
    """A door event with the person's name and whether its face event kept a picture."""

    id: int
    timestamp: str
    outcome: str
    reason: str
    user_id: int | None
    name: str | None
    face_event_id: int | None
    has_picture: bool
    score: float | None


def door_log(
    conn: Connection, limit: int = 10, outcome: str = "", since: str = "", until: str = ""
) -> list[DoorLogRow]:
    """Newest door events first, filtered by outcome and by timestamp in [since, until) when
    those are not empty."""
    rows = fetch_all(
        conn,
        "SELECT d.id, d.timestamp, d.outcome, d.reason, d.user_id, u.name, d.face_event_id, f.image_path, d.score"
        " FROM door_events d LEFT JOIN users u ON u.id = d.user_id LEFT JOIN face_events f ON f.id = d.face_event_id"
        " WHERE (? = '' OR d.outcome = ?) AND (? = '' OR d.timestamp >= ?) AND (? = '' OR d.timestamp < ?)"
        " ORDER BY d.timestamp DESC, d.id DESC LIMIT ?",
        (outcome, outcome, since, since, until, until, limit),
    )
    return [
        DoorLogRow(
            int(r[0]), str(r[1]), str(r[2]), str(r[3] or ""), None if r[4] is None else int(r[4]),
            None if r[5] is None else str(r[5]), None if r[6] is None else int(r[6]), bool(r[7]), r[8],
        )
        for r in rows
    ]  # fmt: skip

"""The MQTT outbox (table access only).

Rows are added inside the writer job that records the event they announce, so an event is
published if and only if it was recorded. The outbox is bounded (``[mqtt] outbox_max_rows``):
when full, the oldest unsent ``system`` rows are dropped first, then ``door`` rows; ``access``
rows (granted / denied / unknown_face) are never dropped, and the table grows past the bound
rather than lose one. Sent rows are deleted after ``keep_sent`` rows have accumulated.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from firmware.store.db import Connection

KINDS = ("access", "door", "system")


@dataclass(frozen=True)
class OutboxRow:
    """One message waiting to be sent."""

    seq: int
    event_id: str
    topic: str
    payload: str
    created_at: str


def add(
    conn: Connection,
    event_id: str,
    created_at: str,
    topic: str,
    kind: str,
    payload: dict[str, Any],
    max_rows: int = 100_000,
) -> int:
    """Queue a message; returns its sequence number. Enforces the bound (see module doc)."""
    if kind not in KINDS:
        raise ValueError(f"outbox kind {kind!r} is not one of {KINDS}")
    conn.execute(
        "INSERT INTO outbox (event_id, created_at, topic, kind, payload) VALUES (?, ?, ?, ?, ?)",
        (event_id, created_at, topic, kind, json.dumps(payload, separators=(",", ":"), sort_keys=True)),
    )
    seq = int(conn.last_insert_rowid())
    excess = depth(conn) - max_rows
    for droppable in ("system", "door"):
        if excess <= 0:
            break
        conn.execute(
            "DELETE FROM outbox WHERE seq IN (SELECT seq FROM outbox WHERE sent_at IS NULL AND kind = ?"
            " ORDER BY seq LIMIT ?)",
            (droppable, excess),
        )
        excess -= int(conn.changes())
    return seq


def pending(conn: Connection, after: int = 0, limit: int = 500) -> list[OutboxRow]:
    """Unsent rows with ``seq > after``, oldest first."""
    rows: list[Any] = conn.execute(
        "SELECT seq, event_id, topic, payload, created_at FROM outbox WHERE sent_at IS NULL AND seq > ?"
        " ORDER BY seq LIMIT ?",
        (after, limit),
    ).fetchall()
    return [OutboxRow(int(r[0]), str(r[1]), str(r[2]), str(r[3]), str(r[4])) for r in rows]


def mark_sent(conn: Connection, seqs: list[int], sent_at: str, keep_sent: int = 1000) -> None:
    """Mark rows acknowledged by the broker; prune old sent rows."""
    conn.executemany("UPDATE outbox SET sent_at = ? WHERE seq = ?", [(sent_at, s) for s in seqs])
    conn.execute(
        "DELETE FROM outbox WHERE sent_at IS NOT NULL AND seq < (SELECT coalesce(max(seq), 0) - ? FROM outbox)",
        (keep_sent,),
    )


def depth(conn: Connection) -> int:
    """Unsent rows."""
    row: Any = conn.execute("SELECT count(*) FROM outbox WHERE sent_at IS NULL").fetchone()
    return int(row[0])


def remember_nonce(conn: Connection, nonce: str, seen_at: str, forget_before: str) -> bool:
    """Record a command nonce; False when it was seen before (a replay). Old nonces are pruned."""
    conn.execute("DELETE FROM command_nonces WHERE seen_at < ?", (forget_before,))
    if conn.execute("SELECT 1 FROM command_nonces WHERE nonce = ?", (nonce,)).fetchone() is not None:
        return False
    conn.execute("INSERT INTO command_nonces (nonce, seen_at) VALUES (?, ?)", (nonce, seen_at))
    return True

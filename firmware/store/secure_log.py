"""The secure log's rows (``secure_log``, ``secure_log_checkpoints``): every statement about them.

Sealing, chaining and signing are :mod:`firmware.security.securelog`'s; this module only reads
and writes the rows. ``secure_log`` is append-only (a trigger refuses updates); only a key
rotation rewrites it, through :func:`rewrite`, which lifts the trigger for that transaction.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from firmware.store.db import Connection

_APPEND_ONLY = (
    "CREATE TRIGGER secure_log_no_update BEFORE UPDATE ON secure_log "
    "BEGIN SELECT RAISE(ABORT, 'the secure log is append-only'); END"
)


@dataclass(frozen=True)
class LogRow:
    """One stored entry: ``sealed`` is the encrypted JSON, ``chain`` the MAC linking it to the last."""

    seq: int
    timestamp: str
    event_type: str
    user_id: str | None
    sealed: bytes
    chain: bytes


@dataclass(frozen=True)
class CheckpointRow:
    """A signed chain head."""

    seq: int
    timestamp: str
    chain: bytes
    signature: bytes


def _row(r: Any) -> LogRow:
    return LogRow(int(r[0]), str(r[1]), str(r[2]), None if r[3] is None else str(r[3]), bytes(r[4]), bytes(r[5]))


def last(conn: Connection) -> tuple[int, bytes] | None:
    """The newest entry's sequence number and chain; None for an empty log."""
    row: Any = conn.execute("SELECT seq, chain FROM secure_log ORDER BY seq DESC LIMIT 1").fetchone()
    return None if row is None else (int(row[0]), bytes(row[1]))


def insert(conn: Connection, row: LogRow) -> None:
    """Append an entry."""
    conn.execute(
        "INSERT INTO secure_log (seq, timestamp, event_type, user_id, sealed, chain) VALUES (?, ?, ?, ?, ?, ?)",
        (row.seq, row.timestamp, row.event_type, row.user_id, row.sealed, row.chain),
    )


def rows(
    conn: Connection, user_id: str | None = None, since: str | None = None, until: str | None = None
) -> list[LogRow]:
    """Entries oldest first, filtered by user and by timestamp in [since, until) when given."""
    found: list[Any] = conn.execute(
        "SELECT seq, timestamp, event_type, user_id, sealed, chain FROM secure_log WHERE (? IS NULL OR user_id = ?)"
        " AND (? IS NULL OR timestamp >= ?) AND (? IS NULL OR timestamp < ?) ORDER BY seq",
        (user_id, user_id, since, since, until, until),
    ).fetchall()
    return [_row(r) for r in found]


def first_seq(conn: Connection) -> int | None:
    """The oldest entry still kept (retention removes from the start); None for an empty log."""
    row: Any = conn.execute("SELECT min(seq) FROM secure_log").fetchone()
    return None if row is None or row[0] is None else int(row[0])


def chain_at(conn: Connection, seq: int) -> bytes | None:
    """Entry ``seq``'s chain, None when it is not kept."""
    row: Any = conn.execute("SELECT chain FROM secure_log WHERE seq = ?", (seq,)).fetchone()
    return None if row is None else bytes(row[0])


def checkpoint_chain(conn: Connection, seq: int) -> bytes | None:
    """The chain signed by the checkpoint at ``seq``, None when there is no such checkpoint."""
    row: Any = conn.execute("SELECT chain FROM secure_log_checkpoints WHERE seq = ?", (seq,)).fetchone()
    return None if row is None else bytes(row[0])


def checkpoints(conn: Connection) -> list[CheckpointRow]:
    """Every checkpoint, oldest first."""
    found: list[Any] = conn.execute(
        "SELECT seq, timestamp, chain, signature FROM secure_log_checkpoints ORDER BY seq"
    ).fetchall()
    return [CheckpointRow(int(r[0]), str(r[1]), bytes(r[2]), bytes(r[3])) for r in found]


def put_checkpoint(conn: Connection, row: CheckpointRow) -> None:
    """Store a checkpoint (replacing one at the same seq: a re-signed head)."""
    conn.execute(
        "INSERT OR REPLACE INTO secure_log_checkpoints (seq, timestamp, chain, signature) VALUES (?, ?, ?, ?)",
        (row.seq, row.timestamp, row.chain, row.signature),
    )


def rewrite(conn: Connection, entries: dict[int, tuple[bytes, bytes]]) -> None:
    """Replace entries' ``(sealed, chain)`` by seq, inside the caller's transaction (a key
    rotation re-seals and re-chains the whole log). The append-only trigger is lifted for this
    and put back before the transaction commits, so no other writer ever sees it missing."""
    conn.execute("DROP TRIGGER IF EXISTS secure_log_no_update")
    for seq, (sealed, chain) in entries.items():
        conn.execute("UPDATE secure_log SET sealed = ?, chain = ? WHERE seq = ?", (sealed, chain, seq))
    conn.execute(_APPEND_ONLY)


def cut_before(conn: Connection, cutoff: str) -> int:
    """Delete the entries up to the newest checkpoint whose entry is older than ``cutoff`` (ISO
    timestamp), so what remains is still anchored by a signed head; returns how many."""
    row: Any = conn.execute(
        "SELECT max(c.seq) FROM secure_log_checkpoints c JOIN secure_log l ON l.seq = c.seq WHERE l.timestamp < ?",
        (cutoff,),
    ).fetchone()
    if row is None or row[0] is None:
        return 0
    conn.execute("DELETE FROM secure_log WHERE seq <= ?", (int(row[0]),))
    return int(conn.changes())


def count(conn: Connection) -> int:
    """Entries kept."""
    row: Any = conn.execute("SELECT count(*) FROM secure_log").fetchone()
    return int(row[0])


def counter(conn: Connection) -> int | None:
    """The highest sequence number ever written (``secure_log_head``; None before migration 12)."""
    try:
        row: Any = conn.execute("SELECT seq FROM secure_log_head WHERE id = 1").fetchone()
    except Exception:  # noqa: BLE001 - a database from before the counter existed
        return None
    return None if row is None else int(row[0])

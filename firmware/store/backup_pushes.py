"""Which backup archives reached the push target (``backup_pushes``): an archive counts as home
only once the target acknowledged it, and only then may rotation delete the local copy."""

from __future__ import annotations

from firmware.platform.clock import now_iso
from firmware.store.db import Connection, fetch_all


def record_push(conn: Connection, name: str, status: str, attempts: int, error: str) -> None:
    """Record a push outcome for archive ``name`` (attempts add up across runs)."""
    conn.execute(
        "INSERT INTO backup_pushes (name, status, attempts, last_error, updated_at) VALUES (?, ?, ?, ?, ?)"
        " ON CONFLICT(name) DO UPDATE SET status = excluded.status, attempts = backup_pushes.attempts +"
        " excluded.attempts, last_error = excluded.last_error, updated_at = excluded.updated_at",
        (name, status, attempts, error or None, now_iso()),
    )


def pushed(conn: Connection) -> set[str]:
    """Names of the archives the push target has acknowledged."""
    return {str(r[0]) for r in fetch_all(conn, "SELECT name FROM backup_pushes WHERE status = 'pushed'")}

"""Database copies (backups, archives, a restore's staged copy): the statements run on a copy's
file rather than on the live database. Each opens the copy, does one thing and closes it."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from firmware.errors import StoreError
from firmware.store.db import open_plain
from firmware.store.keycheck import record_fingerprint


def integrity_ok(path: Path) -> bool:
    """Whether the copy opens and passes SQLite's integrity check."""
    try:
        conn = open_plain(path)
    except StoreError:
        return False
    try:
        return [r[0] for r in conn.execute("PRAGMA integrity_check")] == ["ok"]
    except Exception:  # noqa: BLE001 - any failure means "not a good copy"
        return False
    finally:
        conn.close()


def drop_user_keys(path: Path, user_id: int | None = None) -> bool:
    """Delete the per-user keys (one user's, or all) from a copy, overwriting them and vacuuming
    so no page keeps them; returns whether any were there."""
    conn = open_plain(path, readonly=False)
    try:
        conn.execute("PRAGMA secure_delete=ON")
        if user_id is None:
            conn.execute("DELETE FROM user_keys")
        else:
            conn.execute("DELETE FROM user_keys WHERE user_id = ?", (user_id,))
        changed = bool(conn.changes())
        if changed or user_id is None:
            conn.execute("VACUUM")
        return changed
    finally:
        conn.close()


def sealed_with(path: Path) -> str | None:
    """The data key fingerprint a copy records (``key_epoch``), if any."""
    try:
        conn = open_plain(path)
    except StoreError:
        return None
    try:
        row = conn.execute("SELECT fingerprint FROM key_epoch WHERE id = 1").fetchone()
        return None if row is None else str(row[0])
    except Exception:  # noqa: BLE001 - a copy from before key_epoch existed
        return None
    finally:
        conn.close()


def carry_keys(current: Path, restored: Path) -> int:
    """Copy the per-user keys from the ``current`` database into a ``restored`` copy, for the
    users it holds; returns how many."""
    if not current.exists():
        return 0
    conn = open_plain(restored, readonly=False)
    try:
        conn.execute("ATTACH DATABASE ? AS cur", (str(current),))
        conn.execute(
            "INSERT OR IGNORE INTO main.user_keys SELECT k.* FROM cur.user_keys k JOIN main.users u ON u.id = k.user_id"
        )
        count = int(conn.changes())
        conn.execute("DETACH DATABASE cur")
        return count
    except Exception:  # noqa: BLE001 - a damaged current database has no keys to give
        return 0
    finally:
        conn.close()


def users_with_keys(path: Path) -> set[int]:
    """The users whose key a database holds; empty when it is missing or damaged."""
    if not path.exists():
        return set()
    try:
        conn = open_plain(path)
    except Exception:  # noqa: BLE001 - a damaged database has no keys to give
        return set()
    try:
        return {int(r[0]) for r in conn.execute("SELECT user_id FROM user_keys")}
    except Exception:  # noqa: BLE001
        return set()
    finally:
        conn.close()


@dataclass(frozen=True)
class CopySummary:
    """What a staged copy holds, for planning its restore."""

    users: list[tuple[int, str]]
    templated: set[int]
    keyed: set[int]
    log_entries: int
    log_head: tuple[int, bytes] | None


def summary(path: Path) -> CopySummary:
    """Users (id, name), who has templates, whose keys it carries, and its secure log."""
    conn = open_plain(path)
    try:
        users = [(int(r[0]), str(r[1])) for r in conn.execute("SELECT id, name FROM users ORDER BY id")]
        templated = {
            int(r[0])
            for r in conn.execute(
                "SELECT user_id FROM face_encodings UNION SELECT id FROM users WHERE face_encoding IS NOT NULL"
            )
        }
        keyed = {int(r[0]) for r in conn.execute("SELECT user_id FROM user_keys")}
        entries: Any = conn.execute("SELECT count(*) FROM secure_log").fetchone()
        head: Any = conn.execute("SELECT seq, chain FROM secure_log ORDER BY seq DESC LIMIT 1").fetchone()
    finally:
        conn.close()
    return CopySummary(
        users, templated, keyed, int(entries[0]), None if head is None else (int(head[0]), bytes(head[1]))
    )


def leave_behind(path: Path, fingerprint: str) -> None:
    """A copy from another device: drop what cannot open here (strangers' templates, the secure
    log and its checkpoints), restart its log counter, and record this device's key."""
    conn = open_plain(path, readonly=False)
    try:
        conn.execute("PRAGMA secure_delete=ON")
        with conn:
            conn.execute("DELETE FROM unknown_encodings")
            conn.execute("DELETE FROM secure_log")
            conn.execute("DELETE FROM secure_log_checkpoints")
            conn.execute("DROP TRIGGER IF EXISTS secure_log_head_only_grows")
            conn.execute("UPDATE secure_log_head SET seq = 0")
            conn.execute(
                "CREATE TRIGGER secure_log_head_only_grows BEFORE UPDATE ON secure_log_head WHEN NEW.seq < OLD.seq "
                "BEGIN SELECT RAISE(ABORT, 'the secure log head only grows'); END"
            )
            record_fingerprint(conn, fingerprint)
    finally:
        conn.close()

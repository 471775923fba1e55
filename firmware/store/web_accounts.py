"""The console accounts' rows (``web_accounts``). Password rules, hashing and the lock-out policy
are :mod:`firmware.security.accounts`'s; this module never sees a password, only its hash."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from firmware.errors import InvalidInputError, NotFoundError
from firmware.platform.clock import now_iso
from firmware.store.db import Connection, fetch_all, is_constraint_error

_COLUMNS = "id, name, role, failed_logins, locked_until, created_at, created_by, last_login_at"


@dataclass(frozen=True)
class Account:
    """A console account (never its password hash)."""

    id: int
    name: str
    role: str
    failed_logins: int
    locked_until: str | None
    created_at: str
    created_by: str
    last_login_at: str | None

    @property
    def is_admin(self) -> bool:
        """Admins act; viewers only look."""
        return self.role == "admin"


def _account(row: Any) -> Account:
    return Account(int(row[0]), str(row[1]), str(row[2]), int(row[3]), row[4], str(row[5]), str(row[6]), row[7])


def insert_account(conn: Connection, name: str, role: str, password_hash: str, by: str) -> int:
    """Add an account row (a writer job); returns its id.

    Raises:
        InvalidInputError: the name is taken.
    """
    stamp = now_iso()
    try:
        conn.execute(
            "INSERT INTO web_accounts (name, role, password_hash, created_at, created_by, password_changed_at)"
            " VALUES (?, ?, ?, ?, ?, ?)",
            (name, role, password_hash, stamp, by, stamp),
        )
    except Exception as err:
        if is_constraint_error(err):
            raise InvalidInputError(f"an account named {name!r} already exists") from err
        raise
    return int(conn.last_insert_rowid())


def list_accounts(conn: Connection) -> list[Account]:
    """All accounts by name."""
    return [_account(r) for r in fetch_all(conn, f"SELECT {_COLUMNS} FROM web_accounts ORDER BY name")]  # noqa: S608


def find(conn: Connection, ref: str) -> Account:
    """An account by name (or numeric id).

    Raises:
        NotFoundError: no such account.
    """
    column = "id" if ref.isdigit() else "name"
    rows = fetch_all(conn, f"SELECT {_COLUMNS} FROM web_accounts WHERE {column} = ?", (ref,))  # noqa: S608
    if not rows:
        raise NotFoundError(f"no console account {ref!r}")
    return _account(rows[0])


def with_hash(conn: Connection, name: str) -> tuple[Account, str] | None:
    """The account named ``name`` and its stored password hash; None when there is none."""
    rows = fetch_all(conn, f"SELECT {_COLUMNS}, password_hash FROM web_accounts WHERE name = ?", (name,))  # noqa: S608
    return None if not rows else (_account(rows[0]), str(rows[0][8]))


def set_password_hash(conn: Connection, name: str, password_hash: str) -> None:
    """Replace an account's password hash and clear its lock-out. Raises NotFoundError."""
    conn.execute(
        "UPDATE web_accounts SET password_hash = ?, password_changed_at = ?, failed_logins = 0,"
        " locked_until = NULL WHERE name = ?",
        (password_hash, now_iso(), name),
    )
    if not conn.changes():
        raise NotFoundError(f"no console account {name!r}")


def unlock(conn: Connection, name: str) -> None:
    """Clear a lock-out (a writer job). Raises NotFoundError."""
    conn.execute("UPDATE web_accounts SET failed_logins = 0, locked_until = NULL WHERE name = ?", (name,))
    if not conn.changes():
        raise NotFoundError(f"no console account {name!r}")


def admin_count(conn: Connection) -> int:
    """How many accounts are admins."""
    return int(fetch_all(conn, "SELECT count(*) FROM web_accounts WHERE role = 'admin'")[0][0])


def delete_account(conn: Connection, account_id: int) -> None:
    """Delete one account row."""
    conn.execute("DELETE FROM web_accounts WHERE id = ?", (account_id,))


def logged_in(conn: Connection, account_id: int, when: str) -> None:
    """A successful login at ``when``: failures and lock-out cleared."""
    conn.execute(
        "UPDATE web_accounts SET failed_logins = 0, locked_until = NULL, last_login_at = ? WHERE id = ?",
        (when, account_id),
    )


def count_failure(conn: Connection, account_id: int) -> int:
    """One more failed login in a row; returns the count."""
    conn.execute("UPDATE web_accounts SET failed_logins = failed_logins + 1 WHERE id = ?", (account_id,))
    return int(fetch_all(conn, "SELECT failed_logins FROM web_accounts WHERE id = ?", (account_id,))[0][0])


def lock(conn: Connection, account_id: int, until: str) -> None:
    """Lock an account until ``until`` (ISO timestamp); the failure count starts again."""
    conn.execute("UPDATE web_accounts SET failed_logins = 0, locked_until = ? WHERE id = ?", (until, account_id))

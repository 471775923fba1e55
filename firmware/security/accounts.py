"""Console accounts (``web_accounts``): admin and viewer, scrypt passwords, lock-out.

There is no default account and no default password: the first admin comes from provisioning
(``[web] admin_name`` / ``admin_password`` in the settings, hashed there and never stored) or
from ``occur web add-admin``. Password hashes are computed outside the single writer (each
takes a tenth of a second or more), then stored in a short write.

Lock-out: ``lockout_failures`` wrong passwords in a row lock the account for ``lockout_s``
seconds; the count and the lock live in the database, so restarting the service does not
reset them. While locked, even the right password is refused.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from firmware.errors import InvalidInputError, NotFoundError
from firmware.platform.clock import now_iso, now_utc, parse_iso, to_iso
from firmware.security.passwords import burn_equal_time, hash_password, verify_password
from firmware.store.db import Connection, fetch_all, is_constraint_error
from firmware.store.store import Store

ROLES = ("admin", "viewer")
MIN_PASSWORD = 10
MAX_PASSWORD = 1024
_NAME = re.compile(r"[A-Za-z0-9_.@-]{1,64}")
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


def validate(name: str, role: str, password: str) -> None:
    """Check a new account's fields.

    Raises:
        InvalidInputError: naming the field.
    """
    if not _NAME.fullmatch(name or ""):
        raise InvalidInputError("account name must be 1-64 letters, digits, '_', '.', '@' or '-'")
    if role not in ROLES:
        raise InvalidInputError(f"role must be one of {', '.join(ROLES)}")
    check_password(name, password)


def check_password(name: str, password: str) -> None:
    """A password must be 10-1024 characters and not the account name.

    Raises:
        InvalidInputError: the rule it breaks.
    """
    if not isinstance(password, str) or len(password) < MIN_PASSWORD:
        raise InvalidInputError(f"password must be at least {MIN_PASSWORD} characters")
    if len(password) > MAX_PASSWORD:
        raise InvalidInputError(f"password must be at most {MAX_PASSWORD} characters")
    if password.strip().lower() == name.strip().lower():
        raise InvalidInputError("password must not be the account name")


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


def create(store: Store, name: str, role: str, password: str, by: str) -> Account:
    """Validate, hash (outside the writer) and store a new account.

    Raises:
        InvalidInputError: bad field or a taken name (nothing stored).
    """
    validate(name, role, password)
    hashed = hash_password(password)
    account_id = store.write(lambda c: insert_account(c, name, role, hashed, by))
    with store.reader() as conn:
        return find(conn, str(account_id))


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


def set_password(store: Store, name: str, password: str) -> None:
    """Replace an account's password; also clears its lock-out.

    Raises:
        NotFoundError, InvalidInputError.
    """
    check_password(name, password)
    hashed = hash_password(password)

    def job(conn: Connection) -> None:
        conn.execute(
            "UPDATE web_accounts SET password_hash = ?, password_changed_at = ?, failed_logins = 0,"
            " locked_until = NULL WHERE name = ?",
            (hashed, now_iso(), name),
        )
        if not conn.changes():
            raise NotFoundError(f"no console account {name!r}")

    store.write(job)


def unlock(conn: Connection, name: str) -> None:
    """Clear a lock-out (a writer job). Raises NotFoundError."""
    conn.execute("UPDATE web_accounts SET failed_logins = 0, locked_until = NULL WHERE name = ?", (name,))
    if not conn.changes():
        raise NotFoundError(f"no console account {name!r}")


def remove(conn: Connection, name: str) -> Account:
    """Delete an account (a writer job); the last admin cannot be removed.

    Raises:
        NotFoundError, InvalidInputError.
    """
    account = find(conn, name)
    admins = fetch_all(conn, "SELECT count(*) FROM web_accounts WHERE role = 'admin'")[0][0]
    if account.is_admin and int(admins) <= 1:
        raise InvalidInputError("the last admin account cannot be removed")
    conn.execute("DELETE FROM web_accounts WHERE id = ?", (account.id,))
    return account


@dataclass(frozen=True)
class LoginResult:
    """A login attempt: the account when it succeeded; else why not (``bad`` or ``locked``)."""

    account: Account | None
    outcome: str  # ok | bad | locked
    locked_until: str | None = None


def login(store: Store, name: str, password: str, failures: int, lockout_s: float) -> LoginResult:
    """Check a name and password, counting failures and locking the account after ``failures``
    in a row. A name that is no account costs the same time and says ``bad``."""
    with store.reader() as conn:
        rows = fetch_all(conn, f"SELECT {_COLUMNS}, password_hash FROM web_accounts WHERE name = ?", (name,))  # noqa: S608
    if not rows or len(password) > MAX_PASSWORD:
        burn_equal_time(password[:MAX_PASSWORD])
        return LoginResult(None, "bad")
    account, stored = _account(rows[0]), str(rows[0][8])
    now = now_utc()
    if account.locked_until and parse_iso(account.locked_until) > now:
        return LoginResult(None, "locked", account.locked_until)
    if verify_password(password, stored):
        store.write(
            lambda c: c.execute(
                "UPDATE web_accounts SET failed_logins = 0, locked_until = NULL, last_login_at = ? WHERE id = ?",
                (to_iso(now), account.id),
            )
        )
        return LoginResult(account, "ok")
    until = to_iso(now + timedelta(seconds=lockout_s))

    def fail(conn: Connection) -> str | None:
        conn.execute("UPDATE web_accounts SET failed_logins = failed_logins + 1 WHERE id = ?", (account.id,))
        count = int(fetch_all(conn, "SELECT failed_logins FROM web_accounts WHERE id = ?", (account.id,))[0][0])
        if count < failures:
            return None
        conn.execute("UPDATE web_accounts SET failed_logins = 0, locked_until = ? WHERE id = ?", (until, account.id))
        return until

    locked = store.write(fail)
    return LoginResult(None, "locked" if locked else "bad", locked)

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

from firmware.errors import InvalidInputError
from firmware.platform.clock import now_utc, parse_iso, to_iso
from firmware.security.passwords import burn_equal_time, hash_password, verify_password
from firmware.store import web_accounts as rows
from firmware.store.db import Connection
from firmware.store.store import Store
from firmware.store.web_accounts import Account

ROLES = ("admin", "viewer")
MIN_PASSWORD = 10
MAX_PASSWORD = 1024
_NAME = re.compile(r"[A-Za-z0-9_.@-]{1,64}")


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


def create(store: Store, name: str, role: str, password: str, by: str) -> Account:
    """Validate, hash (outside the writer) and store a new account.

    Raises:
        InvalidInputError: bad field or a taken name (nothing stored).
    """
    validate(name, role, password)
    hashed = hash_password(password)
    account_id = store.write(lambda c: rows.insert_account(c, name, role, hashed, by))
    with store.reader() as conn:
        return rows.find(conn, str(account_id))


def set_password(store: Store, name: str, password: str) -> None:
    """Replace an account's password; also clears its lock-out.

    Raises:
        NotFoundError, InvalidInputError.
    """
    check_password(name, password)
    hashed = hash_password(password)

    store.write(lambda c: rows.set_password_hash(c, name, hashed))


def remove(conn: Connection, name: str) -> Account:
    """Delete an account (a writer job); the last admin cannot be removed.

    Raises:
        NotFoundError, InvalidInputError.
    """
    account = rows.find(conn, name)
    if account.is_admin and rows.admin_count(conn) <= 1:
        raise InvalidInputError("the last admin account cannot be removed")
    rows.delete_account(conn, account.id)
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
        found = rows.with_hash(conn, name)
    if found is None or len(password) > MAX_PASSWORD:
        burn_equal_time(password[:MAX_PASSWORD])
        return LoginResult(None, "bad")
    account, stored = found
    now = now_utc()
    if account.locked_until and parse_iso(account.locked_until) > now:
        return LoginResult(None, "locked", account.locked_until)
    if verify_password(password, stored):
        store.write(lambda c: rows.logged_in(c, account.id, to_iso(now)))
        return LoginResult(account, "ok")
    until = to_iso(now + timedelta(seconds=lockout_s))

    def fail(conn: Connection) -> str | None:
        if rows.count_failure(conn, account.id) < failures:
            return None
        rows.lock(conn, account.id, until)
        return until

    locked = store.write(fail)
    return LoginResult(None, "locked" if locked else "bad", locked)

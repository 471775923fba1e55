"""Users of the original ``users`` table: add, find, list, remove.

The table keeps the original columns; ``face_encoding`` is left as the original system wrote it
(imported rows) and is not used for new users, whose templates live in per-model encoding
records (see the vision and security work).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from firmware.clock import now_iso
from firmware.errors import AmbiguousError, InvalidInputError, NotFoundError
from firmware.store.db import Connection, is_constraint_error

_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")
_ROLE = re.compile(r"[A-Za-z0-9_.-]{1,64}")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


@dataclass(frozen=True)
class User:
    """A row of ``users`` (without the encoding bytes)."""

    id: int
    name: str
    email: str | None
    role: str | None
    created_at: str | None
    has_face_encoding: bool


def validate_user(name: object, email: object, role: object) -> None:
    """Check a new user's fields.

    Raises:
        InvalidInputError: naming the bad field.
    """
    if not isinstance(name, str) or not name.strip() or len(name) > 200 or _CONTROL.search(name):
        raise InvalidInputError("name must be 1-200 printable characters")
    if name.strip().isdigit():
        raise InvalidInputError("name must not be a number (numbers refer to user ids)")
    if email is not None and (not isinstance(email, str) or not _EMAIL.fullmatch(email) or len(email) > 254):
        raise InvalidInputError(f"email {email!r} is not an email address")
    if role is not None and (not isinstance(role, str) or not _ROLE.fullmatch(role)):
        raise InvalidInputError("role must be 1-64 letters, digits, '_', '.' or '-'")


def add_user(conn: Connection, name: str, email: str | None = None, role: str | None = None) -> int:
    """Insert a user (validated first); returns the new id. Runs inside a writer job.

    Raises:
        InvalidInputError: bad field, or the email is already used.
    """
    validate_user(name, email, role)
    try:
        conn.execute(
            "INSERT INTO users (name, email, role, created_at) VALUES (?, ?, ?, ?)",
            (name.strip(), email, role, now_iso()),
        )
    except Exception as err:
        if is_constraint_error(err):
            raise InvalidInputError(f"email {email!r} is already used by another user") from err
        raise
    return int(conn.last_insert_rowid())


_COLUMNS = "id, name, email, role, created_at, face_encoding IS NOT NULL"


def _user(row: tuple[object, ...]) -> User:
    uid, name, email, role, created, has_encoding = row
    return User(
        int(uid),  # type: ignore[call-overload]
        str(name),
        None if email is None else str(email),
        None if role is None else str(role),
        None if created is None else str(created),
        bool(has_encoding),
    )


def list_users(conn: Connection) -> list[User]:
    """All users in id order."""
    return [_user(row) for row in conn.execute(f"SELECT {_COLUMNS} FROM users ORDER BY id")]  # noqa: S608


def find_user(conn: Connection, ref: str | int) -> User:
    """Find a user by numeric id or by exact name.

    Raises:
        NotFoundError: no such user.
        AmbiguousError: several users share the name; use the id.
    """
    if isinstance(ref, int) or str(ref).strip().isdigit():
        rows = list(conn.execute(f"SELECT {_COLUMNS} FROM users WHERE id = ?", (int(ref),)))  # noqa: S608
    else:
        rows = list(conn.execute(f"SELECT {_COLUMNS} FROM users WHERE name = ? ORDER BY id", (str(ref).strip(),)))  # noqa: S608
    if not rows:
        raise NotFoundError(f"no user {ref!r}")
    if len(rows) > 1:
        ids = ", ".join(str(r[0]) for r in rows)
        raise AmbiguousError(f"{len(rows)} users are named {ref!r} (ids {ids}); give the id")
    return _user(rows[0])


def remove_user(conn: Connection, ref: str | int, delete_attendance: bool = False) -> tuple[User, int]:
    """Delete a user. Runs inside a writer job.

    Attendance rows reference the user (a foreign key), so a user with attendance history is
    only removed together with it when ``delete_attendance`` is true; otherwise the call is
    refused and nothing changes. Face events keep their ``user_id`` text.

    Returns:
        The removed user and the number of attendance rows deleted.

    Raises:
        NotFoundError, AmbiguousError: see :func:`find_user`.
        InvalidInputError: attendance history exists and ``delete_attendance`` is false.
    """
    user = find_user(conn, ref)
    row = conn.execute("SELECT count(*) FROM attendance_logs WHERE user_id = ?", (user.id,)).fetchone()
    history = int(row[0]) if row else 0
    if history and not delete_attendance:
        raise InvalidInputError(
            f"user {user.id} ({user.name}) has {history} attendance records; "
            "pass --delete-attendance to remove them too"
        )
    conn.execute("DELETE FROM attendance_logs WHERE user_id = ?", (user.id,))
    conn.execute("DELETE FROM users WHERE id = ?", (user.id,))
    return user, history


def set_role(conn: Connection, user_id: int, role: str | None) -> None:
    """Change a user's role (a writer job); ``None`` clears it.

    Raises:
        InvalidInputError: a malformed role. NotFoundError: no such user.
    """
    if role is not None and (not isinstance(role, str) or not _ROLE.fullmatch(role)):
        raise InvalidInputError("role must be 1-64 letters, digits, '_', '.' or '-'")
    conn.execute("UPDATE users SET role = ? WHERE id = ?", (role, user_id))
    if not conn.changes():
        raise NotFoundError(f"no user {user_id}")

"""Users of the original ``users`` table: add, find, list, remove.

The table keeps the original columns; ``face_encoding`` is left as the original system wrote it
(imported rows, sealed) and is not used for new users, whose templates live in per-model
encoding records (see the vision and security work).

Names are how operators address people, so they follow rules a number cannot break:

- a reference made only of ASCII digits is a user id, always; a name must therefore contain a
  letter (``123``, ``²`` or ``٣٤`` would be mistaken for, or confused with, an id);
- a name holds no control, format or unassigned character (NUL, a right-to-left override, a
  zero-width space), which would hide or reorder what an operator or an auditor reads;
- names are stored NFC and are unique case-insensitively (compared NFKC-casefolded, spaces
  collapsed), so ``Amy``, ``amy`` and ``ＡＭＹ`` are one person. Databases from before may hold
  duplicates: those are addressed by id, and a name that matches several is refused with the ids.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from typing import Any

from firmware.errors import AmbiguousError, InvalidInputError, NotFoundError
from firmware.platform.clock import now_iso
from firmware.store.db import Connection, is_constraint_error

_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")
_ROLE = re.compile(r"[A-Za-z0-9_.-]{1,64}")
_ID = re.compile(r"[0-9]+")
_HIDDEN = {"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"}
MAX_ID = 2**63 - 1


@dataclass(frozen=True)
class User:
    """A row of ``users`` (without the encoding bytes), with its door access state."""

    id: int
    name: str
    email: str | None
    role: str | None
    created_at: str | None
    has_face_encoding: bool
    active: bool = True


def is_id_ref(ref: object) -> bool:
    """True when ``ref`` names a user by id: an int, or text of ASCII digits only."""
    if isinstance(ref, bool):
        return False
    return isinstance(ref, int) or (isinstance(ref, str) and _ID.fullmatch(ref.strip()) is not None)


def normal_name(name: str) -> str:
    """The stored form of a name: NFC, without surrounding spaces."""
    return unicodedata.normalize("NFC", name).strip()


def name_key(name: str) -> str:
    """What makes two names the same person's: NFKC, case-folded, spaces collapsed."""
    return " ".join(unicodedata.normalize("NFKC", name).casefold().split())


def name_problem(name: object) -> str | None:
    """Why ``name`` cannot be a user's name, or None when it can."""
    if not isinstance(name, str):
        return "name must be text"
    text = normal_name(name)
    if not text or len(text) > 200:
        return "name must be 1-200 printable characters"
    for ch in text:
        if unicodedata.category(ch) in _HIDDEN:
            label = unicodedata.name(ch, "a control or unassigned character")
            return f"name contains U+{ord(ch):04X} ({label}), which hides or reorders what people read"
    if not any(unicodedata.category(ch).startswith("L") for ch in text):
        return "name must contain a letter: a name that is a number could not be told from a user id"
    return None


def validate_fields(email: object, role: object) -> None:
    """Check a user's email and role.

    Raises:
        InvalidInputError: naming the bad field.
    """
    if email is not None and (not isinstance(email, str) or not _EMAIL.fullmatch(email) or len(email) > 254):
        raise InvalidInputError(f"email {email!r} is not an email address")
    if role is not None and (not isinstance(role, str) or not _ROLE.fullmatch(role)):
        raise InvalidInputError("role must be 1-64 letters, digits, '_', '.' or '-'")


def validate_user(name: object, email: object, role: object) -> None:
    """Check a new user's fields.

    Raises:
        InvalidInputError: naming the bad field.
    """
    problem = name_problem(name)
    if problem is not None:
        raise InvalidInputError(problem)
    validate_fields(email, role)


def _row_names(conn: Connection) -> list[tuple[int, str]]:
    return [(int(r[0]), str(r[1])) for r in conn.execute("SELECT id, name FROM users ORDER BY id")]


def name_taken(conn: Connection, name: str) -> tuple[int, str] | None:
    """The (id, name) of a user whose name is the same as ``name`` (see :func:`name_key`)."""
    key = name_key(name)
    return next(((uid, n) for uid, n in _row_names(conn) if name_key(n) == key), None)


def add_user(conn: Connection, name: str, email: str | None = None, role: str | None = None) -> int:
    """Insert a user (validated first); returns the new id. Runs inside a writer job, so the
    uniqueness check and the insert are one step.

    Raises:
        InvalidInputError: bad field, a name already used (case-insensitively), or the email is
            already used.
    """
    validate_user(name, email, role)
    taken = name_taken(conn, name)
    if taken is not None:
        raise InvalidInputError(
            f"a user named {taken[1]!r} already exists (id {taken[0]}): refer to that user by id, "
            "or give the new person a name that tells them apart"
        )
    try:
        conn.execute(
            "INSERT INTO users (name, email, role, created_at) VALUES (?, ?, ?, ?)",
            (normal_name(name), email, role, now_iso()),
        )
    except Exception as err:
        if is_constraint_error(err):
            raise InvalidInputError(f"email {email!r} is already used by another user") from err
        raise
    return int(conn.last_insert_rowid())


_SELECT = (
    "SELECT u.id, u.name, u.email, u.role, u.created_at, u.face_encoding IS NOT NULL, coalesce(a.active, 1)"
    " FROM users u LEFT JOIN user_access a ON a.user_id = u.id"
)


def _user(row: Any) -> User:
    uid, name, email, role, created, has_encoding, active = row
    return User(
        int(uid),
        str(name),
        None if email is None else str(email),
        None if role is None else str(role),
        None if created is None else str(created),
        bool(has_encoding),
        bool(active),
    )


def list_users(conn: Connection) -> list[User]:
    """All users in id order."""
    return [_user(row) for row in conn.execute(f"{_SELECT} ORDER BY u.id")]


def find_user(conn: Connection, ref: str | int) -> User:
    """Find a user by id (an int, or ASCII digits) or by name (case-insensitively).

    Raises:
        NotFoundError: no such user (including any reference that is neither).
        AmbiguousError: several users from before share the name; use the id.
    """
    if is_id_ref(ref):
        uid = int(ref)
        rows = list(conn.execute(f"{_SELECT} WHERE u.id = ?", (uid,))) if uid <= MAX_ID else []
    elif isinstance(ref, str) and ref.strip():
        key = name_key(ref)
        ids = [uid for uid, name in _row_names(conn) if name_key(name) == key]
        rows = [r for uid in ids for r in conn.execute(f"{_SELECT} WHERE u.id = ?", (uid,))]
    else:
        rows = []
    if not rows:
        raise NotFoundError(f"no user {ref!r}")
    if len(rows) > 1:
        ids_text = ", ".join(str(r[0]) for r in rows)
        raise AmbiguousError(f"{len(rows)} users are named {ref!r} (ids {ids_text}); give the id")
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


def user_names(conn: Connection) -> dict[int, str]:
    """Every user's name by id."""
    rows: list[Any] = conn.execute("SELECT id, name FROM users").fetchall()
    return {int(i): str(n) for i, n in rows}


def record_consent(conn: Connection, user_id: int, given_by: str, text_version: str) -> None:
    """Record that ``user_id`` consented to the biometric processing, under consent text
    ``text_version``, as collected by ``given_by``."""
    conn.execute(
        "INSERT INTO consents (user_id, given_by, text_version, recorded_at) VALUES (?, ?, ?, ?)",
        (user_id, given_by, text_version, now_iso()),
    )

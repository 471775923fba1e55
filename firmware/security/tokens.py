"""REST API tokens (``api_tokens``) for building systems and Home Assistant.

A token is ``occur_`` + 43 characters of URL-safe base64 (256 random bits), shown once when it
is made; only its SHA-256 digest is stored (a KDF adds nothing for a secret that long). Each
token carries scopes: ``read`` (door state, events), ``unlock`` (open the door) and ``enrol``
(add a person from photos). A revoked token stays listed, refused.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from typing import Any

from firmware.errors import InvalidInputError, NotFoundError
from firmware.platform.clock import now_iso
from firmware.store.db import Connection, fetch_all, is_constraint_error

SCOPES = ("read", "unlock", "enrol")
PREFIX = "occur_"
_NAME = re.compile(r"[A-Za-z0-9_.@-]{1,64}")
_COLUMNS = "id, name, scopes, created_at, created_by, last_used_at, revoked_at"


@dataclass(frozen=True)
class ApiToken:
    """A token's record (never the token itself)."""

    id: int
    name: str
    scopes: tuple[str, ...]
    created_at: str
    created_by: str
    last_used_at: str | None
    revoked_at: str | None


def _token(row: Any) -> ApiToken:
    return ApiToken(int(row[0]), str(row[1]), tuple(str(row[2]).split(",")), str(row[3]), str(row[4]), row[5], row[6])


def digest(token: str) -> bytes:
    """What is stored and looked up."""
    return hashlib.sha256(token.encode("utf-8", "replace")).digest()


def parse_scopes(text: str | list[str] | tuple[str, ...]) -> tuple[str, ...]:
    """Scopes from ``"read,unlock"`` or a list, in canonical order.

    Raises:
        InvalidInputError: empty or unknown scope.
    """
    items = [s.strip() for s in (text.split(",") if isinstance(text, str) else text) if s.strip()]
    unknown = [s for s in items if s not in SCOPES]
    if unknown or not items:
        raise InvalidInputError(
            f"scopes must be one or more of {', '.join(SCOPES)}; got {', '.join(unknown) or 'none'}"
        )
    return tuple(s for s in SCOPES if s in items)


def insert_token(conn: Connection, name: str, scopes: tuple[str, ...], by: str) -> tuple[str, int]:
    """Make a token (a writer job); returns the token, to show once, and its id.

    Raises:
        InvalidInputError: bad or taken name.
    """
    if not _NAME.fullmatch(name or ""):
        raise InvalidInputError("token name must be 1-64 letters, digits, '_', '.', '@' or '-'")
    token = PREFIX + secrets.token_urlsafe(32)
    try:
        conn.execute(
            "INSERT INTO api_tokens (name, digest, scopes, created_at, created_by) VALUES (?, ?, ?, ?, ?)",
            (name, digest(token), ",".join(scopes), now_iso(), by),
        )
    except Exception as err:
        if is_constraint_error(err):
            raise InvalidInputError(f"a token named {name!r} already exists") from err
        raise
    return token, int(conn.last_insert_rowid())


def authenticate(conn: Connection, token: str) -> ApiToken | None:
    """The live token record for ``token``, or None (unknown, malformed or revoked)."""
    if not token.startswith(PREFIX) or len(token) > 128:
        return None
    rows = fetch_all(conn, f"SELECT {_COLUMNS} FROM api_tokens WHERE digest = ?", (digest(token),))  # noqa: S608
    if not rows or rows[0][6] is not None:
        return None
    return _token(rows[0])


def list_tokens(conn: Connection) -> list[ApiToken]:
    """Every token, live and revoked."""
    return [_token(r) for r in fetch_all(conn, f"SELECT {_COLUMNS} FROM api_tokens ORDER BY name")]  # noqa: S608


def revoke(conn: Connection, name: str) -> None:
    """Revoke a token (a writer job). Raises NotFoundError."""
    conn.execute("UPDATE api_tokens SET revoked_at = ? WHERE name = ? AND revoked_at IS NULL", (now_iso(), name))
    if not conn.changes():
        raise NotFoundError(f"no live API token {name!r}")


def touch(conn: Connection, token_id: int) -> None:
    """Record a use (a writer job; the API does it at most once a minute per token)."""
    conn.execute("UPDATE api_tokens SET last_used_at = ? WHERE id = ?", (now_iso(), token_id))

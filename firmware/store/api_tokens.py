"""The API tokens' rows (``api_tokens``), looked up by digest: the token itself is never stored.
Making tokens, scopes and authentication are :mod:`firmware.security.tokens`'s."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from firmware.errors import InvalidInputError, NotFoundError
from firmware.platform.clock import now_iso
from firmware.store.db import Connection, fetch_all, is_constraint_error

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


def insert(conn: Connection, name: str, digest: bytes, scopes: tuple[str, ...], by: str) -> int:
    """Store a token's record; returns its id.

    Raises:
        InvalidInputError: the name is taken.
    """
    try:
        conn.execute(
            "INSERT INTO api_tokens (name, digest, scopes, created_at, created_by) VALUES (?, ?, ?, ?, ?)",
            (name, digest, ",".join(scopes), now_iso(), by),
        )
    except Exception as err:
        if is_constraint_error(err):
            raise InvalidInputError(f"a token named {name!r} already exists") from err
        raise
    return int(conn.last_insert_rowid())


def by_digest(conn: Connection, digest: bytes) -> ApiToken | None:
    """The record with this digest, revoked or not; None when there is none."""
    rows = fetch_all(conn, f"SELECT {_COLUMNS} FROM api_tokens WHERE digest = ?", (digest,))  # noqa: S608
    return _token(rows[0]) if rows else None


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

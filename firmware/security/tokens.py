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

from firmware.errors import InvalidInputError
from firmware.store import api_tokens as rows
from firmware.store.api_tokens import ApiToken
from firmware.store.db import Connection

SCOPES = ("read", "unlock", "enrol")
PREFIX = "occur_"
_NAME = re.compile(r"[A-Za-z0-9_.@-]{1,64}")


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
    return token, rows.insert(conn, name, digest(token), scopes, by)


def authenticate(conn: Connection, token: str) -> ApiToken | None:
    """The live token record for ``token``, or None (unknown, malformed or revoked)."""
    if not token.startswith(PREFIX) or len(token) > 128:
        return None
    found = rows.by_digest(conn, digest(token))
    return None if found is None or found.revoked_at is not None else found

"""Face and system events: validation, inserts (inside writer jobs), queries (on readers).

Validation happens before anything is queued, so a bad call raises
:class:`~firmware.errors.InvalidInputError` and writes nothing.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

from firmware.errors import InvalidInputError
from firmware.store.db import Connection

FACE_EVENT_TYPES = ("recognized", "unknown", "auto_register")
EventKind = Literal["face", "system"]
_MAX_TEXT = 4096
_MAX_TYPE = 64


@dataclass(frozen=True)
class FaceEvent:
    """A row of ``face_events``."""

    id: int
    timestamp: str
    event_type: str
    user_id: str | None
    image_path: str | None
    confidence: float | None
    kind: EventKind = "face"

    @property
    def detail(self) -> str:
        """One line for tables: who, how sure, which image."""
        parts = (
            f"user={self.user_id}" if self.user_id else "",
            f"confidence={self.confidence:.3f}" if self.confidence is not None else "",
            f"image={self.image_path}" if self.image_path else "",
        )
        return " ".join(p for p in parts if p)


@dataclass(frozen=True)
class SystemEvent:
    """A row of ``system_events``."""

    id: int
    timestamp: str
    event_type: str
    details: str | None
    kind: EventKind = "system"

    @property
    def detail(self) -> str:
        """One line for tables."""
        return self.details or ""


Event = FaceEvent | SystemEvent


def _text(name: str, value: object, limit: int, required: bool) -> None:
    if value is None:
        if required:
            raise InvalidInputError(f"{name} is required")
        return
    if not isinstance(value, str):
        raise InvalidInputError(f"{name} must be a string, got {type(value).__name__}")
    if required and not value.strip():
        raise InvalidInputError(f"{name} must not be empty")
    if len(value) > limit:
        raise InvalidInputError(f"{name} is longer than {limit} characters")
    if "\x00" in value:
        raise InvalidInputError(f"{name} contains a NUL character")


def validate_face_event(event_type: object, user_id: object, image_path: object, confidence: object) -> None:
    """Check the arguments of a face event.

    Raises:
        InvalidInputError: (a ``ValueError``) naming the bad argument.
    """
    if event_type not in FACE_EVENT_TYPES:
        raise InvalidInputError(f"event_type must be one of {', '.join(FACE_EVENT_TYPES)}; got {event_type!r}")
    _text("user_id", user_id, 256, required=False)
    _text("image_path", image_path, _MAX_TEXT, required=False)
    if confidence is not None:
        if isinstance(confidence, bool) or not isinstance(confidence, (int, float)):
            raise InvalidInputError(f"confidence must be a number in [0, 1], got {type(confidence).__name__}")
        if math.isnan(confidence) or not 0.0 <= confidence <= 1.0:
            raise InvalidInputError(f"confidence must be in [0, 1], got {confidence!r}")


def validate_system_event(event_type: object, details: object) -> None:
    """Check the arguments of a system event.

    Raises:
        InvalidInputError: (a ``ValueError``) naming the bad argument.
    """
    _text("event_type", event_type, _MAX_TYPE, required=True)
    _text("details", details, 65536, required=False)


def insert_face_event(
    conn: Connection,
    timestamp: str,
    event_type: str,
    user_id: str | None,
    image_path: str | None,
    confidence: float | None,
) -> int:
    """Insert a validated face event; returns its id. Runs inside a writer job."""
    conn.execute(
        "INSERT INTO face_events (timestamp, event_type, user_id, image_path, confidence) VALUES (?, ?, ?, ?, ?)",
        (timestamp, event_type, user_id, image_path, None if confidence is None else float(confidence)),
    )
    return int(conn.last_insert_rowid())


def list_events(
    conn: Connection,
    kind: EventKind | None = None,
    since: str | None = None,
    limit: int = 50,
) -> list[Event]:
    """Return the newest ``limit`` events (both kinds unless ``kind``), oldest first.

    Args:
        since: ISO 8601 UTC timestamp in the stored format; rows at or after it.
    """
    if limit < 1:
        raise InvalidInputError("limit must be at least 1")
    where = "WHERE timestamp >= ?" if since else ""
    args: tuple[object, ...] = (since,) if since else ()
    rows: list[Event] = []
    if kind in (None, "face"):
        sql = (
            "SELECT id, timestamp, event_type, user_id, image_path, confidence FROM face_events "  # noqa: S608
            f"{where} ORDER BY timestamp DESC, id DESC LIMIT ?"
        )
        rows += [FaceEvent(*row) for row in conn.execute(sql, (*args, limit))]
    if kind in (None, "system"):
        sql = (
            "SELECT id, timestamp, event_type, details FROM system_events "  # noqa: S608
            f"{where} ORDER BY timestamp DESC, id DESC LIMIT ?"
        )
        rows += [SystemEvent(*row) for row in conn.execute(sql, (*args, limit))]
    rows.sort(key=lambda e: (e.timestamp, e.kind, e.id))
    return rows[-limit:]

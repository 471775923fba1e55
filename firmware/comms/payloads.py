"""Topics and JSON payloads of the MQTT contract (pure; see DESIGN.md, "MQTT contract").

Events go to ``<prefix>/events``: ``id`` (time-sortable, unique; what subscribers deduplicate
on), ``ts`` (ISO 8601 with zone), ``type``, ``user`` ({id, name} or null), ``distance`` (the
fused score), ``confidence``, ``snapshot`` (path under the data folder), ``device``, ``reason``.
"""

from __future__ import annotations

from typing import Any

from firmware.comms.ids import new_id

EVENT_TYPES = (
    "granted",
    "denied",
    "unknown_face",
    "no_face",
    "door_forced",
    "door_held_open",
    "exit_request",
    "tamper",
    "system",
)
DOOR_OUTCOME_TYPES = {
    "forced_open": "door_forced",
    "held_open": "door_held_open",
    "exit_request": "exit_request",
    "tamper": "tamper",
    "closed": "system",
}


def prefix(topic_prefix: str, device_id: str) -> str:
    """The topic prefix: ``[mqtt] topic_prefix`` or ``occur/<device id>``."""
    return topic_prefix.rstrip("/") if topic_prefix else f"occur/{device_id}"


def event(
    kind: str,
    ts: str,
    device: str,
    *,
    user: tuple[int, str | None] | None = None,
    distance: float | None = None,
    confidence: float | None = None,
    snapshot: str | None = None,
    reason: str | None = None,
    event_id: str | None = None,
) -> dict[str, Any]:
    """One event payload (raises ValueError for an unknown type)."""
    if kind not in EVENT_TYPES:
        raise ValueError(f"event type {kind!r} is not one of {EVENT_TYPES}")
    return {
        "id": event_id or new_id(),
        "ts": ts,
        "type": kind,
        "user": None if user is None else {"id": user[0], "name": user[1]},
        "distance": None if distance is None else round(distance, 4),
        "confidence": None if confidence is None else round(confidence, 4),
        "snapshot": snapshot,
        "device": device,
        "reason": reason,
    }


def decision_type(granted: bool, known: bool) -> str:
    """The event type of a door decision."""
    return "granted" if granted else ("denied" if known else "unknown_face")

"""The one event path: every event row is written with its MQTT outbox row, in the same writer
job (so one transaction), so an event reaches ``<prefix>/events`` if and only if it was recorded.

The payload is the MQTT contract (see DESIGN.md, "MQTT contract"): ``id`` (time-sortable,
unique; what subscribers deduplicate on), ``ts`` (ISO 8601 with zone), ``type``, ``user``
({id, name} or null), ``distance`` (the fused score), ``confidence``, ``snapshot`` (path under
the data folder), ``device``, ``reason``. System events are ``type`` ``system`` with ``reason``
``"<kind>: <details>"``, cut at :data:`REASON_MAX` characters (the row keeps all of it: a
message announces, the database is the record; a 4 KB detail would otherwise double every row's
cost on a full disk).

Nothing outside this module inserts new ``system_events`` rows (``tests/store/test_eventlog.py``
checks it; the legacy import copies an original system's old rows, which are not published): a
writer that needs one calls :func:`system` with the store's :class:`Origin`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from firmware.config import Config
from firmware.store import door_records, outbox
from firmware.store.db import Connection
from firmware.store.ids import new_id

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
    "granted": "granted",  # a remote unlock (firmware.loop.unlock)
    "forced_open": "door_forced",
    "held_open": "door_held_open",
    "exit_request": "exit_request",
    "tamper": "tamper",
    "closed": "system",
}


REASON_MAX = 1024


@dataclass(frozen=True)
class Origin:
    """Who the events are from and how big the outbox may grow (``[device] id``,
    ``[mqtt] outbox_max_rows``); the store carries one (:attr:`Store.origin`)."""

    device_id: str = "door-1"
    max_rows: int = 100_000

    @classmethod
    def of(cls, config: Config) -> Origin:
        """The origin a config names."""
        return cls(config.device.id, config.mqtt.outbox_max_rows)


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


def queue(conn: Connection, payload: dict[str, Any], kind: str, max_rows: int) -> int:
    """Queue an event payload on ``events`` inside the caller's job; returns its outbox sequence.
    ``kind`` (access, door, system) decides what the bounded outbox drops first."""
    return outbox.add(conn, payload["id"], payload["ts"], "events", kind, payload, max_rows)


def system(conn: Connection, origin: Origin, timestamp: str, kind: str, details: str | None) -> int:
    """A ``system_events`` row and its MQTT event; returns the row id. Runs inside a writer job;
    the caller validates (see :func:`firmware.store.events.validate_system_event`)."""
    conn.execute(
        "INSERT INTO system_events (timestamp, event_type, details) VALUES (?, ?, ?)",
        (timestamp, kind, details),
    )
    row = int(conn.last_insert_rowid())
    reason = f"{kind}: {details}" if details else kind
    if len(reason) > REASON_MAX:
        reason = reason[: REASON_MAX - 1] + "…"
    queue(conn, event("system", timestamp, origin.device_id, reason=reason), "system", origin.max_rows)
    return row


def door_input(conn: Connection, origin: Origin, timestamp: str, outcome: str, reason: str) -> int:
    """A door input's ``door_events`` row (contact, exit button, tamper) and its MQTT event;
    returns the row id. Runs inside a writer job."""
    row = door_records.insert_door_event(conn, timestamp, outcome, reason)
    payload = event(DOOR_OUTCOME_TYPES.get(outcome, "system"), timestamp, origin.device_id, reason=reason)
    queue(conn, payload, "door", origin.max_rows)
    return row

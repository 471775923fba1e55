"""One decision's rows, written in one transaction (inside a writer job)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from firmware.store import door_records, eventlog, events
from firmware.store.db import Connection
from firmware.store.sealing import Sealer


@dataclass
class DecisionRows:
    """Everything recorded about one decision."""

    timestamp: str
    kind: str  # recognized | unknown
    user_id: int | None
    score: float | None
    confidence: float | None
    snapshot: str | None
    granted: bool
    reason: str
    unknown_id: int | None = None  # a stranger seen before
    unknown_snapshot: str | None = None  # set for a new stranger
    unknown_vectors: dict[str, tuple[str, npt.NDArray[np.float32]]] = field(default_factory=dict)
    event: dict[str, Any] | None = None  # the MQTT event, queued in the same transaction
    outbox_max_rows: int = 100_000
    sealer: Sealer | None = None  # seals a new stranger's templates
    liveness: dict[str, Any] | None = None  # the liveness verdict and cues (door_events, MQTT event)


@dataclass(frozen=True)
class DecisionIds:
    """Row ids written."""

    face_event_id: int
    door_event_id: int
    attendance_id: int | None
    unknown_id: int | None


def write_decision(conn: Connection, rows: DecisionRows) -> DecisionIds:
    """Insert the rows of one decision; the caller's job is the transaction."""
    face_event = events.insert_face_event(
        conn,
        rows.timestamp,
        rows.kind,
        None if rows.user_id is None else str(rows.user_id),
        rows.snapshot,
        rows.confidence,
    )
    attendance = None
    unknown_id = rows.unknown_id
    if rows.user_id is not None:
        attendance = door_records.insert_attendance(conn, rows.user_id, "recognized", rows.timestamp, rows.snapshot)
    elif unknown_id is not None:
        door_records.unknown_seen_again(conn, unknown_id, rows.timestamp)
    else:
        assert rows.sealer is not None
        unknown_id = door_records.new_unknown(
            conn, rows.timestamp, rows.unknown_snapshot, rows.unknown_vectors, sealer=rows.sealer
        )
    if rows.event is not None:
        if rows.liveness is not None:
            rows.event["liveness"] = rows.liveness
        eventlog.queue(conn, rows.event, "access", rows.outbox_max_rows)
    door = door_records.insert_door_event(
        conn, rows.timestamp, "granted" if rows.granted else "denied", rows.reason, rows.user_id, face_event, rows.score
    )
    if rows.liveness is not None:
        door_records.set_liveness(conn, door, rows.liveness)
    return DecisionIds(face_event, door, attendance, unknown_id)


def write_door_decision(
    conn: Connection,
    timestamp: str,
    granted: bool,
    reason: str,
    user_id: int | None,
    score: float | None,
    event: dict[str, Any],
    max_rows: int,
) -> int:
    """A decision that opens (or keeps shut) the door without a new visit record (within
    ``cooldown_s``): its ``door_events`` row and MQTT event, together."""
    outcome = "granted" if granted else "denied"
    row = door_records.insert_door_event(conn, timestamp, outcome, reason, user_id, None, score)
    eventlog.queue(conn, event, "access", max_rows)
    return row

"""Presentation-attack capture sessions' rows (``pad_sessions``); the frames are sealed files
under the data folder, recorded and read by :mod:`firmware.padcapture.sessions`."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from firmware.store.db import Connection, fetch_all


@dataclass(frozen=True)
class Session:
    """One recorded session (a ``pad_sessions`` row)."""

    id: int
    created_at: str
    species: str
    subject: str
    instrument: str
    frames: int
    fps: float
    challenge: dict[str, Any] | None
    folder: str

    @property
    def attack(self) -> bool:
        """True for an attack presentation."""
        return self.species != "bona_fide"


def insert_session(conn: Connection, session: Session, consent_by: str, consent_text_version: str, notes: str) -> int:
    """Store a session's row (``session.id`` is ignored); returns its id."""
    conn.execute(
        "INSERT INTO pad_sessions (created_at, species, subject, instrument, consent_by, consent_text_version,"
        " frames, fps, challenge, folder, notes) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (session.created_at, session.species, session.subject, session.instrument, consent_by, consent_text_version,
         session.frames, session.fps, None if session.challenge is None else json.dumps(session.challenge),
         session.folder, notes),
    )  # fmt: skip
    return int(conn.last_insert_rowid())


def list_sessions(conn: Connection) -> list[Session]:
    """Every recorded session, oldest first."""
    rows = fetch_all(
        conn,
        "SELECT id, created_at, species, subject, instrument, frames, fps, challenge, folder FROM pad_sessions"
        " ORDER BY id",
    )
    return [
        Session(int(r[0]), str(r[1]), str(r[2]), str(r[3]), str(r[4]), int(r[5]), float(r[6]),
                json.loads(str(r[7])) if r[7] else None, str(r[8]))
        for r in rows
    ]  # fmt: skip


def delete_session(conn: Connection, session_id: int) -> None:
    """Delete a session's row."""
    conn.execute("DELETE FROM pad_sessions WHERE id = ?", (session_id,))

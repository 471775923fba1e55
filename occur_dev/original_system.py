"""How the original OCCUR-CALL code wrote its databases, reproduced for two honest comparisons:
the baseline of ``occur bench db`` and the sample databases of ``occur demo``.

It uses the standard library's ``sqlite3`` on purpose (the original did), with the original's
DDL, its per-event connection, its default rollback journal, and naive local timestamps from
``datetime.now().isoformat()``. Nothing in the appliance itself uses this module.
"""

from __future__ import annotations

import sqlite3
from datetime import datetime, timedelta
from pathlib import Path

DDL = {
    "face_events": "CREATE TABLE IF NOT EXISTS face_events (id INTEGER PRIMARY KEY AUTOINCREMENT,"
    " timestamp TEXT NOT NULL, event_type TEXT NOT NULL, user_id TEXT, image_path TEXT, confidence REAL)",
    "system_events": "CREATE TABLE IF NOT EXISTS system_events (id INTEGER PRIMARY KEY AUTOINCREMENT,"
    " timestamp TEXT NOT NULL, event_type TEXT NOT NULL, details TEXT)",
    "users": "CREATE TABLE IF NOT EXISTS users (id INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT NOT NULL,"
    " email TEXT UNIQUE, role TEXT, face_encoding BLOB, created_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP)",
    "attendance_logs": "CREATE TABLE IF NOT EXISTS attendance_logs (id INTEGER PRIMARY KEY AUTOINCREMENT,"
    " user_id INTEGER, status TEXT CHECK(status IN ('recognized', 'manual', 'corrected')),"
    " timestamp TIMESTAMP DEFAULT CURRENT_TIMESTAMP, snapshot_path TEXT, FOREIGN KEY(user_id) REFERENCES users(id))",
    "unknown": "CREATE TABLE IF NOT EXISTS unknown (snapshot_path TEXT, first_seen TIMESTAMP,"
    " last_seen TIMESTAMP, seen_count INTEGER)",
}
_INSERT_FACE = "INSERT INTO face_events (timestamp, event_type, user_id, image_path, confidence) VALUES (?, ?, ?, ?, ?)"


def log_face_event(
    db_path: Path,
    event_type: str,
    user_id: str | None = None,
    image_path: str | None = None,
    confidence: float | None = None,
) -> None:
    """The original design: ensure the table, connect, insert, commit and close, per event.

    SQLite's defaults apply: rollback journal, ``synchronous=FULL``, a 5 s busy timeout.
    """
    conn = sqlite3.connect(db_path)
    try:
        conn.execute(DDL["face_events"])
        conn.execute(_INSERT_FACE, (datetime.now().isoformat(), event_type, user_id, image_path, confidence))
        conn.commit()
    finally:
        conn.close()


def write_databases(folder: Path) -> tuple[Path, Path]:
    """Sample ``face_events.db`` and main database of a device that ran the original system."""
    folder.mkdir(parents=True, exist_ok=True)
    face_db, main_db = folder / "face_events.db", folder / "occur_call.db"
    start = datetime(2024, 1, 15, 8, 30)
    with sqlite3.connect(face_db) as conn:
        conn.execute(DDL["face_events"])
        conn.execute(DDL["system_events"])
        conn.execute(
            "INSERT INTO system_events (timestamp, event_type, details) VALUES (?, 'system_start', ?)",
            (start.isoformat(), "AI Camera system started successfully"),
        )
        for i in range(12):
            kind = ("recognized", "unknown", "auto_register")[i % 3]
            row = (
                (start + timedelta(minutes=7 * i)).isoformat(),
                kind,
                "john_doe" if kind == "recognized" else None,
                f"/path/to/unknown_face_{i}.jpg" if kind == "unknown" else None,
                0.95 if kind == "recognized" else None,
            )
            conn.execute(_INSERT_FACE, row)
    with sqlite3.connect(main_db) as conn:
        for table in ("users", "attendance_logs", "unknown"):
            conn.execute(DDL[table])
        conn.execute(
            "INSERT INTO users (name, email, role, face_encoding) VALUES ('John Doe', 'john@example.org', 'staff', ?)",
            (bytes(range(256)) * 4,),
        )
        conn.execute("INSERT INTO attendance_logs (user_id, status, snapshot_path) VALUES (1, 'recognized', 'a.jpg')")
        conn.execute("INSERT INTO attendance_logs (user_id, status) VALUES (1, 'manual')")
        conn.execute(
            "INSERT INTO unknown VALUES ('unknown_faces/unknown_20240115_143022.jpg', '2024-01-15 14:30:22',"
            " '2024-01-15 14:45:03', 3)"
        )
    return face_db, main_db


def sqlite_version() -> str:
    """The SQLite library of the standard ``sqlite3`` module (the original's)."""
    return sqlite3.sqlite_version

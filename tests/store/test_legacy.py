"""Import of the original system's databases: without loss, twice-safe, all or nothing."""

from __future__ import annotations

import base64
import hashlib
import json
import shutil
import sqlite3
import struct
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from firmware.errors import LegacyImportError
from firmware.store import legacy
from firmware.store.store import Store
from tests.conftest import Cli, query
from tests.store.test_schema import DOCUMENTED_DDL

PLUS2 = timezone(timedelta(hours=2))
ENCODING = struct.pack("<128d", *[i / 128 for i in range(128)])  # a float64 vector, as numpy.tobytes() wrote it


def original_databases(folder: Path) -> tuple[Path, Path]:
    """face_events.db and the main database as the original code wrote them (stdlib sqlite3)."""
    folder.mkdir(parents=True, exist_ok=True)
    face, main = folder / "face_events.db", folder / "occur_call.db"
    conn = sqlite3.connect(face)
    conn.execute(DOCUMENTED_DDL["face_events"])
    conn.execute(DOCUMENTED_DDL["system_events"])
    conn.executemany(
        "INSERT INTO face_events (timestamp, event_type, user_id, image_path, confidence) VALUES (?, ?, ?, ?, ?)",
        [
            ("2024-01-15T14:30:22.123456", "recognized", "john_doe", None, 0.95),
            ("2024-01-15T14:31:00", "unknown", None, "/path/to/unknown_face.jpg", None),
            ("2024-01-15 12:00:00", "auto_register", "7", None, 0.5),  # a CURRENT_TIMESTAMP-style value
            ("yesterday-ish", "recognized", "x", None, "0.7"),  # garbage timestamp, text confidence
        ],
    )
    conn.execute(
        "INSERT INTO system_events (timestamp, event_type, details) VALUES ('2024-01-15T08:00:00', 'system_start', NULL)"
    )
    conn.commit()
    conn.close()
    conn = sqlite3.connect(main)
    for table in ("users", "attendance_logs", "unknown_faces"):
        conn.execute(DOCUMENTED_DDL[table])
    conn.execute(
        "CREATE TABLE unknown (snapshot_path TEXT, first_seen TIMESTAMP, last_seen TIMESTAMP, seen_count INTEGER)"
    )
    conn.execute(
        "INSERT INTO users (id, name, email, role, face_encoding, created_at) VALUES (5, 'John Doe', 'john@x.org', 'staff', ?, '2023-12-01 09:00:00')",
        (ENCODING,),
    )
    conn.execute("INSERT INTO users (id, name, email, role, face_encoding) VALUES (9, 'Jane Roe', NULL, NULL, NULL)")
    conn.executemany(
        "INSERT INTO attendance_logs (user_id, status, timestamp, snapshot_path) VALUES (?, ?, ?, ?)",
        [
            (5, "recognized", "2024-01-15 14:30:22", "s1.jpg"),
            (9, "manual", "2024-01-16 08:00:00", None),
            (77, "corrected", "2024-01-16 09:00:00", None),
        ],
    )
    conn.execute(
        "INSERT INTO unknown_faces (snapshot_path, first_seen, last_seen, seen_count)"
        " VALUES ('unknown_faces/u1.jpg', '2024-01-15 14:31:00', NULL, 1)"
    )
    conn.executemany(
        "INSERT INTO unknown VALUES (?, ?, ?, ?)",
        [("unknown_faces/old.jpg", "2023-06-01 10:00:00", "2023-06-02 10:00:00", 4)] * 2,
    )
    conn.commit()
    conn.close()
    return face, main


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_full_import(tmp_path: Path, store: Store) -> None:
    face, main = original_databases(tmp_path / "orig")
    before = (sha(face), sha(main))
    report = legacy.import_legacy(store, face, main, PLUS2)
    assert (sha(face), sha(main)) == before  # sources untouched
    counts = {(t.source_table, t.target_table): (t.found, t.imported, t.already) for t in report.tables}
    assert counts == {
        ("face_events", "face_events"): (4, 4, 0),
        ("system_events", "system_events"): (1, 1, 0),
        ("users", "users"): (2, 2, 0),
        ("attendance_logs", "attendance_logs"): (3, 3, 0),
        ("unknown_faces", "unknown_faces"): (1, 1, 0),
        ("unknown", "unknown_faces"): (2, 2, 0),  # two identical rows are two rows
    }
    p = store.paths
    assert query(p, "SELECT timestamp, event_type, user_id, image_path, confidence FROM face_events ORDER BY id") == [
        ("2024-01-15T12:30:22.123456+00:00", "recognized", "john_doe", None, 0.95),  # naive = +02:00
        ("2024-01-15T12:31:00.000000+00:00", "unknown", None, "/path/to/unknown_face.jpg", None),
        ("2024-01-15T12:00:00.000000+00:00", "auto_register", "7", None, 0.5),  # SQLite form = UTC
        ("yesterday-ish", "recognized", "x", None, 0.7),  # kept verbatim
    ]
    assert next(t for t in report.tables if t.source_table == "face_events").kept_verbatim_timestamps == 1
    users = query(p, "SELECT id, name, email, role, face_encoding, created_at FROM users ORDER BY id")
    assert [(u[1], u[2], u[3]) for u in users] == [("John Doe", "john@x.org", "staff"), ("Jane Roe", None, None)]
    assert users[0][4] != ENCODING and users[0][5] == "2023-12-01T09:00:00.000000+00:00"  # sealed, not in the clear
    john, jane = users[0][0], users[1][0]
    with store.reader() as conn:
        assert store.sealer.open_user_blob(conn, john, "legacy-face-encoding", users[0][4]) == ENCODING
    on_disk = b"".join(f.read_bytes() for f in p.root.rglob("*") if f.is_file())
    assert ENCODING not in on_disk  # the legacy template exists only sealed
    assert query(p, "SELECT user_id, status, timestamp, snapshot_path FROM attendance_logs ORDER BY id") == [
        (john, "recognized", "2024-01-15T14:30:22.000000+00:00", "s1.jpg"),
        (jane, "manual", "2024-01-16T08:00:00.000000+00:00", None),
        (None, "corrected", "2024-01-16T09:00:00.000000+00:00", None),  # user 77 never existed
    ]
    assert next(t for t in report.tables if t.source_table == "attendance_logs").orphans == 1
    assert query(p, "SELECT snapshot_path, seen_count FROM unknown_faces ORDER BY id") == [
        ("unknown_faces/u1.jpg", 1),
        ("unknown_faces/old.jpg", 4),
        ("unknown_faces/old.jpg", 4),
    ]


def opened(store: Store, user_id: object, value: object) -> object:
    """A verbatim value: a blob back from base64, a sealed biometric opened with its user's key."""
    if not isinstance(value, dict):
        return value
    if "sealed_base64" in value:
        with store.reader() as conn:
            return store.sealer.open_user_blob(
                conn,
                int(user_id),
                "legacy-face-encoding",  # type: ignore[call-overload]
                base64.b64decode(value["sealed_base64"]),
            )
    return base64.b64decode(value["base64"])


def test_source_rows_are_kept_verbatim(tmp_path: Path, store: Store) -> None:
    face, main = original_databases(tmp_path / "orig")
    legacy.import_legacy(store, face, main, PLUS2)
    kept = query(store.paths, "SELECT source_table, source_id, source_row, target_id FROM legacy_imports")
    assert len(kept) == 13
    for name, path in (
        ("face_events", face),
        ("system_events", face),
        ("users", main),
        ("attendance_logs", main),
        ("unknown", main),
    ):
        original = sqlite3.connect(path)
        for rowid, *values in original.execute(f"SELECT rowid, * FROM {name}"):
            row = json.loads(next(r[2] for r in kept if r[0] == name and r[1] == rowid))
            target = next(r[3] for r in kept if r[0] == name and r[1] == rowid)
            restored = [opened(store, target, v) for v in row["columns"].values()]
            assert restored == values and type(restored[-1]) is type(values[-1])
        original.close()


def test_second_run_adds_nothing(tmp_path: Path, store: Store) -> None:
    face, main = original_databases(tmp_path / "orig")
    legacy.import_legacy(store, face, main, PLUS2)
    snapshot = {
        t: query(store.paths, f"SELECT * FROM {t} ORDER BY id")
        for t in ("face_events", "users", "attendance_logs", "unknown_faces")
    }
    again = legacy.import_legacy(store, face, main, PLUS2)
    assert again.imported == 0 and again.already == 13
    copy = tmp_path / "elsewhere"
    shutil.copytree(tmp_path / "orig", copy)
    assert legacy.import_legacy(store, copy / "face_events.db", copy / "occur_call.db", PLUS2).imported == 0
    for table, rows in snapshot.items():
        assert query(store.paths, f"SELECT * FROM {table} ORDER BY id") == rows


def test_grown_source_imports_only_new_rows(tmp_path: Path, store: Store) -> None:
    face, main = original_databases(tmp_path / "orig")
    legacy.import_legacy(store, face, main, PLUS2)
    conn = sqlite3.connect(main)
    conn.execute(
        "INSERT INTO attendance_logs (user_id, status, timestamp) VALUES (5, 'manual', ?)",
        (datetime(2024, 2, 1, 9).isoformat(),),
    )
    conn.commit()
    conn.close()
    report = legacy.import_legacy(store, None, main, PLUS2)
    assert report.imported == 1
    john = query(store.paths, "SELECT id FROM users WHERE name = 'John Doe'")[0][0]
    assert query(store.paths, "SELECT user_id, timestamp FROM attendance_logs ORDER BY id DESC LIMIT 1") == [
        (john, "2024-02-01T07:00:00.000000+00:00")
    ]


def test_same_person_maps_and_conflict_refuses(tmp_path: Path, store: Store) -> None:
    from firmware.store import users

    store.write(lambda c: users.add_user(c, "John Doe", "john@x.org", "staff"))
    _, main = original_databases(tmp_path / "orig")
    legacy.import_legacy(store, None, main, PLUS2)
    assert query(store.paths, "SELECT count(*) FROM users WHERE email = 'john@x.org'") == [(1,)]
    assert query(store.paths, "SELECT user_id FROM attendance_logs ORDER BY id LIMIT 1") == [(1,)]

    other = tmp_path / "other.db"
    conn = sqlite3.connect(other)
    conn.execute(DOCUMENTED_DDL["users"])
    conn.execute("INSERT INTO users (name, email) VALUES ('Impostor', 'john@x.org')")
    conn.execute("INSERT INTO users (name, email) VALUES ('Fresh Person', 'fresh@x.org')")
    conn.commit()
    conn.close()
    before = query(store.paths, "SELECT count(*) FROM users")
    with pytest.raises(LegacyImportError, match="belongs to user"):
        legacy.import_legacy(store, None, other, PLUS2)
    assert query(store.paths, "SELECT count(*) FROM users") == before  # 'Fresh Person' was not added either


@pytest.mark.parametrize("content", [b"\xff\xd8\xff\xe0 not a database" * 100, b""])
def test_unreadable_source_is_refused(tmp_path: Path, store: Store, content: bytes) -> None:
    bad = tmp_path / "face_events.db"
    bad.write_bytes(content)
    if content:
        with pytest.raises(LegacyImportError, match=r"face_events\.db"):
            legacy.import_legacy(store, bad, None, PLUS2)
    with pytest.raises(LegacyImportError, match="no such file"):
        legacy.import_legacy(store, tmp_path / "missing.db", None, PLUS2)
    assert query(store.paths, "SELECT count(*) FROM legacy_imports") == [(0,)]


def test_cli_import_twice(tmp_path: Path, cli: Cli) -> None:
    face, main = original_databases(tmp_path / "orig")
    d = str(tmp_path / "data")
    first = cli(
        "--data-dir", d, "db", "import-legacy", "--face-events", str(face), "--main-db", str(main), "--legacy-tz", "UTC"
    )
    assert first.status == 0 and "imported 13 rows" in first.out
    second = cli("--data-dir", d, "db", "import-legacy", "--face-events", str(face), "--main-db", str(main), "--json")
    assert second.status == 0
    assert sum(t["imported"] for t in json.loads(second.out)["tables"]) == 0
    bad_zone = cli("--data-dir", d, "db", "import-legacy", "--main-db", str(main), "--legacy-tz", "Mars/Olympus")
    assert bad_zone.status == 2 and "unknown time zone" in bad_zone.err
    nothing = cli("--data-dir", d, "db", "import-legacy")
    assert nothing.status == 2

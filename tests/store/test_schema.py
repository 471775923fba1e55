"""The original tables exactly as documented, their indexes, and the legacy 'unknown' migration."""

from __future__ import annotations

import re
import sqlite3
from pathlib import Path

import pytest

from firmware.config import Paths
from firmware.errors import SchemaError
from firmware.store.db import APPLICATION_ID, open_memory, open_plain
from firmware.store.inspect import schema_problems, table_shape
from firmware.store.migrate import Migration, load_migrations, migrate
from firmware.store.store import Store
from tests.conftest import SHARED

# The DDL of the original documentation, "Database System" (face_events, system_events) and
# "Database Update System" (users, attendance_logs, unknown_faces).
DOCUMENTED_DDL = {
    "face_events": """CREATE TABLE face_events (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    timestamp TEXT NOT NULL,
    event_type TEXT NOT NULL,
    user_id TEXT,
    image_path TEXT,
    confidence REAL
)""",
    "system_events": """CREATE TABLE system_events (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    timestamp TEXT NOT NULL,
    event_type TEXT NOT NULL,
    details TEXT
)""",
    "users": """CREATE TABLE users (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    name TEXT NOT NULL,
    email TEXT UNIQUE,
    role TEXT,
    face_encoding BLOB,
    created_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP
)""",
    "attendance_logs": """CREATE TABLE attendance_logs (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id INTEGER,
    status TEXT CHECK(status IN ('recognized', 'manual', 'corrected')),
    timestamp TIMESTAMP DEFAULT CURRENT_TIMESTAMP,
    snapshot_path TEXT,
    FOREIGN KEY(user_id) REFERENCES users(id)
)""",
    "unknown_faces": """CREATE TABLE unknown_faces (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    snapshot_path TEXT,
    first_seen TIMESTAMP DEFAULT CURRENT_TIMESTAMP,
    last_seen TIMESTAMP,
    seen_count INTEGER DEFAULT 1
)""",
}


def squash(sql: str) -> str:
    return re.sub(r"\s+", " ", sql).replace("( ", "(").replace(" )", ")").strip()


def test_reference_ddl_is_the_documented_one() -> None:
    doc = SHARED / "original" / "000_dd9cc05724c3fc18.txt"
    assert doc.exists(), f"the original documentation is expected at {doc}"
    text = squash(doc.read_text())
    for table, ddl in DOCUMENTED_DDL.items():
        assert squash(ddl) in text, table


def test_tables_match_documented_ddl_exactly(store: Store) -> None:
    reference = open_memory()
    for ddl in DOCUMENTED_DDL.values():
        reference.execute(ddl)
    with store.reader() as conn:
        for table, ddl in DOCUMENTED_DDL.items():
            stored = conn.execute("SELECT sql FROM sqlite_schema WHERE type='table' AND name=?", (table,)).fetchone()
            assert stored is not None, table
            assert squash(stored[0]) == squash(ddl), table
            ours, theirs = table_shape(conn, table), table_shape(reference, table)
            assert ours["columns"] == theirs["columns"], table
            assert ours["foreign_keys"] == theirs["foreign_keys"], table
        assert schema_problems(conn) == []


@pytest.mark.parametrize(
    ("sql", "index"),
    [
        ("SELECT * FROM face_events WHERE timestamp >= '2026-01-01'", "face_events_timestamp"),
        ("SELECT * FROM face_events WHERE event_type = 'unknown' ORDER BY timestamp", "face_events_event_type"),
        ("SELECT * FROM face_events WHERE user_id = '3'", "face_events_user_id"),
        ("SELECT * FROM system_events WHERE timestamp >= '2026-01-01'", "system_events_timestamp"),
        ("SELECT * FROM system_events WHERE event_type = 'error'", "system_events_event_type"),
        ("SELECT * FROM attendance_logs WHERE user_id = 3", "attendance_logs_user_id"),
        ("SELECT * FROM attendance_logs WHERE timestamp >= '2026-01-01'", "attendance_logs_timestamp"),
    ],
)
def test_queries_use_indexes(store: Store, sql: str, index: str) -> None:
    with store.reader() as conn:
        plan = " ".join(str(r[3]) for r in conn.execute("EXPLAIN QUERY PLAN " + sql))
    assert index in plan, plan


def test_constraints_are_enforced(store: Store) -> None:
    with pytest.raises(Exception, match="CHECK"):
        store.write(lambda c: c.execute("INSERT INTO attendance_logs (user_id, status) VALUES (NULL, 'late')"))
    with pytest.raises(Exception, match="FOREIGN KEY"):
        store.write(lambda c: c.execute("INSERT INTO attendance_logs (user_id, status) VALUES (999, 'manual')"))
    with store.reader() as conn:
        assert conn.execute("SELECT count(*) FROM attendance_logs").fetchone()[0] == 0


def test_pragmas_applied(store: Store) -> None:
    conn = store.writer._conn  # the writer's own connection
    assert str(conn.pragma("journal_mode")).lower() == "wal"
    assert int(conn.pragma("synchronous")) == 2  # FULL
    assert int(conn.pragma("foreign_keys")) == 1
    assert int(conn.pragma("secure_delete")) == 1
    assert int(conn.pragma("application_id")) == APPLICATION_ID
    assert int(conn.pragma("user_version")) == len(load_migrations())


def original_main_db(path: Path, unknown_rows: list[tuple[object, ...]], with_seen_count: bool = True) -> None:
    """A main database as the original update_db.py left it before its 'unknown' migration."""
    conn = sqlite3.connect(path)
    for table in ("users", "attendance_logs", "unknown_faces"):
        conn.execute(DOCUMENTED_DDL[table])
    cols = "snapshot_path TEXT, first_seen TIMESTAMP, last_seen TIMESTAMP" + (
        ", seen_count INTEGER" if with_seen_count else ""
    )
    conn.execute(f"CREATE TABLE unknown (id INTEGER PRIMARY KEY, {cols})")
    marks = ", ".join("?" for _ in range(4 if with_seen_count else 3))
    names = "snapshot_path, first_seen, last_seen" + (", seen_count" if with_seen_count else "")
    conn.executemany(f"INSERT INTO unknown ({names}) VALUES ({marks})", unknown_rows)
    conn.execute("INSERT INTO unknown_faces (snapshot_path, seen_count) VALUES ('already.jpg', 2)")
    conn.commit()
    conn.close()


def test_legacy_unknown_table_is_migrated_and_dropped(paths: Paths) -> None:
    paths.root.mkdir(parents=True)
    rows = [
        ("data/unknown_faces/unknown_20240115_143022.jpg", "2024-01-15 14:30:22", "2024-01-15 14:45:03", 3),
        ("data/unknown_faces/unknown_20240115_143045.jpg", "2024-01-15 14:30:45", None, None),
    ]
    original_main_db(paths.database, rows)
    with Store.open(paths) as store:
        assert store.migration.adopted_legacy
        assert store.migration.backup is not None
        with store.reader() as conn:
            assert conn.execute("SELECT 1 FROM sqlite_schema WHERE name='unknown'").fetchone() is None
            got = list(
                conn.execute("SELECT snapshot_path, first_seen, last_seen, seen_count FROM unknown_faces ORDER BY id")
            )
        backup = store.migration.backup
    assert got[0] == ("already.jpg", got[0][1], None, 2)
    assert got[1:] == rows
    kept = sqlite3.connect(backup)
    assert kept.execute("SELECT count(*) FROM unknown").fetchone()[0] == 2  # the backup holds the pre-migration state
    kept.close()


def test_failed_legacy_migration_changes_nothing(paths: Paths) -> None:
    paths.root.mkdir(parents=True)
    original_main_db(paths.database, [("a.jpg", "2024-01-15 14:30:22", None)], with_seen_count=False)
    with pytest.raises(SchemaError, match="0001_original_schema"):
        Store.open(paths)
    conn = open_plain(paths.database)
    assert conn.execute("SELECT count(*) FROM unknown").fetchone()[0] == 1
    assert int(conn.pragma("user_version")) == 0
    conn.close()


def test_database_newer_than_code_is_refused(paths: Paths) -> None:
    Store.open(paths).close()
    conn = open_plain(paths.database, readonly=False)
    conn.execute("PRAGMA user_version=99")
    conn.close()
    with pytest.raises(SchemaError, match="newer than this firmware"):
        Store.open(paths)
    conn = open_plain(paths.database)
    assert int(conn.pragma("user_version")) == 99
    conn.close()


def test_foreign_database_is_refused(paths: Paths) -> None:
    paths.root.mkdir(parents=True)
    conn = sqlite3.connect(paths.database)
    conn.execute("PRAGMA application_id=1234")
    conn.execute("CREATE TABLE t (x)")
    conn.commit()
    conn.close()
    with pytest.raises(SchemaError, match="another application"):
        Store.open(paths)


def test_each_migration_is_one_transaction(tmp_path: Path) -> None:
    conn = open_plain(tmp_path / "m.db", readonly=False)
    steps = [
        Migration(1, "0001_a.sql", "CREATE TABLE a (x); INSERT INTO a VALUES (1);"),
        Migration(2, "0002_b.sql", "CREATE TABLE b (y); INSERT INTO nowhere VALUES (1);"),
    ]
    with pytest.raises(SchemaError, match=r"0002_b\.sql"):
        migrate(conn, tmp_path / "backups", steps)
    assert int(conn.pragma("user_version")) == 1
    assert conn.execute("SELECT name FROM sqlite_schema WHERE name='b'").fetchone() is None
    assert conn.execute("SELECT x FROM a").fetchall() == [(1,)]
    conn.close()


def test_backup_before_migrating_existing_database(tmp_path: Path) -> None:
    conn = open_plain(tmp_path / "m.db", readonly=False)
    steps = [Migration(1, "0001_a.sql", "CREATE TABLE a (x); INSERT INTO a VALUES (1);")]
    first = migrate(conn, tmp_path / "backups", steps)
    assert first.backup is None  # nothing to back up in an empty database
    steps.append(Migration(2, "0002_b.sql", "ALTER TABLE a ADD COLUMN y;"))
    second = migrate(conn, tmp_path / "backups", steps)
    assert second.applied == ("0002_b.sql",) and second.backup is not None
    copy = sqlite3.connect(second.backup)
    assert copy.execute("PRAGMA user_version").fetchone()[0] == 1
    assert [r[1] for r in copy.execute("PRAGMA table_info(a)")] == ["x"]
    copy.close()
    assert oct(second.backup.stat().st_mode & 0o777) == "0o600"
    conn.close()


def test_migrations_are_numbered_without_gaps() -> None:
    steps = load_migrations()
    assert [s.version for s in steps] == list(range(1, len(steps) + 1))


def test_files_are_private(store: Store) -> None:
    assert store.paths.root.stat().st_mode & 0o777 == 0o700
    assert store.paths.database.stat().st_mode & 0o777 == 0o600

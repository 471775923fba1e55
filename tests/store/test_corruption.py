"""A damaged database is detected at open, reported with the recovery command, never recreated;
``occur db recover`` salvages the readable rows and keeps the damaged file."""

from __future__ import annotations

import hashlib
import json
import random
from pathlib import Path

import pytest

from firmware.config import Paths
from firmware.errors import DatabaseCorruptError
from firmware.store.db import open_plain
from firmware.store.store import Store
from tests.conftest import Cli

EVENTS = 3000


def filled(paths: Paths) -> dict[int, tuple[object, ...]]:
    with Store.open(paths) as store:
        for n in range(EVENTS):
            store.submit(lambda c, n=n: c.execute(
                "INSERT INTO face_events (timestamp, event_type, user_id, confidence) VALUES (?, 'recognized', ?, ?)",
                (f"2026-01-01T00:00:{n % 60:02d}.000000+00:00", f"user-{n}", n / EVENTS)))  # fmt: skip
        store.log_system_event("flush")
    conn = open_plain(paths.database)
    try:
        return {int(r[0]): tuple(r) for r in conn.execute("SELECT * FROM face_events")}  # type: ignore[call-overload]
    finally:
        conn.close()


def digest(paths: Paths) -> str:
    return hashlib.sha256(paths.database.read_bytes()).hexdigest()


def damage_pages(paths: Paths, first: int, count: int) -> None:
    data = bytearray(paths.database.read_bytes())
    rng = random.Random(7)
    for page in range(first, first + count):
        data[page * 4096 : (page + 1) * 4096] = bytes(rng.randrange(256) for _ in range(4096))
    paths.database.write_bytes(bytes(data))


def test_damaged_pages_are_detected_not_recreated(paths: Paths, cli: Cli) -> None:
    original = filled(paths)
    pages = paths.database.stat().st_size // 4096
    damage_pages(paths, pages // 2, 3)
    before = digest(paths)
    with pytest.raises(DatabaseCorruptError, match="occur db recover"):
        Store.open(paths)
    assert digest(paths) == before, "a failed open changed the damaged file"
    # reads that happen to miss the damaged pages still work; any command that opens the store refuses
    refused = cli("--data-dir", str(paths.root), "users", "list")
    assert refused.status == 5 and "occur db recover" in refused.err

    result = cli("--data-dir", str(paths.root), "db", "recover", "--json")
    assert result.status == 0, result.err
    damaged = list(paths.root.glob("occur.db.damaged-*"))
    assert [p.name.endswith("-wal") or p.name.endswith("-shm") for p in damaged].count(False) == 1
    assert digest(Paths(paths.root)) != before
    kept = next(p for p in damaged if not p.name.endswith(("-wal", "-shm")))
    assert hashlib.sha256(kept.read_bytes()).hexdigest() == before

    with Store.open(paths) as store, store.reader() as conn:
        assert [r[0] for r in conn.execute("PRAGMA integrity_check")] == ["ok"]
        recovered = {int(r[0]): tuple(r) for r in conn.execute("SELECT * FROM face_events")}
    assert len(recovered) >= EVENTS * 0.8, f"only {len(recovered)} of {EVENTS} rows recovered"
    assert all(original[k] == v for k, v in recovered.items()), "a recovered row differs from the original"


def test_not_a_database(paths: Paths, cli: Cli) -> None:
    paths.root.mkdir(parents=True)
    paths.database.write_bytes(b"\xff\xd8\xff\xe0\x00\x10JFIF" + bytes(5000))
    before = digest(paths)
    with pytest.raises(DatabaseCorruptError, match="occur db recover"):
        Store.open(paths)
    assert digest(paths) == before
    result = cli("--data-dir", str(paths.root), "db", "migrate")
    assert result.status == 5 and "occur db recover" in result.err


def test_db_check_reports_foreign_key_violations(paths: Paths, cli: Cli) -> None:
    Store.open(paths).close()
    assert cli("--data-dir", str(paths.root), "db", "check").status == 0
    conn = open_plain(paths.database, readonly=False)
    conn.execute("INSERT INTO attendance_logs (user_id, status) VALUES (42, 'manual')")  # foreign_keys is off here
    conn.close()
    result = cli("--data-dir", str(paths.root), "db", "check")
    assert result.status == 7 and "foreign key" in result.out


def test_recover_keeps_without_rowid_tables_and_a_later_import_adds_nothing(
    paths: Paths, cli: Cli, tmp_path: Path
) -> None:
    """``legacy_imports`` is a WITHOUT ROWID table: recovery must copy it by its primary key, or
    the next import duplicates every original row."""
    from tests.store.test_legacy import original_databases

    face, main = original_databases(tmp_path / "orig")
    d = str(paths.root)
    first = cli("--data-dir", d, "db", "import-legacy", "--face-events", str(face), "--main-db", str(main), "--json")
    assert first.status == 0, first.err
    before = {t: _count(paths, t) for t in ("legacy_imports", "face_events", "users", "attendance_logs")}
    assert before["legacy_imports"] == 13

    done = cli("--data-dir", d, "db", "recover", "--json")
    assert done.status == 0, done.err
    report = json.loads(done.out)
    assert report["recovered"]["legacy_imports"] == 13 and report["lost"]["legacy_imports"] == 0
    assert {t: _count(paths, t) for t in before} == before
    again = cli("--data-dir", d, "db", "import-legacy", "--face-events", str(face), "--main-db", str(main), "--json")
    assert again.status == 0 and sum(t["imported"] for t in json.loads(again.out)["tables"]) == 0
    assert {t: _count(paths, t) for t in before} == before


def test_recover_reports_a_table_it_cannot_read_instead_of_zero_lost(paths: Paths, cli: Cli) -> None:
    from firmware.store import recover

    Store.open(paths).close()
    conn = open_plain(paths.database, readonly=False)
    conn.execute("INSERT INTO system_events (timestamp, event_type) VALUES ('2026-01-01T00:00:00+00:00', 'x')")
    conn.execute("PRAGMA writable_schema = ON")  # the damaged table's root page points nowhere
    conn.execute("UPDATE sqlite_schema SET rootpage = 99999 WHERE name = 'system_events'")
    conn.close()
    report = recover.recover(paths)
    assert "system_events" in report.unreadable, report


def _count(paths: Paths, table: str) -> int:
    conn = open_plain(paths.database)
    try:
        return int(conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0])  # type: ignore[index]
    finally:
        conn.close()

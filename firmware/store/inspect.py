"""Health and size of the database: ``occur db check`` and ``occur db stats``.

The schema check compares the live tables, columns (type, NOT NULL, default, primary key),
foreign keys and indexes with those the migrations create in a fresh in-memory database, so an
adopted original database whose tables drifted from the documented DDL is reported, not used
blindly.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from firmware.store.db import Connection, apsw_version, sqlite_version
from firmware.store.migrate import latest_version, load_migrations, schema_version


@dataclass(frozen=True)
class CheckReport:
    """Result of :func:`check`; ``ok`` only when ``problems`` is empty."""

    integrity: list[str]
    foreign_keys: list[str]
    schema: list[str]
    version: int
    latest: int

    @property
    def problems(self) -> list[str]:
        """Every problem found, integrity first."""
        out = [f"integrity: {p}" for p in self.integrity]
        out += [f"foreign key: {p}" for p in self.foreign_keys]
        out += [f"schema: {p}" for p in self.schema]
        if self.version != self.latest:
            out.append(f"schema version {self.version}, expected {self.latest} (run 'occur db migrate')")
        return out

    @property
    def ok(self) -> bool:
        """True when nothing is wrong."""
        return not self.problems


@dataclass(frozen=True)
class Stats:
    """Sizes and counts for ``occur db stats``."""

    path: str
    sqlite_version: str
    apsw_version: str
    schema_version: int
    application_id: int
    page_size: int
    page_count: int
    freelist_count: int
    file_bytes: int
    wal_bytes: int
    tables: dict[str, int] = field(default_factory=dict)


def table_shape(conn: Connection, table: str) -> dict[str, object]:
    """Columns, foreign keys and indexes of ``table`` as comparable data."""
    columns = [tuple(r[1:6]) for r in conn.execute("SELECT * FROM pragma_table_info(?)", (table,))]
    fks = sorted(tuple(r[2:5]) for r in conn.execute("SELECT * FROM pragma_foreign_key_list(?)", (table,)))
    indexes = sorted(
        (str(r[1]), int(r[2])) for r in conn.execute("SELECT * FROM pragma_index_list(?)", (table,)) if r[3] == "c"
    )
    checks_sql = conn.execute("SELECT sql FROM sqlite_schema WHERE type = 'table' AND name = ?", (table,)).fetchone()
    has_check = bool(checks_sql and "CHECK" in str(checks_sql[0]).upper())
    return {"columns": columns, "foreign_keys": fks, "indexes": indexes, "check": has_check}


def reference_shapes() -> dict[str, dict[str, object]]:
    """Shapes of every table the migrations create, from a fresh in-memory database."""
    from firmware.store.db import open_memory

    conn = open_memory()
    try:
        for step in load_migrations():
            conn.execute(step.sql)
        names = [
            str(r[0])
            for r in conn.execute("SELECT name FROM sqlite_schema WHERE type='table' AND name NOT LIKE 'sqlite_%'")
        ]
        return {name: table_shape(conn, name) for name in names}
    finally:
        conn.close()


def schema_problems(conn: Connection) -> list[str]:
    """Differences between the live schema and the one the migrations define."""
    problems: list[str] = []
    for table, expected in reference_shapes().items():
        if not conn.execute("SELECT 1 FROM sqlite_schema WHERE type='table' AND name=?", (table,)).fetchone():
            problems.append(f"table {table} is missing")
            continue
        actual = table_shape(conn, table)
        problems.extend(
            f"{table}: {part} differ from the documented schema: {actual[part]} != {expected[part]}"
            for part in ("columns", "foreign_keys", "check")
            if actual[part] != expected[part]
        )
        missing = {n for n, _ in expected["indexes"]} - {n for n, _ in actual["indexes"]}  # type: ignore[attr-defined]
        if missing:
            problems.append(f"{table}: missing indexes {', '.join(sorted(missing))}")
    return problems


def check(conn: Connection, full: bool = False) -> CheckReport:
    """Run the integrity check (quick unless ``full``), the foreign key check and the schema check."""
    pragma = "integrity_check" if full else "quick_check"
    integrity = [str(r[0]) for r in conn.execute(f"PRAGMA {pragma}(50)")]
    fk = [f"{r[0]} row {r[1]} -> {r[2]}" for r in conn.execute("PRAGMA foreign_key_check")]
    return CheckReport(
        integrity=[] if integrity == ["ok"] else integrity,
        foreign_keys=fk,
        schema=schema_problems(conn),
        version=schema_version(conn),
        latest=latest_version(),
    )


def _count(conn: Connection, table: str) -> int:
    row = conn.execute(f'SELECT count(*) FROM "{table}"').fetchone()  # noqa: S608 - names from sqlite_schema
    return int(row[0]) if row else 0


def stats(conn: Connection, path: Path) -> Stats:
    """Counts per table and file sizes."""
    names = [
        str(r[0])
        for r in conn.execute(
            "SELECT name FROM sqlite_schema WHERE type='table' AND name NOT LIKE 'sqlite_%' ORDER BY name"
        )
    ]
    counts = {name: _count(conn, name) for name in names}
    wal = Path(str(path) + "-wal")
    return Stats(
        path=str(path),
        sqlite_version=sqlite_version(),
        apsw_version=apsw_version(),
        schema_version=schema_version(conn),
        application_id=int(conn.pragma("application_id")),
        page_size=int(conn.pragma("page_size")),
        page_count=int(conn.pragma("page_count")),
        freelist_count=int(conn.pragma("freelist_count")),
        file_bytes=os.path.getsize(path) if path.exists() else 0,
        wal_bytes=os.path.getsize(wal) if wal.exists() else 0,
        tables=counts,
    )

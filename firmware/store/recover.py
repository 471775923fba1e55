"""Salvage a damaged database: ``occur db recover``.

The damaged file (with its WAL) is renamed aside, never deleted. A fresh database is created
with the current schema, and every row that can still be read from each known table is copied
into it, table by table and key range by key range, so one bad page loses only the rows on
it. Tables are walked by rowid, or by their primary key when they have no rowid
(``legacy_imports`` is ``WITHOUT ROWID``: missing it would make the next legacy import add every
original row again). The counts of recovered and unreadable rows are reported per table, and a
table that could not be read at all is named, never reported as "0 lost".
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from firmware.config import Paths
from firmware.errors import StoreError
from firmware.platform.clock import now_utc
from firmware.store.db import Connection, DbSettings, open_plain, open_writer
from firmware.store.migrate import migrate

log = logging.getLogger(__name__)
_CHUNK = 256


@dataclass(frozen=True)
class RecoveryReport:
    """What :func:`recover` did."""

    database: Path
    damaged_copy: Path
    recovered: dict[str, int] = field(default_factory=dict)
    lost: dict[str, int] = field(default_factory=dict)
    unreadable: list[str] = field(default_factory=list)


def _columns(conn: Connection, table: str) -> list[str]:
    return [str(r[1]) for r in conn.execute("SELECT * FROM pragma_table_info(?)", (table,))]


def _quote(column: str) -> str:
    return column if column == "rowid" else '"' + column.replace('"', '""') + '"'


def _key(dst: Connection, table: str) -> list[str]:
    """The columns that find one row: ``rowid``, or the primary key of a WITHOUT ROWID table."""
    sql: Any = dst.execute("SELECT sql FROM sqlite_schema WHERE type = 'table' AND name = ?", (table,)).fetchone()
    if sql is None or "WITHOUT ROWID" not in str(sql[0]).upper():
        return ["rowid"]
    info = [(int(r[5]), str(r[1])) for r in dst.execute("SELECT * FROM pragma_table_info(?)", (table,))]
    return [name for pk, name in sorted(info) if pk > 0]


def _keys(src: Connection, table: str, key: list[str]) -> tuple[list[tuple[Any, ...]], int]:
    """Keys reachable by scanning from each end (a damaged page stops a scan, not both), and
    how many scans failed."""
    found: set[tuple[Any, ...]] = set()
    failed = 0
    names = ", ".join(_quote(k) for k in key)
    for order in ("ASC", "DESC"):
        by = ", ".join(f"{_quote(k)} {order}" for k in key)
        try:
            for row in src.execute(f'SELECT {names} FROM "{table}" ORDER BY {by}'):  # noqa: S608
                found.add(tuple(row))
        except Exception as err:  # noqa: BLE001 - the scan from the other end goes on
            failed += 1
            log.warning("scan of %s (%s) stopped: %s", table, order, err)
    return sorted(found), failed


def _copy_table(src: Connection, dst: Connection, table: str) -> tuple[int, int, bool]:
    """Copy readable rows; returns (copied, rows seen but unreadable, readable at all)."""
    try:
        cols = [c for c in _columns(src, table) if c in set(_columns(dst, table))]
    except Exception as err:  # noqa: BLE001 - any read failure means the table is unreadable
        log.warning("table %s unreadable: %s", table, err)
        return 0, 0, False
    if not cols:
        return 0, 0, True
    key = _key(dst, table)
    names = ", ".join(f'"{c}"' for c in cols)
    insert = f'INSERT OR IGNORE INTO "{table}" ({names}) VALUES ({", ".join("?" for _ in cols)})'  # noqa: S608
    where = " AND ".join(f"{_quote(k)} = ?" for k in key)
    one = f'SELECT {names} FROM "{table}" WHERE {where}'  # noqa: S608
    copied = lost = 0
    keys, failed = _keys(src, table, key)
    for start in range(0, len(keys), _CHUNK):
        rows = []
        for found in keys[start : start + _CHUNK]:
            try:
                rows += list(src.execute(one, found))
            except Exception:  # noqa: BLE001 - a row on a damaged page
                lost += 1
        with dst:
            dst.executemany(insert, rows)
        copied += len(rows)
    return copied, lost, not (failed == 2 and not keys)


def recover(paths: Paths) -> RecoveryReport:
    """Move the damaged database aside and rebuild it from its readable rows.

    Raises:
        StoreError: no database to recover.
    """
    path = paths.database
    if not path.exists():
        raise StoreError(f"no database at {path}")
    stamp = now_utc().strftime("%Y%m%d_%H%M%S")
    damaged = path.with_name(f"{path.name}.damaged-{stamp}")
    for suffix in ("", "-wal", "-shm"):
        part = Path(str(path) + suffix)
        if part.exists():
            os.replace(part, Path(str(damaged) + suffix))
    dst = open_writer(path, DbSettings())
    report = RecoveryReport(path, damaged)
    try:
        migrate(dst, paths.backups)
        src = open_plain(damaged, readonly=True)
        try:
            tables = [
                str(r[0])
                for r in dst.execute("SELECT name FROM sqlite_schema WHERE type='table' AND name NOT LIKE 'sqlite_%'")
            ]
            dst.execute("PRAGMA foreign_keys=OFF")
            for table in tables:
                copied, lost, readable = _copy_table(src, dst, table)
                report.recovered[table] = copied
                report.lost[table] = lost
                if not readable:
                    report.unreadable.append(table)
            dst.execute("PRAGMA foreign_keys=ON")
        finally:
            src.close()
        problems = [str(r[0]) for r in dst.execute("PRAGMA integrity_check")]
        if problems != ["ok"]:
            raise StoreError(f"recovered database failed integrity_check: {problems[:3]}")
    finally:
        dst.close()
    return report

"""Salvage a damaged database: ``occur db recover``.

The damaged file (with its WAL) is renamed aside, never deleted. A fresh database is created
with the current schema, and every row that can still be read from each known table is copied
into it, table by table and rowid range by rowid range, so one bad page loses only the rows on
it. The counts of recovered and unreadable rows are reported per table.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from pathlib import Path

from firmware.clock import now_utc
from firmware.config import Paths
from firmware.errors import StoreError
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


def _columns(conn: Connection, table: str) -> list[str]:
    return [str(r[1]) for r in conn.execute("SELECT * FROM pragma_table_info(?)", (table,))]


def _rowids(src: Connection, table: str) -> list[int]:
    """Rowids reachable by scanning from each end: a damaged page stops a scan, not both."""
    found: set[int] = set()
    for order in ("ASC", "DESC"):
        try:
            for (rowid,) in src.execute(f'SELECT rowid FROM "{table}" ORDER BY rowid {order}'):  # noqa: S608
                found.add(int(rowid))
        except Exception as err:  # noqa: BLE001 - the scan from the other end goes on
            log.warning("scan of %s (%s) stopped: %s", table, order, err)
    return sorted(found)


def _copy_table(src: Connection, dst: Connection, table: str) -> tuple[int, int]:
    """Copy readable rows; returns (copied, rows seen but unreadable)."""
    try:
        cols = [c for c in _columns(src, table) if c in set(_columns(dst, table))]
    except Exception as err:  # noqa: BLE001 - any read failure means the table is unreadable
        log.warning("table %s unreadable: %s", table, err)
        return 0, 0
    if not cols:
        return 0, 0
    names = ", ".join(f'"{c}"' for c in cols)
    insert = f'INSERT OR IGNORE INTO "{table}" ({names}) VALUES ({", ".join("?" for _ in cols)})'  # noqa: S608
    one = f'SELECT {names} FROM "{table}" WHERE rowid = ?'  # noqa: S608
    copied = lost = 0
    rowids = _rowids(src, table)
    for start in range(0, len(rowids), _CHUNK):
        chunk = rowids[start : start + _CHUNK]
        rows = []
        for rowid in chunk:
            try:
                rows += list(src.execute(one, (rowid,)))
            except Exception:  # noqa: BLE001 - a row on a damaged page
                lost += 1
        with dst:
            dst.executemany(insert, rows)
        copied += len(rows)
    return copied, lost


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
                copied, lost = _copy_table(src, dst, table)
                report.recovered[table] = copied
                report.lost[table] = lost
            dst.execute("PRAGMA foreign_keys=ON")
        finally:
            src.close()
        problems = [str(r[0]) for r in dst.execute("PRAGMA integrity_check")]
        if problems != ["ok"]:
            raise StoreError(f"recovered database failed integrity_check: {problems[:3]}")
    finally:
        dst.close()
    return report

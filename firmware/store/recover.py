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


def _copy_table(src: Connection, dst: Connection, table: str) -> tuple[int, int]:
    try:
        cols = [c for c in _columns(src, table) if c in set(_columns(dst, table))]
        top = src.execute(f'SELECT max(rowid) FROM "{table}"').fetchone()  # noqa: S608
    except Exception as err:
        log.warning("table %s unreadable: %s", table, err)
        return 0, 0
    if not cols or not top or top[0] is None:
        return 0, 0
    names = ", ".join(f'"{c}"' for c in cols)
    marks = ", ".join("?" for _ in cols)
    copied = lost = 0
    for start in range(0, int(top[0]) + 1, _CHUNK):
        try:
            sql = f'SELECT {names} FROM "{table}" WHERE rowid >= ? AND rowid < ?'  # noqa: S608
            rows = list(src.execute(sql, (start, start + _CHUNK)))
        except Exception:
            rows = []
            for rowid in range(start, start + _CHUNK):
                try:
                    rows += list(src.execute(f'SELECT {names} FROM "{table}" WHERE rowid = ?', (rowid,)))  # noqa: S608
                except Exception:
                    lost += 1
        with dst:
            dst.executemany(f'INSERT OR IGNORE INTO "{table}" ({names}) VALUES ({marks})', rows)  # noqa: S608
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

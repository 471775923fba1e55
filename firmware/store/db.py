"""The apsw connection factory and the translation of SQLite errors.

Why these settings (after ``apsw/bestpractice.py`` and SQLite's "How To Corrupt"):

- ``journal_mode=WAL``: readers (the ``sqlite3`` CLI, ``occur events``) never block the writer.
- ``synchronous=FULL``: in WAL mode NORMAL may roll back acknowledged commits after a power cut;
  FULL syncs the WAL on every commit, so "acknowledged" means "on disk".
- ``foreign_keys=ON``, double-quoted string literals off, ``trusted_schema=OFF``: catch bugs
  and refuse hostile schema tricks in imported files.
- ``secure_delete=ON``: deleted rows hold biometric data; overwrite them instead of leaving
  them on free pages.
- ``application_id``: marks the file as ours, so a random database is never "migrated".
- busy timeout: a short lock held by the CLI or a checkpoint is waited for, not an error.

SQLite releases before 3.51.3 have a WAL-reset race when two connections write or checkpoint at
once; the apsw wheel bundles a newer SQLite and :func:`check_sqlite_version` refuses older ones.
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import apsw

from firmware.errors import (
    DatabaseBusyError,
    DatabaseCorruptError,
    StorageFullError,
    StoreError,
)
from firmware.platform.fileio import fsync_path

log = logging.getLogger(__name__)

Connection = apsw.Connection
APPLICATION_ID = 0x4F434355  # "OCCU"
MIN_SQLITE = (3, 51, 3)
RECOVERY_HINT = (
    "stop the service, then run 'occur db recover' (copies every readable row into a new "
    "database and keeps the damaged file), or restore a backup from the backups folder"
)


@dataclass(frozen=True)
class DbSettings:
    """Tuning that may differ per device; durability settings are not negotiable."""

    busy_timeout_ms: int = 5000
    wal_autocheckpoint_pages: int = 1000
    journal_size_limit_mb: int = 16
    max_db_mb: int = 0


def sqlite_version() -> str:
    """Return the SQLite library version apsw runs on (``3.54.1``)."""
    return str(apsw.sqlite_lib_version())


def apsw_version() -> str:
    """Return the apsw version."""
    return str(apsw.apsw_version())


def check_sqlite_version() -> str:
    """Refuse a SQLite older than :data:`MIN_SQLITE`.

    Raises:
        StoreError: the bundled SQLite is too old (install the pinned apsw wheel).
    """
    version = sqlite_version()
    parts = tuple(int(p) for p in version.split(".")[:3])
    if parts < MIN_SQLITE:
        wanted = ".".join(map(str, MIN_SQLITE))
        raise StoreError(f"SQLite {version} is older than {wanted} (WAL-reset race); reinstall with ./setup.sh")
    return version


def translate(err: BaseException, path: Path | str = "") -> BaseException:
    """Map an apsw error to the firmware's error tree; other errors are returned unchanged."""
    where = f" ({path})" if path else ""
    if isinstance(err, apsw.FullError):
        return StorageFullError(f"disk or database size cap is full{where}; nothing after the last commit was kept")
    if isinstance(err, (apsw.BusyError, apsw.LockedError)):
        return DatabaseBusyError(f"database is locked by another connection{where}; gave up after the busy timeout")
    if isinstance(err, (apsw.CorruptError, apsw.NotADBError)):
        return DatabaseCorruptError(f"database is damaged or not a database{where}: {err}; {RECOVERY_HINT}")
    if isinstance(err, apsw.CantOpenError):
        return StoreError(f"cannot open the database{where}: check that the folder exists and is writable")
    if isinstance(err, apsw.ReadOnlyError):
        return StoreError(f"database is read-only{where}: check file ownership and permissions")
    if isinstance(err, apsw.IOError):
        return StoreError(f"I/O error on the database{where}: {err}")
    return err


@contextlib.contextmanager
def translated(path: Path | str = "") -> Iterator[None]:
    """Re-raise apsw errors from the block as firmware errors (``raise ... from err``)."""
    try:
        yield
    except apsw.Error as err:
        mapped = translate(err, path)
        if mapped is err:
            raise
        raise mapped from err


def is_constraint_error(err: BaseException) -> bool:
    """True when ``err`` is a UNIQUE / CHECK / FOREIGN KEY / NOT NULL violation."""
    return isinstance(err, apsw.ConstraintError)


def in_transaction(conn: Connection) -> bool:
    """True while ``conn`` has an open transaction (SQLite may end one on its own after I/O errors)."""
    return not conn.getautocommit()


def _apply_common(conn: Connection, settings: DbSettings) -> None:
    conn.set_busy_timeout(settings.busy_timeout_ms)
    conn.config(apsw.SQLITE_DBCONFIG_DQS_DML, 0)
    conn.config(apsw.SQLITE_DBCONFIG_DQS_DDL, 0)
    conn.execute("PRAGMA foreign_keys=ON")
    conn.execute("PRAGMA trusted_schema=OFF")
    conn.execute("PRAGMA temp_store=MEMORY")
    conn.execute("PRAGMA mmap_size=0")


def open_writer(path: Path, settings: DbSettings) -> Connection:
    """Open (creating if needed) the database for writing with every durability setting applied.

    The file is created 0600 (it holds personal data) before SQLite opens it.

    Raises:
        StoreError: the folder is missing or not writable, the disk is full.
        DatabaseCorruptError: the file is not a SQLite database.
    """
    if not path.exists():
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        os.close(fd)
    with translated(path):
        conn = Connection(str(path), flags=apsw.SQLITE_OPEN_READWRITE | apsw.SQLITE_OPEN_CREATE)
        try:
            _apply_common(conn, settings)
            mode = conn.pragma("journal_mode", "wal")
            if str(mode).lower() != "wal":
                raise StoreError(f"could not switch {path} to WAL (got {mode!r}): is it on a network file system?")
            conn.execute("PRAGMA synchronous=FULL")
            conn.execute("PRAGMA secure_delete=ON")
            conn.execute(f"PRAGMA wal_autocheckpoint={int(settings.wal_autocheckpoint_pages)}")
            conn.execute(f"PRAGMA journal_size_limit={int(settings.journal_size_limit_mb) * 1024 * 1024}")
            if settings.max_db_mb:
                page_size = int(conn.pragma("page_size"))
                conn.execute(f"PRAGMA max_page_count={settings.max_db_mb * 1024 * 1024 // page_size}")
        except BaseException:
            conn.close()
            raise
    return conn


def open_reader(path: Path, settings: DbSettings) -> Connection:
    """Open an existing database for queries only (``query_only``: a bug cannot write through it).

    Raises:
        StoreError: no database at ``path``.
    """
    if not path.exists():
        raise StoreError(f"no database at {path}: run 'occur db migrate' to create it")
    with translated(path):
        conn = Connection(str(path), flags=apsw.SQLITE_OPEN_READWRITE)
        try:
            _apply_common(conn, settings)
            conn.execute("PRAGMA query_only=ON")
        except BaseException:
            conn.close()
            raise
    return conn


def open_plain(path: Path, readonly: bool = True) -> Connection:
    """Open a database that is not ours (a legacy file, a backup copy) without changing it."""
    flags = apsw.SQLITE_OPEN_READONLY if readonly else apsw.SQLITE_OPEN_READWRITE | apsw.SQLITE_OPEN_CREATE
    if readonly and not path.exists():
        raise StoreError(f"no such file: {path}")
    with translated(path):
        conn = Connection(str(path), flags=flags)
        conn.set_busy_timeout(5000)
        conn.execute("PRAGMA trusted_schema=OFF")
    return conn


def online_backup(source: Connection, dest: Path, pages_per_step: int = 256) -> None:
    """Copy the live database to ``dest`` with the SQLite backup API, consistent while writes go on.

    Writes to ``dest.tmp`` first, syncs, then renames, so a crash never leaves a half backup
    under the final name. The copy is 0600.

    Raises:
        StorageFullError: no room for the copy (the source is untouched).
    """
    tmp = dest.with_name(dest.name + ".tmp")
    tmp.unlink(missing_ok=True)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    os.close(fd)
    try:
        with translated(dest):
            target = Connection(str(tmp))
            try:
                with target.backup("main", source, "main") as job:
                    while not job.done:
                        job.step(pages_per_step)
                target.execute("PRAGMA journal_mode=DELETE")
            finally:
                target.close()
        fsync_path(tmp)
        os.replace(tmp, dest)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def open_memory() -> Connection:
    """A private in-memory database (reference schemas, tests)."""
    conn = Connection(":memory:")
    conn.execute("PRAGMA foreign_keys=ON")
    return conn


@contextlib.contextmanager
def reading(path: Path, settings: DbSettings) -> Iterator[Connection]:
    """A query-only connection whose errors inside the block come out translated.

    Raises:
        StoreError: no database; DatabaseCorruptError: a damaged page met while reading.
    """
    conn = open_reader(path, settings)
    try:
        with translated(path):
            yield conn
    finally:
        conn.close()


def fetch_all(conn: Connection, sql: str, params: tuple[object, ...] = ()) -> list[tuple[Any, ...]]:
    """Every row of a query (the statement is finished, so no read snapshot is left open)."""
    return list(conn.execute(sql, params).fetchall())

"""The Store: opens the database safely and owns its single writer.

Opening order, each step failing loudly instead of guessing:
1. the bundled SQLite is new enough;
2. the data folder exists (created 0700);
3. the file opens as a database and passes ``PRAGMA quick_check`` (a damaged database is
   reported with the recovery command, never recreated);
4. it is ours or an original OCCUR-CALL database, and not newer than the code;
5. pending migrations run, after an online backup;
6. the device keys are the database's (see :mod:`firmware.store.keycheck`; made only for a
   database with nothing sealed);
7. the group-commit writer starts.
"""

from __future__ import annotations

import contextlib
import logging
import shutil
import threading
import time
from collections.abc import Callable, Iterator
from typing import TypeVar

from firmware.config import Paths, StorageConfig
from firmware.crypto.keys import Keys
from firmware.errors import DatabaseCorruptError, StorageFullError, StoreError
from firmware.platform.clock import now_iso
from firmware.store import eventlog, events
from firmware.store.ballast import Ballast
from firmware.store.db import (
    RECOVERY_HINT,
    Connection,
    DbSettings,
    check_sqlite_version,
    open_plain,
    open_reader,
    open_writer,
    translated,
)
from firmware.store.health import FileWatch
from firmware.store.keycheck import check_keys
from firmware.store.migrate import MigrationReport, migrate
from firmware.store.sealing import Sealer
from firmware.store.writer import GroupCommitWriter, Pending

log = logging.getLogger(__name__)
T = TypeVar("T")


def settings_from(storage: StorageConfig) -> DbSettings:
    """The connection settings for a storage config section."""
    return DbSettings(
        busy_timeout_ms=storage.busy_timeout_ms,
        wal_autocheckpoint_pages=storage.wal_autocheckpoint_pages,
        journal_size_limit_mb=storage.journal_size_limit_mb,
        max_db_mb=storage.max_db_mb,
    )


def _open_connection(paths: Paths, settings: DbSettings) -> tuple[Connection, MigrationReport, Keys | None]:
    """The writer connection, checked, migrated, with the device keys checked against it."""
    path = paths.database
    conn = open_writer(path, settings)
    try:
        problems = quick_check(conn)
        if problems:
            raise DatabaseCorruptError(f"{path} failed quick_check: {'; '.join(problems[:3])}; {RECOVERY_HINT}")
        with translated(path):
            report = migrate(conn, paths.backups)
            keys = check_keys(conn, paths)
    except BaseException:
        conn.close()
        raise
    return conn, report, keys


def _disk_full(paths: Paths, err: StoreError) -> bool:
    """True when ``err`` came from a full disk (SQLite reports a failed WAL index as an I/O error)."""
    if isinstance(err, StorageFullError):
        return True
    try:
        return shutil.disk_usage(paths.root).free < 1024 * 1024
    except OSError:
        return False


def quick_check(conn: Connection, full: bool = False) -> list[str]:
    """Run ``quick_check`` (or ``integrity_check`` when ``full``); returns problems, empty if ok."""
    pragma = "integrity_check" if full else "quick_check"
    with translated():
        rows = [str(r[0]) for r in conn.execute(f"PRAGMA {pragma}(20)")]
    return [] if rows == ["ok"] else rows


class Store:
    """The appliance's database. Use :meth:`open`; close with :meth:`close` or ``with``."""

    def __init__(
        self,
        paths: Paths,
        settings: DbSettings,
        writer: GroupCommitWriter,
        report: MigrationReport,
        ballast: Ballast | None = None,
        origin: eventlog.Origin | None = None,
    ) -> None:
        self.paths = paths
        self.origin = origin or eventlog.Origin()
        self.settings = settings
        self.migration = report
        self._writer = writer
        self._ballast = ballast or Ballast(paths.ballast, 0)
        self._ballast_lock = threading.Lock()
        self._ballast_released = False
        self._released_at = 0.0
        self._readers = threading.local()
        self._readers_lock = threading.Lock()
        self._all_readers: list[Connection] = []
        self._sealer: Sealer | None = None
        self._keys: Keys | None = None
        self._watch = FileWatch(paths)
        self._reclaimers: list[Callable[[], int]] = []

    @classmethod
    def open(
        cls,
        paths: Paths,
        storage: StorageConfig | None = None,
        create: bool = True,
        origin: eventlog.Origin | None = None,
    ) -> Store:
        """Open (and if needed create and migrate) the database under ``paths.root``.

        Args:
            create: when false, a missing database is an error instead of being created.
            origin: the device id and outbox bound every event's MQTT message is written with
                (see :mod:`firmware.store.eventlog`); the defaults without a config.

        Raises:
            StoreError: missing database with ``create=False``, unwritable folder, old SQLite.
            DatabaseCorruptError: the file is damaged; the message names the recovery command.
            SchemaError: another application's database, or one newer than the code.
            StorageFullError: the disk is full.
        """
        check_sqlite_version()
        cfg = storage or StorageConfig()
        settings = settings_from(cfg)
        path = paths.database
        if not create and not path.exists():
            raise StoreError(f"no database at {path}: run 'occur db migrate' to create it")
        paths.root.mkdir(mode=0o700, parents=True, exist_ok=True)
        ballast = Ballast(paths.ballast, cfg.ballast_kib * 1024)
        released = 0
        try:
            conn, report, keys = _open_connection(paths, settings)
        except StoreError as err:  # on a full disk even opening needs room (the WAL index, the WAL)
            if not _disk_full(paths, err) or not (released := ballast.release()):
                raise
            conn, report, keys = _open_connection(paths, settings)
        writer = GroupCommitWriter(conn, cfg.group_commit_max, str(path))
        store = cls(paths, settings, writer, report, ballast, origin)
        store._keys = keys
        store._watch.record()
        if released:
            store._ballast_released = True
            store._record_disk_full(released)
        else:
            ballast.ensure()
        return store

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Commit everything queued, then close. Idempotent."""
        self._writer.close()
        with self._readers_lock:
            for conn in self._all_readers:
                conn.close()
            self._all_readers.clear()
        self._readers = threading.local()

    @property
    def writer(self) -> GroupCommitWriter:
        """The single writer (for its counters)."""
        return self._writer

    def submit(self, fn: Callable[[Connection], T]) -> Pending[T]:
        """Queue a write; its ``result()`` returns once it is committed to disk."""
        return self._writer.submit(fn)

    def write(self, fn: Callable[[Connection], T]) -> T:
        """Run a write and return its result once it is committed to disk.

        On a full disk the ballast is released once, a ``disk_full`` system event is recorded,
        and the write is tried again (a failed write left nothing behind, so this is safe). With
        no ballast left, the reclaimers (:meth:`add_reclaimer`: the door's snapshots) free space
        for one more try: records go before pictures.

        Raises:
            StorageFullError: still full (no ballast left to release, nothing to reclaim).
        """
        try:
            return self._writer.call(fn)
        except StorageFullError:
            if not self._release_ballast() and not self._reclaim():
                raise
        try:
            return self._writer.call(fn)
        except StorageFullError:
            if not self._reclaim():
                raise
        return self._writer.call(fn)

    def add_reclaimer(self, fn: Callable[[], int]) -> None:
        """Register something that frees disk space when the database cannot commit (returns
        the bytes or files it freed; 0 when it had nothing)."""
        self._reclaimers.append(fn)

    def _reclaim(self) -> bool:
        freed = 0
        for fn in self._reclaimers:
            try:
                freed += fn()
            except OSError as err:
                log.error("could not free space: %s", err)
        return freed > 0

    @property
    def ballast_released(self) -> bool:
        """True while the reserve is given back (since a full disk)."""
        return self._ballast_released

    def restore_ballast(self) -> bool:
        """Reserve the ballast again once the disk has room for it twice over; True when held."""
        with self._ballast_lock:
            if self._ballast.ensure():
                self._ballast_released = False
        return not self._ballast_released

    def health(self) -> list[str]:
        """Check that the database, its WAL and the data key are still the files opened (see
        :mod:`firmware.store.health`). A problem with the database stops every write from then
        on (after saving what a deleted WAL held); returns every problem, empty when healthy."""
        found = self._watch.check()
        if found.database and not self._writer.broken:
            error = StoreError("; ".join(found.database))
            failed = self._writer.stop_writing(error, checkpoint=found.wal_only)
            if found.wal_only:
                saved = f"could not save what it held: {failed}" if failed else "what it held was saved"
                found.database[-1] += f" ({saved} into {self.paths.database.name})"
            log.critical("storage: %s", "; ".join(found.database))
        return found.all

    def _release_ballast(self) -> bool:
        """Release the ballast (once until it is reserved again); True if space was freed for
        a retry, by this call or by another caller of the same failed group just now."""
        with self._ballast_lock:
            if self._ballast_released:
                return time.monotonic() - self._released_at < 1.0
            freed = self._ballast.release()
            if not freed:
                return False
            self._ballast_released = True
            self._released_at = time.monotonic()
        self._record_disk_full(freed)
        return True

    def _record_disk_full(self, freed: int) -> None:
        details = f"disk full: released {freed} bytes of reserved space; it is reserved again once space returns"
        stamp = now_iso()
        try:
            self._writer.call(lambda c: eventlog.system(c, self.origin, stamp, "disk_full", details))
        except StorageFullError:
            log.error("disk full even after releasing the ballast")

    @contextlib.contextmanager
    def reader(self) -> Iterator[Connection]:
        """A query-only connection for the block (readers never block the writer in WAL).

        Each thread keeps its own connection for the store's life: opening one costs more than
        most queries, and the door loop and the MQTT publisher read several times a frame. A
        connection outside a statement holds no snapshot, so it always sees committed data.
        """
        conn = getattr(self._readers, "conn", None)
        if conn is None:
            conn = open_reader(self.paths.database, self.settings)
            self._readers.conn = conn
            with self._readers_lock:
                self._all_readers.append(conn)
        with translated(self.paths.database):
            yield conn

    def log_face_event(
        self,
        event_type: str,
        user_id: str | None = None,
        image_path: str | None = None,
        confidence: float | None = None,
    ) -> int:
        """Validate and durably record a face event; returns its id.

        Raises:
            InvalidInputError: bad argument (nothing written).
            StorageFullError, DatabaseBusyError, StoreError: not recorded.
        """
        events.validate_face_event(event_type, user_id, image_path, confidence)
        stamp = now_iso()
        return self.write(lambda c: events.insert_face_event(c, stamp, event_type, user_id, image_path, confidence))

    def log_system_event(
        self, event_type: str, details: str | None = None, also: Callable[[Connection], object] | None = None
    ) -> int:
        """Validate and durably record a system event with its MQTT message (and ``also``, for
        example a secure-log entry) in one transaction; returns its id.

        Raises:
            InvalidInputError: bad argument (nothing written).
            StorageFullError, DatabaseBusyError, StoreError: not recorded.
        """
        events.validate_system_event(event_type, details)
        stamp = now_iso()

        def job(conn: Connection) -> int:
            row = eventlog.system(conn, self.origin, stamp, event_type, details)
            if also is not None:
                also(conn)
            return row

        return self.write(job)

    @property
    def sealer(self) -> Sealer:
        """Seals face templates at rest (device keys under ``<data>/keys``, made on first use).

        Raises:
            KeyFileError: a key file is unreadable or readable by others.
        """
        with self._ballast_lock:
            if self._sealer is None:
                self._sealer = Sealer(self.keys)
            return self._sealer

    @property
    def keys(self) -> Keys:
        """The device keys checked against the database at open.

        Raises:
            KeyFileError: see :class:`firmware.crypto.keys.Keys`.
        """
        return self._keys or Keys(self.paths.keys)

    def checkpoint_truncate(self) -> None:
        """Copy the WAL into the database and truncate it (``PRAGMA wal_checkpoint(TRUNCATE)``),
        so no old page image survives in the WAL file: used after an erasure. Runs on a
        connection of its own, outside the writer's transactions; waits for readers to finish.
        """
        conn = open_plain(self.paths.database, readonly=False)
        try:
            with translated(self.paths.database):
                conn.execute("PRAGMA secure_delete=ON")
                conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall()
        finally:
            conn.close()

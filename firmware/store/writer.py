"""The one writer: a thread that commits queued writes in groups.

Why group commit: with ``synchronous=FULL`` every commit costs a WAL fsync (milliseconds on an SD
card). Writes that arrive while a commit is in flight are queued and committed together in the
next transaction, so N concurrent callers share one fsync instead of paying N. Each write runs in
its own savepoint, so one bad write (a constraint violation) fails alone; the others in the
group still commit. A caller's future resolves only after the COMMIT that contains its write has
returned, i.e. after its row is on disk.

Failure modes: if the COMMIT itself fails (disk full, I/O error) every write of that group
fails with the translated error and nothing of it is kept; earlier groups are untouched. If the
thread dies unexpectedly, pending and later writes fail with :class:`StoreError` instead of
hanging.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any, TypeVar

from firmware.errors import StoreError
from firmware.store.db import Connection, in_transaction, translate

log = logging.getLogger(__name__)

T = TypeVar("T")
WriteFn = Callable[[Connection], T]


@dataclass
class _Job:
    fn: Callable[[Connection], Any]
    future: Future[Any]


_STOP = object()


class GroupCommitWriter:
    """Serialises all writes to one connection on one thread, committing them in groups.

    Args:
        conn: a connection from :func:`firmware.store.db.open_writer`; owned by the writer from
            now on and closed by :meth:`close`.
        max_group: the most writes in one transaction.
        label: used in the thread name and errors (usually the database path).
    """

    def __init__(self, conn: Connection, max_group: int = 512, label: str = "") -> None:
        self._conn = conn
        self._max_group = max_group
        self._label = label
        self._queue: queue.SimpleQueue[_Job | object] = queue.SimpleQueue()
        self._closed = False
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._run, name="occur-db-writer", daemon=True)
        self.commits = 0
        self.writes = 0
        self._thread.start()

    def submit(self, fn: Callable[[Connection], T]) -> Future[T]:
        """Queue ``fn(conn)`` to run inside a write transaction; the future resolves after COMMIT.

        Raises:
            StoreError: the writer is closed.
        """
        future: Future[T] = Future()
        with self._lock:
            if self._closed:
                raise StoreError(f"database writer is closed ({self._label})")
            self._queue.put(_Job(fn, future))
        return future

    def call(self, fn: Callable[[Connection], T], timeout: float | None = None) -> T:
        """Run ``fn(conn)`` in a write transaction and return its result once it is durable."""
        return self.submit(fn).result(timeout)

    def close(self, timeout: float = 30.0) -> None:
        """Finish every queued write, then stop the thread and close the connection. Idempotent.

        Raises:
            StoreError: the thread did not stop within ``timeout`` seconds.
        """
        with self._lock:
            if self._closed:
                return
            self._closed = True
            self._queue.put(_STOP)
        self._thread.join(timeout)
        if self._thread.is_alive():
            raise StoreError(f"database writer did not stop within {timeout} s ({self._label})")
        self._conn.close()

    def _run(self) -> None:
        try:
            while True:
                first = self._queue.get()
                if first is _STOP:
                    return
                group: list[_Job] = [first]  # type: ignore[list-item]
                stop_after = False
                while len(group) < self._max_group:
                    try:
                        item = self._queue.get_nowait()
                    except queue.Empty:
                        break
                    if item is _STOP:
                        stop_after = True
                        break
                    group.append(item)  # type: ignore[arg-type]
                self._commit(group)
                if stop_after:
                    return
        except BaseException as err:  # the thread must never die silently
            log.exception("database writer stopped unexpectedly")
            self._fail_pending(StoreError(f"database writer stopped: {err}"))

    def _fail_pending(self, err: BaseException) -> None:
        with self._lock:
            self._closed = True
        while True:
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                return
            if isinstance(item, _Job) and not item.future.done():
                item.future.set_exception(err)

    def _commit(self, group: list[_Job]) -> None:
        conn = self._conn
        live = [job for job in group if job.future.set_running_or_notify_cancel()]
        if not live:
            return
        try:
            conn.execute("BEGIN IMMEDIATE")
        except BaseException as err:
            self._fail(live, translate(err, self._label))
            return
        outcomes: list[tuple[_Job, Any, BaseException | None]] = []
        for job in live:
            conn.execute("SAVEPOINT occur_write")
            try:
                result = job.fn(conn)
            except BaseException as err:
                if not in_transaction(conn):
                    # SQLite rolled the whole transaction back (disk full, I/O error):
                    # every write of the group so far is gone too.
                    self._fail(live, translate(err, self._label))
                    return
                conn.execute("ROLLBACK TO occur_write")
                conn.execute("RELEASE occur_write")
                outcomes.append((job, None, translate(err, self._label)))
            else:
                conn.execute("RELEASE occur_write")
                outcomes.append((job, result, None))
        try:
            conn.execute("COMMIT")
        except BaseException as err:
            if in_transaction(conn):
                conn.execute("ROLLBACK")
            self._fail(live, translate(err, self._label))
            return
        self.commits += 1
        self.writes += len(live)
        for job, result, error in outcomes:
            if error is None:
                job.future.set_result(result)
            else:
                job.future.set_exception(error)

    @staticmethod
    def _fail(jobs: list[_Job], err: BaseException) -> None:
        for job in jobs:
            if not job.future.done():
                job.future.set_exception(err)

"""The one writer: a thread that commits queued writes in groups.

Why group commit: with ``synchronous=FULL`` every commit costs a WAL fsync (milliseconds on an SD
card). Writes that arrive while a commit is in flight are queued and committed together in the
next transaction, so N concurrent callers share one fsync instead of paying N. A caller's
:meth:`Pending.result` returns only after the COMMIT that contains its write has returned, i.e.
after its row is on disk.

A caller that finds the writer idle, after a run of one-write commits, commits its own write
on its own thread under the same commit lock, saving the two thread hand-offs; under
concurrency that path stays off so groups are not split.

A group first runs every write in one pass. If one write raises (a constraint violation, a bad
value), the group is rolled back and run again with a savepoint around each write, so the bad
write fails alone and the others still commit. Write functions must therefore touch nothing but
the connection: they may run twice.

Failure modes: if the COMMIT itself fails (disk full, I/O error) every write of that group fails
with the translated error and nothing of it is kept; earlier groups are untouched. If the thread
dies unexpectedly, pending and later writes fail with :class:`StoreError` instead of hanging.

A write function may ask for something to happen only once its rows are durable
(:func:`after_commit`): the secure log writes its head file beside the keys that way, so the file
never names an entry that was rolled back.
"""

from __future__ import annotations

import collections
import logging
import queue
import threading
import time
from collections.abc import Callable
from typing import Any, Generic, TypeVar

from firmware.errors import StoreError
from firmware.store.db import Connection, in_transaction, translate

log = logging.getLogger(__name__)

T = TypeVar("T")


class Pending(Generic[T]):
    """A queued write; :meth:`result` blocks until it is committed (or failed).

    A plain lock is the cheapest wake-up CPython has, which matters when hundreds of callers
    wait on each fsync.
    """

    __slots__ = ("_done", "_error", "_result", "fn")

    def __init__(self, fn: Callable[[Connection], T]) -> None:
        self.fn = fn
        self._result: Any = None
        self._error: BaseException | None = None
        self._done = threading.Lock()
        self._done.acquire()

    def _finish(self, result: Any, error: BaseException | None) -> None:
        self._result, self._error = result, error
        self._done.release()

    def done(self) -> bool:
        """True once the write was committed or failed."""
        if self._done.acquire(blocking=False):
            self._done.release()
            return True
        return False

    def result(self, timeout: float | None = None) -> T:
        """The write function's return value, once durable.

        Raises:
            TimeoutError: not finished within ``timeout`` seconds (the write may still land).
            Exception: whatever the write raised, or the commit's translated error.
        """
        if not self._done.acquire(timeout=-1 if timeout is None else timeout):
            raise TimeoutError("database write not finished in time")
        self._done.release()
        if self._error is not None:
            raise self._error
        return self._result  # type: ignore[no-any-return]


_AFTER: dict[int, list[Callable[[], None]]] = {}
"""Per writer connection (by id), what to run once the transaction in progress commits."""


def after_commit(conn: Connection, fn: Callable[[], None]) -> None:
    """Run ``fn`` once the transaction that ``conn`` is in has committed (dropped if it rolls
    back). On a connection that no writer owns, ``fn`` runs at once. ``fn`` must not write to
    the store; its errors are logged, never raised (the rows are already durable)."""
    hooks = _AFTER.get(id(conn))
    if hooks is None:
        _run_hooks([fn])
    else:
        hooks.append(fn)


def _run_hooks(hooks: list[Callable[[], None]]) -> None:
    for fn in hooks:
        try:
            fn()
        except Exception:
            log.exception("after-commit action failed")


_STOP = object()
LONE_STREAK = 8
"""A caller commits its own write only after this many one-write commits in a row: under
concurrency, callers that commit alone would split the groups that share one fsync."""
LINGER_S = 0.001
"""Longest a group waits for callers that were in the previous group (PostgreSQL's
``commit_delay`` idea): one fsync then covers all of them. A lone caller never waits."""


class GroupCommitWriter:
    """Serialises all writes to one connection on one thread, committing them in groups.

    Args:
        conn: a connection from :func:`firmware.store.db.open_writer`; owned by the writer from
            now on and closed by :meth:`close`.
        max_group: the most writes in one transaction.
        label: used in errors (usually the database path).
    """

    def __init__(self, conn: Connection, max_group: int = 512, label: str = "") -> None:
        self._conn = conn
        self._max_group = max_group
        self._label = label
        self._queue: queue.SimpleQueue[Pending[Any] | object] = queue.SimpleQueue()
        self._closed = False
        self._lock = threading.Lock()
        self._commit_lock = threading.Lock()  # whoever commits holds it: the thread or a lone caller
        self._count_lock = threading.Lock()
        self._outstanding = 0  # submitted, not yet finished
        self._lone_streak = LONE_STREAK  # consecutive one-write commits; concurrency resets it
        self._thread = threading.Thread(target=self._run, name="occur-db-writer", daemon=True)
        self.commits = 0
        self.writes = 0
        self._broken: StoreError | None = None
        _AFTER[id(conn)] = []
        self._thread.start()

    def submit(self, fn: Callable[[Connection], T]) -> Pending[T]:
        """Queue ``fn(conn)`` to run inside a write transaction.

        Raises:
            StoreError: the writer is closed.
        """
        if self._broken is not None:
            raise self._broken
        if self._closed:
            raise StoreError(f"database writer is closed ({self._label})")
        pending: Pending[T] = Pending(fn)
        with self._count_lock:
            self._outstanding += 1
        self._queue.put(pending)
        return pending

    def call(self, fn: Callable[[Connection], T], timeout: float | None = None) -> T:
        """Run ``fn(conn)`` in a write transaction and return its result once it is durable.

        When no other write is queued or running and recent commits held one write each, the
        caller commits its write itself: two thread hand-offs (about 120 us here) are a large
        part of a lone event's cost, and a door mostly sees one event at a time. Otherwise the
        write joins the next group. ``fn`` must not call the store itself (it would deadlock).
        """
        if self._broken is not None:
            raise self._broken
        if self._lone_streak >= LONE_STREAK and self._outstanding == 0 and self._commit_lock.acquire(blocking=False):
            try:
                with self._count_lock:
                    idle = self._outstanding == 0 and not self._closed
                if idle:  # nothing submitted earlier can be overtaken
                    pending: Pending[T] = Pending(fn)
                    self._commit([pending])
                    self._lone_streak += 1
                    return pending.result(0)
            finally:
                self._commit_lock.release()
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
        # A submit racing with close may have queued behind the stop marker: fail it, never hang it.
        self._fail_pending(StoreError(f"database writer is closed ({self._label})"))
        with self._commit_lock:  # a caller committing on the fast path finishes first
            _AFTER.pop(id(self._conn), None)
            self._conn.close()

    @property
    def broken(self) -> bool:
        """True once writing was stopped (see :meth:`stop_writing`)."""
        return self._broken is not None

    def stop_writing(self, error: StoreError, checkpoint: bool = False) -> str | None:
        """Refuse every write from now on with ``error`` (writes queued behind fail with it).

        With ``checkpoint``, first copy what the WAL holds into the database file through this
        connection's open handles (``wal_checkpoint(TRUNCATE)``): used when the WAL file was
        deleted under the writer, so acknowledged records are saved. Returns why that failed,
        or None.
        """
        with self._commit_lock:
            self._broken = error
            if not checkpoint:
                return None
            try:
                self._conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall()
            except Exception as err:  # noqa: BLE001 - reported to the caller, writing stops anyway
                return str(translate(err, self._label))
        return None

    def _gather(self, first: Pending[Any], expected: int) -> tuple[list[Pending[Any]], bool]:
        """Collect a group: what is queued now, plus up to :data:`LINGER_S` for the callers that
        recent commits released to queue their next write (``expected``: the largest of the last
        eight groups; the last one alone settles below the number of callers).
        Returns the group and whether the stop marker was seen."""
        group: list[Pending[Any]] = [first]
        want = min(expected, self._max_group)
        deadline = 0.0
        while len(group) < self._max_group:
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                if len(group) >= want:
                    break
                now = time.monotonic()
                if not deadline:
                    deadline = now + LINGER_S
                elif now >= deadline:
                    break
                time.sleep(0)
                continue
            if item is _STOP:
                return group, True
            group.append(item)  # type: ignore[arg-type]
        return group, False

    def _run(self) -> None:
        try:
            stop = False
            recent: collections.deque[int] = collections.deque([1], maxlen=8)
            while not stop:
                first = self._queue.get()
                if first is _STOP:
                    return
                group, stop = self._gather(first, max(recent))  # type: ignore[arg-type]
                recent.append(len(group))
                with self._commit_lock:
                    self._commit(group)
                    self._lone_streak = self._lone_streak + 1 if len(group) == 1 else 0
                with self._count_lock:
                    self._outstanding -= len(group)
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
            if isinstance(item, Pending) and not item.done():
                item._finish(None, err)

    def _commit(self, group: list[Pending[Any]]) -> None:
        conn = self._conn
        hooks = _AFTER.setdefault(id(conn), [])
        hooks.clear()
        if self._broken is not None:
            self._fail(group, self._broken)
            return
        try:
            conn.execute("BEGIN IMMEDIATE")
        except BaseException as err:  # noqa: BLE001 - handed to the waiting callers
            self._fail(group, translate(err, self._label))
            return
        try:
            outcomes: list[tuple[Any, BaseException | None]] = [(job.fn(conn), None) for job in group]
        except BaseException as err:  # noqa: BLE001 - handed to the waiting callers
            hooks.clear()
            if in_transaction(conn):
                conn.execute("ROLLBACK")
            if len(group) == 1 or _is_storage_failure(err):
                self._fail(group, translate(err, self._label))
                return
            conn.execute("BEGIN IMMEDIATE")
            isolated = self._run_isolated(group, hooks)
            if isolated is None:
                return
            outcomes = isolated
        try:
            conn.execute("COMMIT")
        except BaseException as err:  # noqa: BLE001 - handed to the waiting callers
            hooks.clear()
            if in_transaction(conn):
                conn.execute("ROLLBACK")
            self._fail(group, translate(err, self._label))
            return
        done, hooks[:] = list(hooks), []
        _run_hooks(done)
        self.commits += 1
        self.writes += len(group)
        for job, (result, error) in zip(group, outcomes, strict=True):
            job._finish(result, error)

    def _run_isolated(
        self, group: list[Pending[Any]], hooks: list[Callable[[], None]]
    ) -> list[tuple[Any, BaseException | None]] | None:
        """Second pass after a failed write: each write in its own savepoint."""
        conn = self._conn
        outcomes: list[tuple[Any, BaseException | None]] = []
        for job in group:
            conn.execute("SAVEPOINT occur_write")
            mark = len(hooks)
            try:
                result = job.fn(conn)
            except BaseException as err:  # noqa: BLE001 - handed to the waiting callers
                del hooks[mark:]  # the failed write's actions go with its rows
                if not in_transaction(conn):
                    # SQLite rolled the whole transaction back (disk full, I/O error).
                    hooks.clear()
                    self._fail(group, translate(err, self._label))
                    return None
                conn.execute("ROLLBACK TO occur_write")
                conn.execute("RELEASE occur_write")
                outcomes.append((None, translate(err, self._label)))
            else:
                conn.execute("RELEASE occur_write")
                outcomes.append((result, None))
        return outcomes

    @staticmethod
    def _fail(jobs: list[Pending[Any]], err: BaseException) -> None:
        for job in jobs:
            if not job.done():
                job._finish(None, err)


def _is_storage_failure(err: BaseException) -> bool:
    return isinstance(translate(err), StoreError)

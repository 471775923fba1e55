"""``occur bench db``: event logging throughput against the original design, same run, same disk.

The original ``Utils/db_utils.py`` opened a new ``sqlite3`` connection per event, ensured the
table existed, inserted, committed and closed, in SQLite's default rollback journal. Its
default ``synchronous=FULL`` syncs the journal and the database on every commit, so both designs
are measured at equal durability: a call that returned has its row on disk.

This firmware keeps one connection in WAL with ``synchronous=FULL`` (one WAL sync per commit)
and commits concurrent calls together (group commit). Both designs run in this process, on
fresh database files in the same folder, one after the other.
"""

from __future__ import annotations

import resource
import shutil
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from firmware.config import Paths
from firmware.store.store import Store
from occur_dev import original_system


@dataclass(frozen=True)
class Run:
    """One measured configuration."""

    design: str
    callers: int
    events: int
    seconds: float
    errors: int
    commits: int

    @property
    def events_per_s(self) -> float:
        """Events durably logged per second."""
        return self.events / self.seconds if self.seconds > 0 else 0.0


@dataclass(frozen=True)
class DbBenchReport:
    """All runs plus the process's peak RSS."""

    folder: str
    sqlite_original: str
    runs: tuple[Run, ...]
    peak_rss_kib: int

    def ratio(self, callers: int) -> float:
        """Firmware events/s divided by original events/s at ``callers`` concurrent callers."""
        ours = next(r for r in self.runs if r.design == "firmware" and r.callers == callers)
        orig = next(r for r in self.runs if r.design == "original" and r.callers == callers)
        return ours.events_per_s / orig.events_per_s if orig.events_per_s else float("inf")


def _original_log(db_path: Path) -> Callable[[int], None]:
    def log_event(n: int) -> None:
        original_system.log_face_event(db_path, "recognized", f"user_{n % 50}", None, 0.95)

    return log_event


def _measure(design: str, log_event: Callable[[int], None], callers: int, per_caller: int) -> tuple[float, int]:
    errors = [0]
    lock = threading.Lock()
    start_gate = threading.Barrier(callers + 1)

    def worker(offset: int) -> None:
        start_gate.wait()
        for i in range(per_caller):
            try:
                log_event(offset + i)
            except Exception:  # noqa: BLE001 - counted and reported; the bench goes on
                with lock:
                    errors[0] += 1

    threads = [
        threading.Thread(target=worker, args=(c * per_caller,), name=f"bench-{design}-{c}") for c in range(callers)
    ]
    for t in threads:
        t.start()
    start_gate.wait()
    began = time.perf_counter()
    for t in threads:
        t.join()
    return time.perf_counter() - began, errors[0]


def run(folder: Path | None = None, events: int = 2000, concurrency: tuple[int, ...] = (1, 8, 32)) -> DbBenchReport:
    """Measure both designs at each concurrency level.

    Args:
        folder: where the scratch databases go (use the data disk: fsync cost is the point);
            a temporary folder inside it is created and removed.
        events: events per measurement (split over the callers).
        concurrency: numbers of concurrent callers (threads).
    """
    base = Path(tempfile.mkdtemp(prefix="occur-bench-", dir=folder))
    runs: list[Run] = []
    try:
        for callers in concurrency:
            per_caller = max(1, events // callers)
            total = per_caller * callers
            orig_path = base / f"original-{callers}.db"
            seconds, errors = _measure("original", _original_log(orig_path), callers, per_caller)
            runs.append(Run("original", callers, total - errors, seconds, errors, total - errors))
            store = Store.open(Paths(base / f"firmware-{callers}"))
            try:
                commits_before = store.writer.commits

                def ours(n: int, store: Store = store) -> None:
                    store.log_face_event("recognized", f"user_{n % 50}", None, 0.95)

                seconds, errors = _measure("firmware", ours, callers, per_caller)
                commits = store.writer.commits - commits_before
            finally:
                store.close()
            runs.append(Run("firmware", callers, total - errors, seconds, errors, commits))
    finally:
        shutil.rmtree(base, ignore_errors=True)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return DbBenchReport(str(folder or tempfile.gettempdir()), original_system.sqlite_version(), tuple(runs), int(peak))

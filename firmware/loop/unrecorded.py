"""What a full disk kept the door from writing, counted, and reported once space returns.

On a full disk the door keeps deciding and opening for allowed people: records go first. What
gives way is counted here (snapshots and strangers' pictures dropped, old snapshots deleted to
make room for records, status file writes that failed, and decisions that could not be recorded
at all, for which the door stayed locked) and reported in one ``disk_space_recovered`` system
event once writing works again (or in ``system_stop``).
"""

from __future__ import annotations

import shutil
import threading
from collections import Counter
from pathlib import Path

LABELS = {
    "snapshots": "snapshot(s) dropped",
    "pictures": "stranger picture(s) dropped",
    "reclaimed": "old snapshot file(s) deleted to make room for records",
    "status_writes": "status file write(s) failed",
    "decisions": "decision(s) not recorded (the door stayed locked)",
}


def reserve_bytes(root: Path, ballast_bytes: int) -> int:
    """Free space kept for the database: a snapshot is written only when at least this much
    stays free. The ballast's size, but never more than an eighth of the file system (a small
    disk still keeps pictures while it has room)."""
    try:
        total = shutil.disk_usage(root).total
    except OSError:
        return ballast_bytes
    return max(64 * 1024, min(ballast_bytes, total // 8))


class Unrecorded:
    """Counters of what could not be written; thread-safe."""

    def __init__(self) -> None:
        self.pending: Counter[str] = Counter()
        self.totals: Counter[str] = Counter()
        self._lock = threading.Lock()

    def note(self, kind: str, count: int = 1) -> None:
        """Count ``count`` things of ``kind`` (a key of :data:`LABELS`) not written."""
        if count <= 0:
            return
        with self._lock:
            self.pending[kind] += count
            self.totals[kind] += count

    @staticmethod
    def summary(counts: Counter[str]) -> str:
        """``"1 snapshot(s) dropped, 3 status file write(s) failed"``."""
        return ", ".join(f"{n} {LABELS.get(k, k)}" for k, n in sorted(counts.items()) if n)

    def take(self) -> str:
        """The pending summary, then start counting afresh ("" when nothing is pending)."""
        with self._lock:
            text = self.summary(self.pending)
            self.pending.clear()
        return text

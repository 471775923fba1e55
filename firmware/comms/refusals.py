"""Counting refused commands instead of writing each one (pure, thread-safe).

A flood of junk on the command topic must cost the door nothing it cannot afford: no database
write and no log line per message. Refusals before a command is authenticated are counted per
source and reason here, and written as one ``command_refusals`` record per interval (see
:class:`~firmware.comms.handler.CommandHandler`). Replies to refusals are rate-limited with a
token bucket, so the door does not answer a flood with a flood.

The source is the command topic (``cmd/<name>``, unknown names folded into ``cmd/(other)`` so an
attacker cannot grow the table). MQTT does not tell a subscriber which client published a
message: the broker's log and ACLs identify the sender.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field


@dataclass
class RefusalReport:
    """Refusals counted between ``since`` and ``until`` (Unix seconds)."""

    since: float
    until: float
    counts: dict[str, dict[str, int]] = field(default_factory=dict)

    @property
    def total(self) -> int:
        """Refusals in the interval."""
        return sum(sum(reasons.values()) for reasons in self.counts.values())


class RefusalTally:
    """Counts per (source, reason); :meth:`take` hands the interval over and starts a new one."""

    MAX_REASONS = 64  # per source; beyond that counted as "(other reasons)"

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts: dict[str, dict[str, int]] = {}
        self._since = time.time()

    def add(self, source: str, reason: str) -> bool:
        """Count one refusal; True when it is the first of its source and reason in this interval
        (worth one log line)."""
        with self._lock:
            reasons = self._counts.setdefault(source, {})
            if reason not in reasons and len(reasons) >= self.MAX_REASONS:
                reason = "(other reasons)"
            first = reason not in reasons
            reasons[reason] = reasons.get(reason, 0) + 1
            return first

    def take(self) -> RefusalReport:
        """The counts since the last call (possibly empty), and a fresh interval."""
        with self._lock:
            now = time.time()
            report = RefusalReport(self._since, now, self._counts)
            self._counts, self._since = {}, now
            return report


class TokenBucket:
    """At most ``rate`` events per second on average, ``burst`` at once."""

    def __init__(self, rate: float, burst: int) -> None:
        self.rate = rate
        self.burst = float(burst)
        self._tokens = float(burst)
        self._at = time.monotonic()
        self._lock = threading.Lock()

    def allow(self) -> bool:
        """Take a token if there is one."""
        with self._lock:
            now = time.monotonic()
            self._tokens = min(self.burst, self._tokens + (now - self._at) * self.rate)
            self._at = now
            if self._tokens < 1:
                return False
            self._tokens -= 1
            return True

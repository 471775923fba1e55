"""Door access policy: pure functions of who was seen, what the door allows and when.

Denied unless every check passes: a decided match (never unknown, ambiguous or low quality), an
active user, a role this door admits, and, where the role has weekly windows, a time inside
one. The reason names the first failed check, for the records and for installers.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, time

from firmware.config import DoorConfig
from firmware.errors import ConfigError

_DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_WINDOW = re.compile(r"(\S+)\s+(\S+)\s+(\d{1,2}):(\d{2})-(\d{1,2}):(\d{2})")


@dataclass(frozen=True)
class Window:
    """Days of the week (0 = Monday) and a time span within each; ``end`` may pass midnight."""

    days: frozenset[int]
    start: time
    end: time

    def contains(self, when: datetime) -> bool:
        """True when ``when`` (local time) is inside the window."""
        t = when.time()
        if self.start <= self.end:
            return when.weekday() in self.days and self.start <= t < self.end
        yesterday = (when.weekday() - 1) % 7
        return (when.weekday() in self.days and t >= self.start) or (yesterday in self.days and t < self.end)


def _days(text: str) -> frozenset[int]:
    if text in ("daily", "*"):
        return frozenset(range(7))
    days: set[int] = set()
    for part in text.lower().split(","):
        first, _, last = part.partition("-")
        if first not in _DAYS or (last and last not in _DAYS):
            raise ValueError(f"unknown day in {text!r}")
        a, b = _DAYS.index(first), _DAYS.index(last or first)
        days.update(range(a, b + 1) if a <= b else [*range(a, 7), *range(0, b + 1)])
    return frozenset(days)


def parse_schedule(lines: tuple[str, ...]) -> dict[str, list[Window]]:
    """``'ROLE DAYS HH:MM-HH:MM'`` lines to windows per role.

    Raises:
        ConfigError: a malformed line, naming it.
    """
    windows: dict[str, list[Window]] = {}
    for line in lines:
        match = _WINDOW.fullmatch(line.strip())
        try:
            if not match:
                raise ValueError("expected 'ROLE DAYS HH:MM-HH:MM'")
            role, days, h1, m1, h2, m2 = match.groups()
            window = Window(_days(days), time(int(h1), int(m1)), time(int(h2) % 24, int(m2)))
        except ValueError as err:
            raise ConfigError([("door.schedule", f"{line!r}: {err}")]) from err
        windows.setdefault(role, []).append(window)
    return windows


@dataclass(frozen=True)
class Person:
    """What the policy needs to know about a matched user."""

    user_id: int
    role: str | None
    active: bool


@dataclass(frozen=True)
class AccessPolicy:
    """The rules of one door."""

    allowed_roles: frozenset[str]
    schedule: dict[str, list[Window]]

    @classmethod
    def from_config(cls, config: DoorConfig) -> AccessPolicy:
        """Build from ``[door]``; raises ConfigError for a bad schedule."""
        return cls(frozenset(config.allowed_roles), parse_schedule(config.schedule))

    def decide(self, decision: str, person: Person | None, when: datetime) -> tuple[bool, str]:
        """(granted, reason) for a recognition ``decision`` about ``person`` at local time ``when``."""
        if decision != "match" or person is None:
            return False, {"unknown": "unknown face", "ambiguous": "ambiguous match"}.get(decision, decision)
        if not person.active:
            return False, "user disabled"
        if self.allowed_roles and person.role not in self.allowed_roles:
            return False, f"role {person.role or '(none)'} not allowed at this door"
        windows = self.schedule.get(person.role or "", [])
        if windows and not any(w.contains(when) for w in windows):
            return False, "outside the role's schedule"
        return True, "recognised and allowed"

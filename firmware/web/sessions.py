"""Console sessions, CSRF tokens and login throttling, all in memory.

A session is a 256-bit random cookie value; the server keeps only its SHA-256, the account, a
CSRF token and two clocks: it ends after ``session_idle_s`` without use or ``session_max_s``
after login, at logout, and when the service restarts (nothing to steal from the disk). The
cookie is ``__Host-`` prefixed, ``Secure``, ``HttpOnly`` and ``SameSite=Strict``.

Login throttling is per client address (a sliding minute of ``login_rate_per_min`` attempts);
lock-out per account lives in the database (:mod:`firmware.security.accounts`). Names that are
no account are "locked" here the same way, so the answers do not tell which names exist.
"""

from __future__ import annotations

import collections
import hashlib
import hmac
import secrets
import threading
import time
from dataclasses import dataclass, field

COOKIE = "__Host-occur_session"
PRE_COOKIE = "__Host-occur_login"  # the login form's CSRF token, before there is a session
_MAX_SESSIONS = 256
_MAX_TRACKED = 4096


def cookie(name: str, value: str, max_age: int | None = None) -> str:
    """A Set-Cookie value with every protection a browser offers."""
    age = f"; Max-Age={max_age}" if max_age is not None else ""
    return f"{name}={value}; Path=/; Secure; HttpOnly; SameSite=Strict{age}"


def _key(token: str) -> bytes:
    return hashlib.sha256(token.encode("utf-8", "replace")).digest()


@dataclass
class Session:
    """A logged-in browser."""

    account_id: int
    name: str
    role: str
    csrf: str
    started: float
    last_used: float
    flash: list[str] = field(default_factory=list)

    @property
    def is_admin(self) -> bool:
        """Admins act; viewers only look."""
        return self.role == "admin"


class Sessions:
    """Live sessions; thread-safe. ``clock`` is ``time.monotonic`` (seconds)."""

    def __init__(self, idle_s: float, max_s: float) -> None:
        self.idle_s = idle_s
        self.max_s = max_s
        self._lock = threading.Lock()
        self._live: dict[bytes, Session] = {}

    def start(self, account_id: int, name: str, role: str) -> tuple[str, Session]:
        """A new session; returns the cookie value (shown to the browser only) and the session."""
        token = secrets.token_urlsafe(32)
        now = time.monotonic()
        session = Session(account_id, name, role, secrets.token_urlsafe(32), now, now)
        with self._lock:
            self._expire(now)
            if len(self._live) >= _MAX_SESSIONS:
                oldest = min(self._live, key=lambda k: self._live[k].last_used)
                del self._live[oldest]
            self._live[_key(token)] = session
        return token, session

    def get(self, token: str | None) -> Session | None:
        """The live session for a cookie value, touched; None when unknown or expired."""
        if not token:
            return None
        now = time.monotonic()
        with self._lock:
            self._expire(now)
            session = self._live.get(_key(token))
            if session is not None:
                session.last_used = now
            return session

    def end(self, token: str | None) -> None:
        """Log out."""
        if token:
            with self._lock:
                self._live.pop(_key(token), None)

    def end_account(self, account_id: int) -> None:
        """Log an account out everywhere (removed, password changed)."""
        with self._lock:
            self._live = {k: s for k, s in self._live.items() if s.account_id != account_id}

    def _expire(self, now: float) -> None:
        dead = [k for k, s in self._live.items() if now - s.last_used > self.idle_s or now - s.started > self.max_s]
        for k in dead:
            del self._live[k]


def same_token(expected: str, given: str) -> bool:
    """Constant-time comparison of CSRF tokens; an empty one never matches."""
    return bool(expected) and bool(given) and hmac.compare_digest(expected.encode(), given.encode())


class Throttle:
    """At most ``per_minute`` events per key in any sliding minute."""

    def __init__(self, per_minute: int) -> None:
        self.per_minute = per_minute
        self._lock = threading.Lock()
        self._seen: dict[str, collections.deque[float]] = {}

    def allow(self, key: str) -> bool:
        """Count an attempt; False when the key already used its minute."""
        now = time.monotonic()
        with self._lock:
            if len(self._seen) > _MAX_TRACKED:
                self._seen = {k: q for k, q in self._seen.items() if q and now - q[-1] < 60}
            queue = self._seen.setdefault(key, collections.deque())
            while queue and now - queue[0] >= 60:
                queue.popleft()
            if len(queue) >= self.per_minute:
                return False
            queue.append(now)
            return True


class PhantomLocks:
    """Failure counts for login names that are no account, locked like real ones."""

    def __init__(self, failures: int, lockout_s: float) -> None:
        self.failures = failures
        self.lockout_s = lockout_s
        self._lock = threading.Lock()
        self._state: dict[str, tuple[int, float]] = {}

    def fail(self, name: str) -> bool:
        """Count a failure; True when the name is (now) locked."""
        now = time.monotonic()
        with self._lock:
            if len(self._state) > _MAX_TRACKED:
                self._state.clear()
            count, until = self._state.get(name, (0, 0.0))
            if until > now:
                return True
            count += 1
            if count >= self.failures:
                self._state[name] = (0, now + self.lockout_s)
                return True
            self._state[name] = (count, 0.0)
            return False

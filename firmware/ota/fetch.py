"""HTTP(S) GET with a deadline for the whole download, not for each read.

Why not urllib or urllib3 alone: their timeouts bound each socket read, so a server that sends
one byte every few seconds (headers included) keeps a download alive for hours. Here a watchdog
shuts the socket down when the deadline passes, whatever phase the request is in (status line,
headers or body), and the caller gets :class:`DeadlineError` instead of a short file. Every
read also waits at most ``stall_s`` for data.

Proxies follow the usual ``http_proxy`` / ``https_proxy`` / ``no_proxy`` variables (HTTPS
through a CONNECT tunnel), as urllib does. Certificates are checked against the system's CAs.
"""

from __future__ import annotations

import contextlib
import http.client
import socket
import ssl
import threading
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

CHUNK = 64 << 10


class FetchError(OSError):
    """The server could not be reached or answered with an error status (``status`` set)."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class DeadlineError(FetchError):
    """The download was still going when its deadline passed (``received`` bytes of the body
    had arrived and been handed to the caller)."""

    def __init__(self, url: str, deadline_s: float, received: int) -> None:
        super().__init__(f"{url}: not complete at the deadline of {deadline_s:g} s ({received} bytes received)")
        self.received = received


@dataclass
class Response:
    """An open response: status, headers and the body in chunks, each read bounded by the
    deadline. ``received`` counts body bytes so far."""

    status: int
    headers: http.client.HTTPMessage
    _raw: http.client.HTTPResponse
    _watch: _Watchdog
    url: str
    received: int = 0

    def chunks(self, size: int = CHUNK) -> Iterator[bytes]:
        """The body, as it arrives.

        Raises:
            DeadlineError: the deadline passed first. FetchError: the connection failed.
        """
        while True:
            try:
                block = self._raw.read1(size)
            except (OSError, http.client.HTTPException) as err:
                self._watch.check(self.received)
                raise FetchError(f"{self.url}: download interrupted ({err})") from err
            self._watch.check(self.received)
            if not block:
                return
            self.received += len(block)
            yield block


class _Watchdog:
    """Shuts the connection's socket down at the deadline, from its own timer thread. It holds
    the descriptor from the moment TCP connects, so a proxy tunnel or a TLS handshake that drips
    is cut too; it shuts down a duplicate of the descriptor, which works whatever object wraps it."""

    def __init__(self, url: str, deadline_s: float) -> None:
        self.url = url
        self.deadline_s = deadline_s
        self.ends = time.monotonic() + deadline_s
        self.fired = False
        self._fd: int | None = None
        self._done = False
        self._lock = threading.Lock()
        self._timer = threading.Timer(deadline_s, self._fire)
        self._timer.daemon = True
        self._timer.start()

    def remaining(self) -> float:
        """Seconds left (raises DeadlineError when none)."""
        left = self.ends - time.monotonic()
        if left <= 0:
            self.check(0)
        return left

    def register(self, sock: socket.socket) -> socket.socket:
        """Watch ``sock`` (a new TCP connection); shut it at once if the deadline has passed."""
        with self._lock:
            self._fd = sock.fileno()
            late = self.fired
        if late:
            self._fire()
        return sock

    def _fire(self) -> None:
        with self._lock:
            self.fired = True
            if self._fd is None or self._done:
                return
            with contextlib.suppress(OSError), socket.fromfd(self._fd, socket.AF_INET, socket.SOCK_STREAM) as dup:
                dup.shutdown(socket.SHUT_RDWR)

    def check(self, received: int) -> None:
        """Raise DeadlineError if the deadline has passed."""
        if self.fired or time.monotonic() >= self.ends:
            self.fired = True
            raise DeadlineError(self.url, self.deadline_s, received)

    def cancel(self) -> None:
        """Stop watching (before the connection is closed, so a late timer never touches a
        descriptor number that was reused)."""
        with self._lock:
            self._done = True
        self._timer.cancel()


def _watched(watch: _Watchdog) -> Any:
    """``socket.create_connection`` that hands the new socket to ``watch``."""

    def create(*args: Any, **kwargs: Any) -> socket.socket:
        return watch.register(socket.create_connection(*args, **kwargs))

    return create


class _WatchedHTTP(http.client.HTTPConnection):
    """An HTTP connection whose TCP socket the watchdog knows as soon as it exists."""

    def __init__(self, host: str, port: int | None, timeout: float, watch: _Watchdog) -> None:
        super().__init__(host, port, timeout=timeout)
        self._create_connection = _watched(watch)  # http.client's hook for opening the TCP socket


class _WatchedHTTPS(http.client.HTTPSConnection):
    """The same for HTTPS: the socket is watched before the TLS handshake."""

    def __init__(self, host: str, port: int | None, timeout: float, watch: _Watchdog) -> None:
        super().__init__(host, port, timeout=timeout, context=ssl.create_default_context())
        self._create_connection = _watched(watch)


def _connection(url: str, timeout: float, watch: _Watchdog) -> tuple[http.client.HTTPConnection, str]:
    """A connection for ``url`` (through a proxy when the environment names one) and the
    request target to send."""
    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise FetchError(f"{url}: only http and https URLs are supported")
    target = parts.path or "/"
    if parts.query:
        target += "?" + parts.query
    proxy = urllib.request.getproxies().get(parts.scheme)
    if proxy and urllib.request.proxy_bypass(parts.hostname):
        proxy = None
    if proxy is None:
        kind = _WatchedHTTPS if parts.scheme == "https" else _WatchedHTTP
        return kind(parts.hostname, parts.port, timeout, watch), target
    via = urllib.parse.urlsplit(proxy if "://" in proxy else f"http://{proxy}")
    if parts.scheme == "http":
        return _WatchedHTTP(via.hostname or "", via.port, timeout, watch), url
    conn = _WatchedHTTPS(via.hostname or "", via.port, timeout, watch)
    conn.set_tunnel(parts.hostname, parts.port or 443)
    return conn, target


@contextmanager
def get(url: str, deadline_s: float, stall_s: float, headers: dict[str, str] | None = None) -> Iterator[Response]:
    """Open ``url``; the whole exchange (connect, headers, body) must end within ``deadline_s``.

    Raises:
        DeadlineError: the deadline passed. FetchError: connection failed or status >= 400.
    """
    watch = _Watchdog(url, deadline_s)
    try:
        conn, target = _connection(url, min(stall_s, deadline_s), watch)
    except BaseException:
        watch.cancel()
        raise
    try:
        try:
            conn.connect()
            if conn.sock is not None:
                conn.sock.settimeout(max(0.01, min(stall_s, watch.remaining())))
            conn.request("GET", target, headers={"User-Agent": "occur-firmware", **(headers or {})})
            raw = conn.getresponse()
        except (OSError, http.client.HTTPException) as err:
            watch.check(0)
            raise FetchError(f"{url}: {err}") from err
        watch.check(0)
        if raw.status >= 400:
            raise FetchError(f"{url}: HTTP {raw.status} {raw.reason}", raw.status)
        yield Response(raw.status, raw.headers, raw, watch, url)
    finally:
        watch.cancel()
        conn.close()

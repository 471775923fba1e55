"""The only module that imports Tornado: HTTPS server, request bodies, templates, static files.

Why Tornado (see the README): one dependency with no others, an HTTP/1.1 server with TLS from
the standard ``ssl`` module, streaming request bodies (so an oversized upload gets a clear page
instead of a dropped connection), multipart parsing with limits, and auto-escaping templates;
pure Python with an optional C speed-up, abi3 wheels for aarch64. It runs on one thread of its
own (an asyncio loop); page code runs on a pool of two worker threads, so a slow page never
stalls the event loop and the console never uses more than two cores' worth of threads.

The rest of the console is plain functions ``(Request) -> Response`` and never sees Tornado.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import ssl
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

import tornado.httpserver
import tornado.httputil
import tornado.ioloop
import tornado.netutil
import tornado.template
import tornado.web

from firmware.errors import OccurError

log = logging.getLogger(__name__)
HERE = Path(__file__).resolve().parent
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; img-src 'self'; style-src 'self'; script-src 'self'; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Strict-Transport-Security": "max-age=31536000",
    "Cache-Control": "no-store",
}
STATIC_TYPES = {".css": "text/css; charset=utf-8", ".js": "text/javascript; charset=utf-8"}


@dataclass(frozen=True)
class Upload:
    """One uploaded file, held in memory only (never written to disk)."""

    filename: str
    content_type: str
    body: bytes


@dataclass
class Request:
    """What a page function gets."""

    method: str
    path: str
    params: dict[str, str]
    query: dict[str, list[str]]
    form: dict[str, list[str]]
    files: dict[str, list[Upload]]
    headers: dict[str, str]
    cookies: dict[str, str]
    remote_ip: str
    body: bytes = b""
    too_large: int = 0  # bytes of a body refused for its size (0 = within the limit)

    def arg(self, name: str, default: str = "") -> str:
        """A form field, else a query parameter, else ``default`` (first value, stripped)."""
        values = self.form.get(name) or self.query.get(name)
        return values[0].strip() if values else default


@dataclass
class Response:
    """What a page function returns."""

    status: int = 200
    body: bytes = b""
    content_type: str = "text/html; charset=utf-8"
    headers: dict[str, str] = field(default_factory=dict)
    cookies: list[str] = field(default_factory=list)  # whole Set-Cookie values


Handler = Callable[[str, Request], Response]


class Templates:
    """Auto-escaping templates from ``firmware/web/templates``."""

    def __init__(self) -> None:
        self._loader = tornado.template.Loader(str(HERE / "templates"), autoescape="xhtml_escape")

    def render(self, template: str, /, **values: Any) -> bytes:
        """The page ``template`` filled with ``values``."""
        return bytes(self._loader.load(template).generate(**values))


def _decode(values: dict[str, list[bytes]]) -> dict[str, list[str]]:
    return {k: [v.decode("utf-8", "replace") for v in vs] for k, vs in values.items()}


@tornado.web.stream_request_body
class _Dispatch(tornado.web.RequestHandler):
    """Every route: reads the body (within the limit), runs the page function on the pool."""

    def initialize(self, server: Server, route: str) -> None:
        self.server = server
        self.route = route
        self.chunks: list[bytes] = []
        self.received = 0
        self.declared = 0

    def prepare(self) -> None:
        self.declared = int(self.request.headers.get("Content-Length", "0") or 0)
        if self.request.method in ("POST", "PUT") and self.request.connection is not None:
            # read (and drop) bodies up to four times the limit, so the sender gets a page that
            # says what went wrong; beyond that the connection is closed
            cast(Any, self.request.connection).set_max_body_size(4 * self.server.max_body)

    def data_received(self, chunk: bytes) -> None:
        self.received += len(chunk)
        if self.received <= self.server.max_body and self.declared <= self.server.max_body:
            self.chunks.append(chunk)
        else:
            self.chunks.clear()

    def _request(self) -> Request:
        req = self.request
        body = b"".join(self.chunks)
        self.chunks.clear()
        too_large = max(self.received, self.declared) if max(self.received, self.declared) > self.server.max_body else 0
        args: dict[str, list[bytes]] = {}
        files: dict[str, list[tornado.httputil.HTTPFile]] = {}
        if body and not too_large:
            try:
                tornado.httputil.parse_body_arguments(
                    req.headers.get("Content-Type", ""), body, args, files, req.headers
                )
            except tornado.httputil.HTTPInputError as err:
                log.warning("web: unreadable request body from %s: %s", req.remote_ip, err)
        return Request(
            method=req.method or "GET",
            path=req.path,
            params={k: str(v) for k, v in self.path_kwargs.items()},
            query=_decode(req.query_arguments),
            form=_decode(args),
            files={k: [Upload(f.filename, f.content_type, f.body) for f in fs] for k, fs in files.items()},
            headers={k.lower(): v for k, v in req.headers.get_all()},
            cookies={k: v.value for k, v in req.cookies.items()},
            remote_ip=req.remote_ip or "",
            body=body if not files else b"",
            too_large=too_large,
        )

    async def _run(self, **_kwargs: str) -> None:
        request = self._request()
        loop = asyncio.get_running_loop()
        response = await loop.run_in_executor(self.server.pool, self.server.handler, self.route, request)
        self.set_status(response.status)
        for name, value in {**SECURITY_HEADERS, **response.headers}.items():
            self.set_header(name, value)
        self.set_header("Content-Type", response.content_type)
        for cookie in response.cookies:
            self.add_header("Set-Cookie", cookie)
        self.finish(response.body)

    get = post = put = delete = _run

    def compute_etag(self) -> None:
        return None

    def set_default_headers(self) -> None:
        self.clear_header("Server")


class _Static(tornado.web.RequestHandler):
    """The console's CSS and script (two small files, read once)."""

    def initialize(self, files: dict[str, bytes]) -> None:
        self.files = files

    def get(self, name: str) -> None:
        body = self.files.get(name)
        if body is None:
            raise tornado.web.HTTPError(404)
        self.set_header("Content-Type", STATIC_TYPES[Path(name).suffix])
        for key, value in SECURITY_HEADERS.items():
            self.set_header(key, value)
        self.set_header("Cache-Control", "max-age=3600")
        self.finish(body)


def tls_context(cert_file: Path, key_file: Path) -> ssl.SSLContext:
    """Server TLS: 1.2 or newer, the standard library's default ciphers.

    Raises:
        OccurError: the certificate or key cannot be loaded, naming the file.
    """
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    try:
        context.load_cert_chain(str(cert_file), str(key_file))
    except (OSError, ssl.SSLError) as err:
        raise OccurError(f"web console TLS: cannot load {cert_file} / {key_file}: {err}") from err
    return context


class Server:
    """The HTTPS server on its own thread.

    Args:
        routes: (URL pattern with named groups, route name) pairs; ``handler(route, request)``
            answers them on the worker pool.
    """

    def __init__(self, handler: Handler, routes: list[tuple[str, str]], max_body: int) -> None:
        self.handler = handler
        self.routes = routes
        self.max_body = max_body
        self.pool = concurrent.futures.ThreadPoolExecutor(max_workers=2, thread_name_prefix="occur-web")
        self._thread: threading.Thread | None = None
        self._loop: tornado.ioloop.IOLoop | None = None
        self._http: tornado.httpserver.HTTPServer | None = None
        self.port = 0

    def start(self, host: str, port: int, context: ssl.SSLContext) -> None:
        """Listen on ``host:port`` (0 = any free port, then :attr:`port`) and serve in the background.

        Raises:
            OccurError: the address cannot be bound.
        """
        static = {p.name: p.read_bytes() for p in (HERE / "static").iterdir() if p.suffix in STATIC_TYPES}
        started = threading.Event()
        failure: list[BaseException] = []

        def serve() -> None:
            asyncio.set_event_loop(asyncio.new_event_loop())
            app = tornado.web.Application(
                [(r"/static/([a-z0-9_.-]+)", _Static, {"files": static})]
                + [(pattern, _Dispatch, {"server": self, "route": name}) for pattern, name in self.routes],
                default_handler_class=_Dispatch,
                default_handler_args={"server": self, "route": "not_found"},
                compress_response=False,
            )
            self._http = tornado.httpserver.HTTPServer(
                app,
                ssl_options=context,
                max_header_size=64 * 1024,
                max_body_size=4 * self.max_body,
                idle_connection_timeout=60,
                body_timeout=120,
                xheaders=False,
            )
            try:
                sockets = tornado.netutil.bind_sockets(port, host)
            except OSError as err:
                failure.append(err)
                started.set()
                return
            self.port = sockets[0].getsockname()[1]
            self._http.add_sockets(sockets)
            self._loop = tornado.ioloop.IOLoop.current()
            started.set()
            self._loop.start()

        self._thread = threading.Thread(target=serve, name="occur-web", daemon=True)
        self._thread.start()
        started.wait(30)
        if failure:
            raise OccurError(f"web console: cannot listen on {host}:{port}: {failure[0]}")
        log.info("web console on https://%s:%d/", host, self.port)

    def stop(self) -> None:
        """Stop listening, end the loop and the workers. Idempotent."""
        loop, self._loop = self._loop, None
        if loop is not None:
            http = self._http

            def shutdown() -> None:
                if http is not None:
                    http.stop()
                loop.stop()

            loop.add_callback(shutdown)
            if self._thread is not None:
                self._thread.join(10)
        self.pool.shutdown(wait=True, cancel_futures=True)

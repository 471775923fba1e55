"""A static HTTP server for a TUF repository folder that can drip chosen files: headers at once,
then one byte every ``interval_s``, so no single read ever waits long enough for a per-read
timeout. What a hostile or broken mirror does to hold a device's update check for hours."""

from __future__ import annotations

import contextlib
import re
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from tests.comms.broker import free_port


@dataclass
class DripServer:
    """Serves ``root`` on a free loopback port; paths matching ``drip`` (a regex) are dripped."""

    root: Path
    drip: str = r"$^"
    interval_s: float = 0.5
    headers_too: bool = False  # drip the status line and headers as well
    port: int = field(default_factory=free_port)
    dripped: list[str] = field(default_factory=list)

    def start(self) -> None:
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                with contextlib.suppress(BrokenPipeError, ConnectionResetError):  # the client gave up
                    self._serve()

            def _serve(self) -> None:
                path = server.root / self.path.split("?")[0].lstrip("/")
                if not path.is_file():
                    self.send_error(404)
                    return
                body = path.read_bytes()
                start = 0
                match = re.fullmatch(r"bytes=(\d+)-", self.headers.get("Range", ""))
                if match:
                    start = int(match.group(1))
                if server.headers_too and re.search(server.drip, self.path):
                    server.dripped.append(self.path)
                    head = f"HTTP/1.1 200 OK\r\nContent-Length: {len(body)}\r\nX-Padding: {'x' * 200}\r\n\r\n"
                    for byte in head.encode() + body:
                        self.wfile.write(bytes([byte]))
                        self.wfile.flush()
                        time.sleep(server.interval_s)
                    return
                self.send_response(206 if start else 200)
                self.send_header("Content-Length", str(len(body) - start))
                self.end_headers()
                if re.search(server.drip, self.path):
                    server.dripped.append(self.path)
                    for i in range(start, len(body)):
                        self.wfile.write(body[i : i + 1])
                        self.wfile.flush()
                        time.sleep(server.interval_s)
                else:
                    self.wfile.write(body[start:])

            def log_message(self, *_args: Any) -> None:
                pass

        self._httpd = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()

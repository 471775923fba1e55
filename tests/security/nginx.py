"""Debian's nginx on a free loopback port, accepting PUT into a folder (WebDAV ``dav_methods``)."""

from __future__ import annotations

import getpass
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

from tests.comms.broker import free_port, wait_port

NGINX = "/usr/sbin/nginx"


@dataclass
class Nginx:
    """nginx serving ``folder/root`` with PUT enabled."""

    folder: Path
    port: int = field(default_factory=free_port)

    @property
    def root(self) -> Path:
        return self.folder / "root"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/backups"

    def start(self) -> None:
        (self.root / "backups").mkdir(parents=True, exist_ok=True)
        (self.folder / "tmp").mkdir(exist_ok=True)
        conf = self.folder / "nginx.conf"
        conf.write_text(f"""
user {getpass.getuser()};
daemon off;
pid {self.folder}/nginx.pid;
error_log {self.folder}/error.log;
events {{ worker_connections 64; }}
http {{
    access_log {self.folder}/access.log;
    client_body_temp_path {self.folder}/tmp;
    proxy_temp_path {self.folder}/tmp;
    fastcgi_temp_path {self.folder}/tmp;
    uwsgi_temp_path {self.folder}/tmp;
    scgi_temp_path {self.folder}/tmp;
    client_max_body_size 100m;
    server {{
        listen 127.0.0.1:{self.port};
        root {self.root};
        location /backups/ {{ dav_methods PUT; create_full_put_path on; }}
    }}
}}
""")
        self.proc = subprocess.Popen(
            [NGINX, "-c", str(conf), "-p", str(self.folder)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        wait_port(self.port)

    def stop(self) -> None:
        if getattr(self, "proc", None) is not None and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(10)
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            import socket

            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", self.port)) != 0:
                    return
            time.sleep(0.05)

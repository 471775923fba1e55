"""A running door with its console for the web tests: ``occur run``'s code on a thread, mock
GPIO pins, and a camera sensor simulated by frames the test puts in front of it (real photos,
decoded by the firmware's own image code)."""

from __future__ import annotations

import http.client
import json
import queue
import socket
import ssl
import threading
import time
import urllib.parse
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import pytest

from firmware import service
from firmware.config import Config, DoorConfig, LoopConfig, WebConfig
from firmware.crypto.keys import certificate_spki_sha256, make_tls_certificate
from firmware.domain import Frame
from firmware.imaging.image import read_image_limited
from firmware.security import accounts
from firmware.store.store import Store
from tests.conftest import SHARED

FACES = SHARED / "data" / "faces"
IDLE = FACES / "noface" / "coco_000000098261.jpg"
ADMIN, ADMIN_PW = "alice", "correct horse battery"
VIEWER, VIEWER_PW = "victor", "viewer password 1"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class FeedCamera:
    """The simulated sensor: frames queued by the test, else an empty scene, at about 20 fps."""

    name = "feed:test"

    def __init__(self) -> None:
        self.frames: queue.Queue[Path] = queue.Queue()
        self.index = 0
        self.idle = read_image_limited(IDLE)[0]

    def open(self) -> None:
        return None

    def read(self) -> Frame | None:
        try:
            image = read_image_limited(self.frames.get(timeout=0.05))[0]
        except queue.Empty:
            image = self.idle
        self.index += 1
        return Frame(image, time.time(), self.index)

    def close(self) -> None:
        return None

    def visit(self, photo: Path, frames: int = 8) -> None:
        """One person in front of the door for ``frames`` frames."""
        for _ in range(frames):
            self.frames.put(photo)

    def wait_until_showing(self, queued: int, timeout_s: float = 60.0) -> None:
        """Block until the door has read a few of the ``queued`` frames of a visit, so that its
        newest frame is that visit's (a loaded machine may take seconds to get there)."""
        deadline = time.monotonic() + timeout_s
        while self.frames.qsize() > queued - 3:
            assert time.monotonic() < deadline, "the door read none of the visit's frames"
            time.sleep(0.05)


@dataclass
class Door:
    """The running door and how to reach its console."""

    config: Config
    camera: FeedCamera
    port: int
    cert: Path
    pin: str
    decisions: list[Any] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"https://127.0.0.1:{self.port}"

    def request(self, method: str, path: str, body: bytes | None = None, headers: dict[str, str] | None = None,
                cookie: str = "") -> tuple[int, dict[str, str], bytes]:  # fmt: skip
        context = ssl.create_default_context(cafile=str(self.cert))
        conn = http.client.HTTPSConnection("127.0.0.1", self.port, context=context, timeout=30)
        try:
            sent = dict(headers or {})
            if cookie:
                sent["Cookie"] = cookie
            conn.request(method, path, body=body, headers=sent)
            response = conn.getresponse()
            got: dict[str, str] = {}
            for key, value in response.getheaders():
                got[key.lower()] = f"{got[key.lower()]}\n{value}" if key.lower() in got else value
            return response.status, got, response.read()
        finally:
            conn.close()

    def login(self, name: str, password: str) -> tuple[str, str]:
        """Log in without a browser; returns (cookie header, a CSRF token of the session)."""
        status, headers, body = self.request("GET", "/login")
        pre = headers["set-cookie"].split(";")[0]
        token = body.decode().split('name="_csrf" value="')[1].split('"')[0]
        form = urllib.parse.urlencode({"name": name, "password": password, "_csrf": token}).encode()
        status, headers, body = self.request(
            "POST", "/login", form, {"Content-Type": "application/x-www-form-urlencoded"}, pre
        )
        assert status == 303, body
        session = next(
            c.split(";")[0] for c in headers["set-cookie"].split("\n") if c.startswith("__Host-occur_session")
        )
        status, _, page = self.request("GET", "/", cookie=session)
        csrf = page.decode().split('name="_csrf" value="')[1].split('"')[0]
        return session, csrf

    def api(self, method: str, path: str, token: str, body: bytes | None = None,
            headers: dict[str, str] | None = None) -> tuple[int, Any]:  # fmt: skip
        status, _, data = self.request(method, path, body, {"Authorization": f"Bearer {token}", **(headers or {})})
        return status, json.loads(data)


def make_config(root: Path, **web: Any) -> Config:
    config = Config(data_dir=root / "data")
    return replace(
        config,
        door=DoorConfig(pulse_s=0.3),
        loop=LoopConfig(cooldown_s=0.0, agree_frames=3),
        web=WebConfig(enabled=True, host="127.0.0.1", port=free_port(), **web),
        # the console tests start from one enrolled person; the door's rule that one person alone
        # is never named (min_people = 2) is tested in tests/vision and tests/recognition
        vision=replace(config.vision, min_people=1),
    )


@contextmanager
def running_door(root: Path, **web: Any) -> Iterator[Door]:
    """Start ``occur run`` with the console; accounts alice (admin) and victor (viewer)."""
    config = make_config(root, **web)
    folder = config.paths.root / "web"
    make_tls_certificate(folder / "key.pem", folder / "cert.pem", ["localhost", "127.0.0.1"])
    with Store.open(config.paths) as store:
        accounts.create(store, ADMIN, "admin", ADMIN_PW, "test")
        accounts.create(store, VIEWER, "viewer", VIEWER_PW, "test")
    camera = FeedCamera()
    door = Door(config, camera, config.web.port, folder / "cert.pem",
                certificate_spki_sha256((folder / "cert.pem").read_bytes()))  # fmt: skip
    stop = threading.Event()
    errors: list[BaseException] = []

    def run() -> None:
        try:
            service.run(config, "feed:test", gpio="mock", stop=stop, on_decision=door.decisions.append)
        except BaseException as err:
            errors.append(err)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(service, "make_camera", lambda spec, cfg: camera)
        runner = threading.Thread(target=run, name="door", daemon=True)
        runner.start()
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not errors:
            try:
                door.request("GET", "/login")
                break
            except OSError:
                time.sleep(0.1)
        if errors:
            raise errors[0]
        try:
            yield door
        finally:
            stop.set()
            runner.join(30)


def multipart(fields: dict[str, str], files: list[tuple[str, str, bytes]]) -> tuple[bytes, dict[str, str]]:
    """A multipart/form-data body: ``files`` are (field, file name, bytes)."""
    boundary = "----occur-test-boundary"
    parts = [
        f'--{boundary}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n'.encode() for k, v in fields.items()
    ]
    for field_name, filename, data in files:
        head = f'--{boundary}\r\nContent-Disposition: form-data; name="{field_name}"; filename="{filename}"\r\n'
        parts.append(head.encode() + b"Content-Type: application/octet-stream\r\n\r\n" + data + b"\r\n")
    parts.append(f"--{boundary}--\r\n".encode())
    return b"".join(parts), {"Content-Type": f"multipart/form-data; boundary={boundary}"}

"""Door inputs on MockFactory pins, camera outages and reconnects, video replay, sd_notify,
and ``occur run`` as a real process stopped by SIGTERM."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from firmware import service
from firmware.config import Config, DoorConfig
from firmware.domain import Frame
from firmware.errors import CameraError
from firmware.hw.camera import make_camera, parse_source
from firmware.hw.door import Door, mock_factory
from firmware.hw.resilient import ResilientCamera
from firmware.imaging.image import read_image
from firmware.loop.door_inputs import DoorInputs, InputRelay
from firmware.platform import sdnotify
from tests.conftest import REPO, SHARED, query

FACES = SHARED / "data" / "faces"


def wait_for(condition: object, timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():  # type: ignore[operator]
            return True
        time.sleep(0.01)
    return False


class FakeClock:
    """Monotonic seconds that move only when the test says so."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_door_inputs_become_actions_and_records(tmp_path: Path) -> None:
    config = replace(
        Config(data_dir=tmp_path / "data"),
        door=DoorConfig(pulse_s=0.3, contact_pin=5, exit_button_pin=6, tamper_pin=13, held_open_s=1.0),
    )
    from firmware.store.store import Store

    store = Store.open(config.paths)
    clock = FakeClock()
    relay = InputRelay()
    factory = mock_factory()
    door = Door(config.door, factory, on_input=relay)
    contacts: list[str] = []
    contact, exit_button, tamper = factory.pin(5), factory.pin(6), factory.pin(13)
    try:
        contact.drive_low()  # door shut (contact closed) before the policy is attached: kept, not lost
        inputs = DoorInputs(config.door, store, door, on_contact=contacts.append, clock=clock)
        inputs.tick()  # the door never opened: nothing held open
        relay.attach(inputs)
        exit_button.drive_low()
        assert wait_for(lambda: door.unlocked)
        exit_button.drive_high()
        assert wait_for(lambda: not door.unlocked)
        contact.drive_high()  # opened while locked
        assert wait_for(lambda: contacts[-1:] == ["open"])
        clock.now += 1.0  # exactly the limit: not yet held open
        inputs.tick()
        clock.now += 0.01
        inputs.tick()
        inputs.tick()  # once per opening
        contact.drive_low()
        tamper.drive_low()
        assert wait_for(lambda: len(query(config.paths, "SELECT id FROM door_events")) >= 6)
    finally:
        door.close()
        store.close()
    outcomes = [r[0] for r in query(config.paths, "SELECT outcome FROM door_events ORDER BY id")]
    assert outcomes == ["closed", "exit_request", "forced_open", "held_open", "closed", "tamper"]
    assert contacts == ["closed", "open", "closed"]
    kinds = [r[0] for r in query(config.paths, "SELECT kind FROM outbox ORDER BY seq")]
    assert kinds == ["door"] * 6  # every input is an MQTT event, written with its row
    assert factory.pin(17).state is False


class FlakyCamera:
    """A sensor that delivers 3 frames, fails 4 reads, then delivers again (simulated hardware)."""

    name = "flaky"

    def __init__(self) -> None:
        self.reads = 0
        self.opens = 0

    def open(self) -> None:
        self.opens += 1

    def read(self) -> Frame | None:
        self.reads += 1
        if 4 <= self.reads <= 7:
            raise CameraError("unplugged")
        return Frame(np.zeros((8, 8, 3), np.uint8), time.time(), self.reads)

    def close(self) -> None:
        pass


def test_camera_outage_is_reported_once_and_the_camera_reopened() -> None:
    outages: list[str] = []
    recoveries: list[float] = []
    flaky = FlakyCamera()
    camera = ResilientCamera(flaky, 0.05, outages.append, recoveries.append)
    frames = [camera.read() for _ in range(5)]
    assert all(f is not None for f in frames)
    assert outages == ["unplugged"] and len(recoveries) == 1
    assert flaky.opens == 5  # first open, then one per failed read


def test_camera_specs_are_explicit() -> None:
    assert parse_source("replay:/x") == ("replay", "/x")
    assert parse_source("opencv:0") == ("opencv", "0")
    for bad in ("usb", "opencv", "replay:", "picam"):
        with pytest.raises(ValueError):
            parse_source(bad)
    with pytest.raises(CameraError, match="does not exist"):
        make_camera("replay:/nonexistent", Config().camera)


def test_a_missing_picamera2_is_an_error_not_a_fallback() -> None:
    camera = make_camera("picamera2", Config().camera)
    with pytest.raises(CameraError, match="picamera2"):
        camera.open()


def test_video_file_replay_reaches_a_decision(tmp_path: Path) -> None:
    import cv2

    video = tmp_path / "visit.avi"
    image = read_image(sorted((FACES / "amy").glob("*.jpg"))[0])
    writer = cv2.VideoWriter(str(video), cv2.VideoWriter_fourcc(*"MJPG"), 10, (image.shape[1], image.shape[0]))
    for _ in range(8):
        writer.write(image)
    writer.release()
    config = replace(Config(data_dir=tmp_path / "data"), camera=replace(Config().camera, fps=0.0))
    report = service.run(config, f"replay:{video}", gpio="mock", until_end=True)
    assert report.frames == 8 and [d.kind for d in report.decisions] == ["unknown"]


def test_sd_notify_sends_datagrams(tmp_path: Path) -> None:
    path = tmp_path / "notify.sock"
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as server:
        server.bind(str(path))
        assert sdnotify.notify("READY=1", {"NOTIFY_SOCKET": str(path)}) is True
        assert server.recv(100) == b"READY=1"
    assert sdnotify.notify("READY=1", {}) is False
    assert sdnotify.watchdog_interval_s({"WATCHDOG_USEC": "20000000"}) == 10.0


def test_occur_run_process_stops_cleanly_on_sigterm(tmp_path: Path) -> None:
    replay = tmp_path / "replay"
    replay.mkdir()
    source = sorted((FACES / "noface").glob("*.jpg"))[0]
    for i in range(400):
        os.symlink(source, replay / f"{i:04d}.jpg")
    data = tmp_path / "data"
    sock = tmp_path / "notify.sock"
    server = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    server.bind(str(sock))
    server.settimeout(30)
    env = {**os.environ, "NOTIFY_SOCKET": str(sock)}
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "firmware",
            "--data-dir",
            str(data),
            "run",
            "--source",
            f"replay:{replay}",
            "--gpio",
            "mock",
        ],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert server.recv(100) == b"READY=1"
        status = data / "run" / "status.json"
        assert wait_for(status.exists, 20)
        running = subprocess.run(
            [sys.executable, "-m", "firmware", "--data-dir", str(data), "status", "--json"],
            cwd=REPO,
            capture_output=True,
            text=True,
        )
        assert running.returncode == 0 and json.loads(running.stdout)["running"] is True
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=30)
    finally:
        server.close()
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err
    assert out.strip().startswith("stopped:")
    doc = json.loads((data / "run" / "status.json").read_text())
    assert doc["door_unlocked"] is False and doc["frames"] > 0
    kinds = [r[0] for r in query(config_paths(data), "SELECT event_type FROM system_events ORDER BY id")]
    assert kinds == ["system_start", "recognition_disabled", "system_stop"]  # nobody enrolled: says why
    stopped = subprocess.run(
        [sys.executable, "-m", "firmware", "--data-dir", str(data), "status"], cwd=REPO, capture_output=True, text=True
    )
    assert stopped.returncode == 1


def config_paths(data: Path) -> object:
    from firmware.config import Paths

    return Paths(data)


def test_threads_are_not_left_behind(tmp_path: Path) -> None:
    before = threading.active_count()
    config = replace(Config(data_dir=tmp_path / "data"), camera=replace(Config().camera, fps=0.0))
    replay = tmp_path / "r"
    replay.mkdir()
    (replay / "a.jpg").write_bytes((sorted((FACES / "noface").glob("*.jpg"))[0]).read_bytes())
    service.run(config, f"replay:{replay}", gpio="mock", until_end=True)
    assert wait_for(lambda: threading.active_count() <= before, 5)

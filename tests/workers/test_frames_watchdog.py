"""The watchdog reports the health of the frame thread: alive and retrying a dead camera is
healthy (a camera outage in the status), stuck or dead is not. Real store, models and door loop;
simulated cameras; an injected clock instead of sleeping against limits."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from firmware.config import Config, DoorConfig
from firmware.errors import CameraError
from firmware.hw.camera import Frame
from firmware.hw.door import Door, mock_factory
from firmware.hw.resilient import ResilientCamera
from firmware.loop.door_loop import DoorLoop
from firmware.store.store import Store
from firmware.vision.engine import FaceEngine
from firmware.workers.frames import FrameThread
from firmware.workers.status import status_doc
from firmware.workers.watchdog import Watchdog


class FakeClock:
    def __init__(self) -> None:
        self.now = 5000.0

    def __call__(self) -> float:
        return self.now


class DeadCamera:
    """A sensor that is unplugged: every open fails."""

    name = "dead"

    def __init__(self) -> None:
        self.opens = 0

    def open(self) -> None:
        self.opens += 1
        raise CameraError("no such device")

    def read(self) -> Frame | None:
        raise CameraError("not open")

    def close(self) -> None:
        pass


class HangingCamera:
    """A driver whose read never returns until released (a wedged V4L2 buffer)."""

    name = "hanging"

    def __init__(self) -> None:
        self.entered = threading.Event()
        self.release = threading.Event()

    def open(self) -> None:
        pass

    def read(self) -> Frame | None:
        self.entered.set()
        self.release.wait(60)
        return None

    def close(self) -> None:
        pass


class BrokenCamera(HangingCamera):
    """A backend with a bug: read raises something no one expected."""

    name = "broken"

    def read(self) -> Frame | None:
        raise RuntimeError("driver bug")


def wait_for(condition: Callable[[], bool], timeout: float = 20.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.01)
    return condition()


class Rig:
    """A door loop on real parts, with a frame thread over a simulated camera and a watchdog."""

    def __init__(self, tmp_path: Path, camera: object) -> None:
        base = Config(data_dir=tmp_path / "data")
        self.config = replace(base, door=DoorConfig(), camera=replace(base.camera, reopen_max_s=0.5))
        self.store = Store.open(self.config.paths)
        self.door = Door(self.config.door, mock_factory())
        self.loop = DoorLoop(self.config, self.store, FaceEngine.load(self.config.active_vision()), self.door)
        self.stop = threading.Event()
        self.outages: list[str] = []
        self.camera = ResilientCamera(camera, 0.5, self.outages.append, lambda _s: None, self.stop)  # type: ignore[arg-type]
        self.clock = FakeClock()
        self.frames = FrameThread(
            self.camera, self.loop, self.stop, threading.Lock(), lambda _d, _i: None, False, self.clock
        )
        self.pings: list[str] = []
        self.dog = Watchdog(self.stop, [self.frames.health], 1.0, self.ping, self.clock)

    def ping(self, message: str) -> bool:
        self.pings.append(message)
        return True

    def close(self) -> None:
        self.stop.set()
        self.frames.join(30)
        self.loop.engine.close()
        self.door.close()
        self.store.close()


@pytest.fixture
def rigs(tmp_path: Path) -> Iterator[Callable[[object], Rig]]:
    made: list[Rig] = []

    def make(camera: object) -> Rig:
        made.append(Rig(tmp_path / str(len(made)), camera))
        return made[-1]

    yield make
    for rig in made:
        rig.close()


def test_a_frame_thread_retrying_a_dead_camera_is_healthy_and_shown_as_an_outage(rigs: Callable[[object], Rig]) -> None:
    camera = DeadCamera()
    rig = rigs(camera)
    rig.frames.start()
    assert wait_for(lambda: rig.outages == ["no such device"])
    rig.clock.now += 10 * rig.frames.stuck_after_s  # long past the limit: only a new attempt makes it healthy
    opens = camera.opens
    assert wait_for(lambda: camera.opens > opens and rig.frames.last_beat == rig.clock.now)
    rig.dog.step()
    assert rig.pings == ["WATCHDOG=1"] and rig.dog.problem is None and rig.frames.alive
    doc = status_doc(rig.config, rig.loop, "dead", time.time(), rig.camera, rig.door, rig.store, rig.frames.health())
    assert doc["camera_ok"] is False and doc["frame_thread"] == "camera outage, reopening"


def test_a_stuck_frame_thread_stops_the_pings(rigs: Callable[[object], Rig]) -> None:
    camera = HangingCamera()
    rig = rigs(camera)
    rig.frames.start()
    assert wait_for(camera.entered.is_set)
    rig.dog.step()
    assert rig.pings == ["WATCHDOG=1"]  # just entered the read: not stuck yet
    rig.clock.now += rig.frames.stuck_after_s  # exactly the limit
    rig.dog.step()
    assert len(rig.pings) == 2
    rig.clock.now += 1.0
    rig.dog.step()
    rig.dog.step()
    assert len(rig.pings) == 2 and "no progress for" in str(rig.dog.problem)
    doc = status_doc(rig.config, rig.loop, "hanging", time.time(), rig.camera, rig.door, rig.store, rig.frames.health())
    assert "no progress" in str(doc["frame_thread"])
    rig.stop.set()
    camera.release.set()
    rig.frames.join(30)
    assert not rig.frames.alive and rig.frames.health() is None  # a requested stop is not a fault


def test_a_dead_frame_thread_stops_the_pings_and_says_why(rigs: Callable[[object], Rig]) -> None:
    rig = rigs(BrokenCamera())
    rig.frames.start()
    assert wait_for(lambda: not rig.frames.alive)
    rig.dog.step()
    assert rig.pings == [] and "driver bug" in str(rig.dog.problem)
    assert rig.stop.is_set()  # the service stops every part and re-raises the error
    assert isinstance(rig.frames.error, RuntimeError)

"""The worker pattern: each duty on its own schedule, failures contained, a fatal fault stops
the run; the status worker publishes on its interval and after every new connection."""

from __future__ import annotations

import threading
import time
from dataclasses import replace
from pathlib import Path

from firmware.config import Config
from firmware.errors import StoreError
from firmware.hw.door import Door, mock_factory
from firmware.loop.unrecorded import Unrecorded
from firmware.loop.upkeep import Upkeep
from firmware.store.store import Store
from firmware.workers.base import FatalError, Worker
from firmware.workers.status import StatusWorker


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


class Counting(Worker):
    name = "counting"
    interval_s = 0.01

    def __init__(self, stop: threading.Event, fail: list[BaseException]) -> None:
        super().__init__(stop)
        self.fail = fail
        self.done = threading.Event()

    def step(self) -> None:
        if self.fail:
            raise self.fail.pop(0)
        self.done.set()


def test_a_failing_step_is_tried_again_and_a_fatal_one_stops_the_run() -> None:
    stop = threading.Event()
    worker = Counting(stop, [ValueError("bug"), OSError("disk")])
    worker.start()
    assert worker.done.wait(20)  # two failures, then a step that works: the thread lived on
    assert not stop.is_set() and worker.fatal is None
    worker.fail.append(FatalError(StoreError("database deleted")))
    worker.done.clear()
    assert stop.wait(20)
    worker.join(20)
    assert not worker.alive and worker.fatal is not None and isinstance(worker.fatal.cause, StoreError)


def test_status_is_written_every_step_and_published_on_its_interval_and_on_connect(tmp_path: Path) -> None:
    config = Config(data_dir=tmp_path / "data")
    config = replace(config, mqtt=replace(config.mqtt, status_interval_s=60.0))
    clock = FakeClock()
    published: list[dict[str, object]] = []
    with Store.open(config.paths) as store:
        door = Door(config.door, mock_factory())
        try:
            upkeep = Upkeep(config, store, door, Unrecorded(), 0)
            docs = iter(range(1000))
            wanted = threading.Event()
            worker = StatusWorker(
                threading.Event(), upkeep, lambda: {"n": next(docs)}, published.append, 60.0, wanted, clock
            )
            worker.step()
            clock.now += 59.0
            worker.step()
            assert [d["n"] for d in published] == [0]  # the first at once, then every 60 s
            wanted.set()  # a new broker connection
            worker.step()
            clock.now += 59.9
            worker.step()
            clock.now += 0.1
            worker.step()
            assert [d["n"] for d in published] == [0, 2, 4]
            assert (config.paths.root / "run" / "status.json").read_text().count('"n": 4') == 1
        finally:
            door.close()


def test_workers_keep_their_own_schedules() -> None:
    """A slow duty delays only itself."""
    stop = threading.Event()
    slow_started = threading.Event()

    class Slow(Worker):
        name = "slow"
        interval_s = 0.01

        def step(self) -> None:
            slow_started.set()
            stop.wait(60)

    fast = Counting(stop, [])
    slow = Slow(stop)
    slow.start()
    assert slow_started.wait(20)
    fast.start()
    try:
        assert fast.done.wait(20)
        started = fast.steps
        deadline = time.monotonic() + 20
        while fast.steps < started + 3 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert fast.steps >= started + 3
    finally:
        stop.set()
        slow.join(20)
        fast.join(20)

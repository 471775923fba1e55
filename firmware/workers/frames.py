"""The frame thread: camera read, :meth:`DoorLoop.process`, decisions handed to MQTT. Nothing
else runs here: status, retention, backups, update checks and the watchdog have their own
threads (:mod:`firmware.workers`), so none of them delays a decision and a camera outage stops
none of them.

Progress is a heartbeat (:attr:`FrameThread.last_beat`, on the injected clock) at every camera
read or reopen attempt, every frame, and every second spent waiting for the models (a model
swap or the console holds them). :meth:`FrameThread.health` turns it into the watchdog's
verdict: alive and beating is healthy, also while the camera is down and being reopened
(reported as a camera outage in the status instead); dead, or no beat for ``stuck_after_s``,
is not.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

from firmware.domain import Decision
from firmware.hw.resilient import ResilientCamera
from firmware.loop.door_loop import DoorLoop
from firmware.workers.base import Clock

log = logging.getLogger(__name__)
LOCK_WAIT_S = 1.0
STUCK_AFTER_S = 20.0
"""No heartbeat for this long (beyond the camera's longest reopen wait) means stuck."""


class FrameThread:
    """Runs the door loop on its own thread until ``stop``; at the end of a replay (or of any
    finite source with ``until_end``) it finishes the open visits and sets ``stop`` itself."""

    def __init__(
        self,
        camera: ResilientCamera,
        loop: DoorLoop,
        stop: threading.Event,
        engine_lock: threading.Lock,
        hand_off: Callable[[list[Decision], Any], None],
        until_end: bool = False,
        clock: Clock = time.monotonic,
    ) -> None:
        self.camera = camera
        self.loop = loop
        self.stop = stop
        self.engine_lock = engine_lock
        self.hand_off = hand_off
        self.until_end = until_end or camera.camera.name.startswith("replay:")
        self.clock = clock
        self.stuck_after_s = STUCK_AFTER_S + camera.reopen_max_s
        self.last_beat = clock()
        self.latest_image: Any = None
        self.camera_s = 0.0  # waiting for and reading frames (for a replay: decoding files)
        self.loop_s = 0.0
        self.inference_s = 0.0
        self.finished = False
        self.error: BaseException | None = None
        camera.on_attempt = self.beat
        self._thread = threading.Thread(target=self._run, name="frames", daemon=True)

    def beat(self) -> None:
        """Record progress (see the module doc)."""
        self.last_beat = self.clock()

    def start(self) -> None:
        """Start reading frames."""
        self.beat()
        self._thread.start()

    def join(self, timeout_s: float = 60.0) -> None:
        """Wait for the thread to end (after ``stop``)."""
        if self._thread.is_alive():
            self._thread.join(timeout_s)

    @property
    def alive(self) -> bool:
        """True while the thread runs."""
        return self._thread.is_alive()

    def health(self) -> str | None:
        """None when the frame thread is healthy; otherwise why not (for the watchdog and the log)."""
        if self.error is not None:
            return f"the frame thread failed: {self.error!r}"
        if not self._thread.is_alive():
            return None if self.finished or self.stop.is_set() else "the frame thread ended"
        quiet = self.clock() - self.last_beat
        if quiet > self.stuck_after_s:
            return f"the frame thread made no progress for {quiet:.0f} s"
        return None

    @contextlib.contextmanager
    def _models(self) -> Iterator[None]:
        """The engine lock; waiting for it (a model swap, the console) is progress."""
        while not self.engine_lock.acquire(timeout=LOCK_WAIT_S):
            self.beat()
        try:
            yield
        finally:
            self.engine_lock.release()

    def _run(self) -> None:
        started = time.monotonic()
        inference_before = self.loop.inference_s()
        try:
            while not self.stop.is_set():
                self.beat()
                read_started = time.monotonic()
                frame = self.camera.read()
                self.camera_s += time.monotonic() - read_started
                if frame is None:
                    if self.until_end and not self.stop.is_set():
                        with self._models():
                            decisions = self.loop.finish()
                        self.hand_off(decisions, self.latest_image)
                        self.finished = True
                        break
                    continue
                with self._models():
                    decisions = self.loop.process(frame)
                self.latest_image = frame.image
                self.hand_off(decisions, frame.image)
        except BaseException as err:
            self.error = err
            log.critical("frame thread failed: %s", err, exc_info=True)
        finally:
            self.loop_s = time.monotonic() - started
            self.inference_s = self.loop.inference_s() - inference_before
            self.stop.set()

"""The door's own periodic duties, four times a second: ``held_open`` for a door left open
(:meth:`firmware.loop.door_inputs.DoorInputs.tick`) and the retained ``door/state`` when the
relay changed (a pulse ends by itself, so nothing else would report the re-lock)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from firmware.loop.door_inputs import DoorInputs
from firmware.workers.base import Clock, Worker

DOOR_EVERY_S = 0.25


class DoorWatch(Worker):
    """Runs the door's periodic checks."""

    name = "door-watch"
    interval_s = DOOR_EVERY_S

    def __init__(
        self,
        stop: threading.Event,
        inputs: DoorInputs,
        door_state: Callable[[], None] = lambda: None,
        clock: Clock = time.monotonic,
    ) -> None:
        super().__init__(stop, clock)
        self.inputs = inputs
        self.door_state = door_state

    def step(self) -> None:
        """Held open? Relay changed?"""
        self.inputs.tick()
        self.door_state()

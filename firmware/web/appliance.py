"""What the console may use of the running door, handed over by ``occur run``.

The console never loads its own embedding models (they are most of the door's memory): it
borrows the door's, under the lock the door loop holds while it processes a frame, so the
interpreters are never used by two threads at once and a model update swaps them safely.
Enrolment photos get the photo detector of the CLI (``[vision] photo_detector``, by default the
short-range model with the full-range one as fallback): the same faces, gates and reasons as
``occur enroll``. Only the small detectors are loaded for that, once, on first use.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from firmware.config import Config
from firmware.hw.door import DoorDevice
from firmware.store.store import Store
from firmware.vision.engine import FaceEngine, default_models_dir, load_detectors
from firmware.vision.image import Image

T = TypeVar("T")


@dataclass
class Appliance:
    """The running door, as the console sees it.

    Args:
        engine: the door's current engine (read under ``engine_lock``).
        status: the live health document (``occur status``'s).
        last_frame: the newest camera frame, or None before the first.
        unlock: open the door with this reason (see :func:`firmware.loop.unlock.remote_unlock`).
        install: start a model update in the background (the MQTT ``update`` command's action).
        notify: tell building systems the update state changed.
        broker: the MQTT connection in words.
    """

    config: Config
    store: Store
    door: DoorDevice
    engine: Callable[[], FaceEngine]
    engine_lock: threading.Lock
    status: Callable[[], dict[str, Any]]
    last_frame: Callable[[], Image | None]
    unlock: Callable[[str], str]
    install: Callable[[dict[str, object]], str] | None = None
    notify: Callable[[dict[str, Any]], None] | None = None
    broker: Callable[[], str] = lambda: "no broker configured"
    _photo: tuple[int, FaceEngine] | None = field(default=None, repr=False)

    def with_photo_engine(self, work: Callable[[FaceEngine], T]) -> T:
        """Run ``work`` with an engine for enrolment photos, between two door frames.

        Raises:
            ModelError: the photo detectors do not load.
        """
        with self.engine_lock:
            door = self.engine()
            if self._photo is None or self._photo[0] != id(door):
                self._photo = (id(door), self._photo_engine(door))
            return work(self._photo[1])

    def _photo_engine(self, door: FaceEngine) -> FaceEngine:
        vision = self.config.active_vision()
        if vision.photo_detector == vision.detector:
            return door
        folder = Path(vision.models_dir) if vision.models_dir else default_models_dir()
        detector, fallback = load_detectors(folder, vision.photo_detector, 1)
        return FaceEngine(
            detector, door.embedders, door.limits, door.fusion, door.mirror, 0.0, fallback, door.landmarks
        )

"""What the console may use of the running door, handed over by ``occur run``.

The console never loads its own embedding models (they are most of the door's memory): it
borrows the door's, under the lock the door loop holds while it processes a frame, so the
interpreters are never used by two threads at once and a model update swaps them safely.
Enrolment photos get the photo detector of the CLI (``[vision] photo_detector``, by default the
short-range model with the full-range one as fallback): the same faces, gates and reasons as
``occur enroll``. Only a detector the door does not run is loaded for that, per enrolment.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from firmware.config import Config
from firmware.domain import Image
from firmware.hw.door import DoorDevice
from firmware.store.store import Store
from firmware.vision.detect import FaceDetector
from firmware.vision.engine import Face, FaceEngine, load_detectors
from firmware.vision.runtime import release_freed_memory

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

    def with_photo_engine(self, work: Callable[[FaceEngine], T]) -> T:
        """Run ``work`` with an engine for enrolment photos whose every model call takes the door
        loop's lock: the door runs its frames between two photos, never waits for a whole
        enrolment. A detector the door does not run (the full-range fallback) is loaded for the
        call and freed after it (about 9 MiB while it lives).

        Raises:
            ModelError: the photo detectors do not load.
        """
        with self.engine_lock:
            door = self.engine()
        engine = self._photo_engine(door)
        try:
            return work(engine)
        finally:
            del engine
            release_freed_memory()

    def _photo_engine(self, door: FaceEngine) -> FaceEngine:
        vision = self.config.active_vision()
        folder = vision.models_folder()
        detector, fallback = door.detector, door.fallback
        if vision.photo_detector == "auto" and vision.detector == "short_range":
            fallback = FaceDetector.load(folder, "full_range", 1)
        elif vision.photo_detector != vision.detector:
            detector, fallback = load_detectors(folder, vision.photo_detector, 1)
        return LockedEngine(
            self.engine_lock,
            detector,
            door.embedders,
            door.limits,
            door.fusion,
            door.mirror,
            fallback,
            door.landmarks,
            door.rule,
        )


class LockedEngine(FaceEngine):
    """The door's models used between frames: :meth:`faces` (detection and embedding, all that
    enrolment runs on the models) holds the door loop's lock."""

    def __init__(self, lock: threading.Lock, *parts: Any) -> None:
        detector, embedders, limits, fusion, mirror, fallback, landmarks, rule = parts
        super().__init__(detector, embedders, limits, fusion, mirror, 0.0, fallback, landmarks, rule)
        self.lock = lock

    def faces(self, image: Image, embed: bool = True, pose: bool = True) -> list[Face]:
        """See :meth:`FaceEngine.faces`."""
        with self.lock:
            return super().faces(image, embed, pose)

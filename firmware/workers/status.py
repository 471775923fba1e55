"""The health document, once a second: ``run/status.json`` (for ``occur status``), the retained
``<prefix>/status`` every ``[mqtt] status_interval_s``, and the storage checks of
:class:`~firmware.loop.upkeep.Upkeep` (a storage file deleted under the door stops it).
"""

from __future__ import annotations

import logging
import os
import shutil
import threading
import time
from collections.abc import Callable

from firmware.config import Config
from firmware.errors import OccurError, StoreError
from firmware.hw.door import DoorDevice
from firmware.hw.resilient import ResilientCamera
from firmware.loop.door_loop import DoorLoop
from firmware.loop.upkeep import Upkeep
from firmware.platform.clock import now_iso, unix_iso
from firmware.store import outbox
from firmware.store.store import Store
from firmware.workers.base import Clock, FatalError, Worker

log = logging.getLogger(__name__)
STATUS_EVERY_S = 1.0
Document = dict[str, object]


def status_doc(
    config: Config,
    loop: DoorLoop,
    source: str,
    started: float,
    camera: ResilientCamera,
    door: DoorDevice,
    store: Store,
    frames: str | None = None,
) -> Document:
    """The door's part of the health document (see the README, "status"). ``frames`` is the
    frame thread's problem, if any (a camera outage is ``camera_ok: false``, not a problem)."""
    stats = loop.stats
    frame_ms = stats.stage_ms.get("frame", [])[-50:]
    recent = [t for t in loop.frame_times if t > time.monotonic() - 5.0]
    fps = (len(recent) - 1) / (recent[-1] - recent[0]) if len(recent) > 1 and recent[-1] > recent[0] else 0.0
    return {
        "pid": os.getpid(),
        "started_at": unix_iso(started),
        "updated_at": now_iso(),
        "source": source,
        "frames": stats.frames,
        "decisions": stats.decisions,
        "granted": stats.granted,
        "fps": round(fps, 1),
        "processing_ms": round(sum(frame_ms) / len(frame_ms), 1) if frame_ms else None,
        "last_frame_at": unix_iso(stats.last_frame_at) if stats.last_frame_at else None,
        "camera_ok": not camera.in_outage,
        "frames_skipped": camera.skipped,
        "frame_thread": frames or ("camera outage, reopening" if camera.in_outage else "ok"),
        "door": door.state,
        "door_unlocked": door.unlocked,
        "uptime_s": round(time.time() - started, 1),
        "outbox_depth": _outbox_depth(store),
        "disk_free_mb": shutil.disk_usage(config.paths.root).free // 2**20,
        "models": [e.name for e in loop.engine.embedders],
        "model_files": {e.name: f"{e.manifest.version} {e.manifest.sha256[:12]}" for e in loop.engine.embedders},
        "not_recorded": dict(loop.unrecorded.totals),
        **loop.recogniser.point().status_fields(),
    }


def _outbox_depth(store: Store) -> int | None:
    try:
        with store.reader() as conn:
            return outbox.depth(conn)
    except OccurError:
        return None


class StatusWorker(Worker):
    """Checks storage, writes the status file, publishes the retained status."""

    name = "status"
    interval_s = STATUS_EVERY_S

    def __init__(
        self,
        stop: threading.Event,
        upkeep: Upkeep,
        document: Callable[[], Document],
        publish: Callable[[Document], None] | None,
        publish_every_s: float,
        wanted: threading.Event | None = None,
        clock: Clock = time.monotonic,
    ) -> None:
        super().__init__(stop, clock)
        self.upkeep = upkeep
        self.document = document
        self.publish = publish
        self.publish_every_s = publish_every_s
        self.wanted = wanted or threading.Event()  # set: publish at the next step (a new connection)
        self._published_at: float | None = None

    def step(self) -> None:
        """Check storage, write the status file, publish when due.

        Raises:
            FatalError: a storage file was deleted or replaced under the door (it is locked).
        """
        try:
            self.upkeep.check_health()
        except StoreError as err:
            raise FatalError(err) from err
        doc = self.document()
        self.upkeep.space_returned(self.upkeep.status_file(doc))
        now = self.clock()
        due = self._published_at is None or now - self._published_at >= self.publish_every_s
        if self.publish is not None and (due or self.wanted.is_set()):
            self.wanted.clear()
            self._published_at = now
            self.publish(doc)

"""A camera that reopens itself: a failed or unplugged camera is retried with exponential
backoff (0.5 s doubling up to ``[camera] reopen_max_s``), the outage is reported once when it
starts and once when it ends, never per frame, and a stop request ends the wait at once.

A frame that cannot be used (:class:`FrameError`: a replay file that does not decode, a malformed
frame) is skipped without reopening the camera, counted in :attr:`ResilientCamera.skipped`, and
reported once per distinct reason (a replay's reason names the file), so a bad file costs one
record, not one per pass."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from firmware.domain import Frame
from firmware.errors import CameraError, FrameError
from firmware.hw.camera import Camera

log = logging.getLogger(__name__)
REMEMBERED_REASONS = 1000  # distinct skip reasons reported individually; beyond that only counted


class ResilientCamera:
    """Wraps a backend; :meth:`read` only returns None at the end of a finite source or on stop."""

    def __init__(self, camera: Camera, reopen_max_s: float, on_outage: Callable[[str], None],
                 on_recovered: Callable[[float], None], stop: threading.Event | None = None) -> None:  # fmt: skip
        self.camera = camera
        self.name = camera.name
        self.reopen_max_s = reopen_max_s
        self.on_outage = on_outage
        self.on_recovered = on_recovered
        self.stop = stop or threading.Event()
        self._open = False
        self._outage_since: float | None = None
        self.skipped = 0
        self.on_skipped: Callable[[str], None] = lambda _reason: None
        self.on_attempt: Callable[[], None] = lambda: None  # each read or reopen attempt (a heartbeat)
        self._reported: set[str] = set()

    @property
    def in_outage(self) -> bool:
        """True while the camera is failing."""
        return self._outage_since is not None

    def read(self) -> Frame | None:
        """The next frame, reopening the camera as often as needed."""
        backoff = 0.5
        while not self.stop.is_set():
            self.on_attempt()
            try:
                if not self._open:
                    self.camera.open()
                    self._open = True
                frame = self.camera.read()
            except FrameError as err:
                self._skip(str(err))
                continue
            except CameraError as err:
                self._fail(str(err))
                self.stop.wait(backoff)
                backoff = min(backoff * 2, self.reopen_max_s)
                continue
            if self._outage_since is not None:
                lasted = time.monotonic() - self._outage_since
                self._outage_since = None
                log.warning("camera %s is back after %.1f s", self.name, lasted)
                self.on_recovered(lasted)
            return frame
        return None

    def _skip(self, reason: str) -> None:
        self.skipped += 1
        if reason in self._reported or len(self._reported) >= REMEMBERED_REASONS:
            return
        self._reported.add(reason)
        log.warning("camera %s: frame skipped: %s", self.name, reason)
        self.on_skipped(reason)

    def _fail(self, reason: str) -> None:
        if self._open:
            self.camera.close()
            self._open = False
        if self._outage_since is None:
            self._outage_since = time.monotonic()
            log.error("camera %s failed: %s", self.name, reason)
            self.on_outage(reason)

    def close(self) -> None:
        """Close the backend."""
        if self._open:
            self.camera.close()
            self._open = False

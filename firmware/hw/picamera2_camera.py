"""Raspberry Pi camera through picamera2 (libcamera). picamera2 ships with Raspberry Pi OS
(``python3-picamera2``, an apt package the venv sees through :mod:`firmware.platform.packages`);
it is imported only in :meth:`open`, so everything else works where it is absent. Tested with a
stand-in system package: no machine here has the camera."""

from __future__ import annotations

import time
from typing import Any

from firmware.domain import Frame
from firmware.errors import CameraError
from firmware.hw.camera import checked_frame


class Picamera2Camera:
    """The Pi camera, BGR frames of the configured size."""

    def __init__(self, width: int, height: int, fps: float) -> None:
        self.name = "picamera2"
        self.size = (width, height)
        self.fps = fps
        self._camera: Any = None
        self._index = 0

    def open(self) -> None:
        """Start the camera. Raises CameraError when picamera2 or the camera is missing."""
        try:
            from picamera2 import Picamera2
        except ImportError as err:
            raise CameraError("picamera2 is not installed (apt install python3-picamera2)") from err
        try:
            camera = Picamera2()
            controls = {"FrameRate": self.fps} if self.fps else {}
            # libcamera's "RGB888" is B, G, R in memory: OpenCV's order.
            camera.configure(
                camera.create_video_configuration({"size": self.size, "format": "RGB888"}, controls=controls)
            )
            camera.start()
        except Exception as err:
            raise CameraError(f"picamera2: cannot start the camera ({err})") from err
        self._camera = camera

    def read(self) -> Frame | None:
        """The next frame. Raises CameraError when capture fails."""
        if self._camera is None:
            raise CameraError("picamera2: not open")
        try:
            image = self._camera.capture_array("main")
        except Exception as err:
            raise CameraError(f"picamera2: capture failed ({err})") from err
        self._index += 1
        return Frame(checked_frame(image, self.name), time.time(), self._index - 1)

    def exposure(self) -> str | None:
        """Exposure time and analogue gain libcamera chose (for ``occur doctor``); None when the
        camera is not open or gives no metadata."""
        if self._camera is None:
            return None
        try:
            meta = self._camera.capture_metadata()
            return f"exposure {int(meta['ExposureTime'])} us, gain {float(meta['AnalogueGain']):.2f}"
        except Exception:  # noqa: BLE001 - a report, never a reason to fail
            return None

    def close(self) -> None:
        """Stop the camera."""
        if self._camera is not None:
            try:
                self._camera.stop()
                self._camera.close()
            finally:
                self._camera = None

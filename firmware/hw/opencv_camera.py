"""OpenCV capture: USB/V4L2 cameras by index, RTSP/HTTP URLs, GStreamer pipelines (Jetson CSI),
and video files for the replay backend. The only module besides ``imaging.image`` that imports
OpenCV, and only inside its methods."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np

from firmware.domain import Frame, Image
from firmware.errors import CameraError
from firmware.hw.camera import checked_frame


def _capture(source: str) -> Any:
    import cv2

    if source.isdigit():
        return cv2.VideoCapture(int(source), cv2.CAP_V4L2)
    if "!" in source:
        return cv2.VideoCapture(source, cv2.CAP_GSTREAMER)
    return cv2.VideoCapture(source)


class OpenCvCamera:
    """A live camera through ``cv2.VideoCapture``."""

    def __init__(self, source: str, width: int, height: int, fps: float) -> None:
        self.name = f"opencv:{source}"
        self.source = source
        self.size = (width, height)
        self.fps = fps
        self._cap: Any = None
        self._index = 0

    def open(self) -> None:
        """Open the device. Raises CameraError when it does not open."""
        import cv2

        cap = _capture(self.source)
        if not cap.isOpened():
            cap.release()
            raise CameraError(f"{self.name}: cannot open the camera")
        cap.set(cv2.CAP_PROP_FRAME_WIDTH, self.size[0])
        cap.set(cv2.CAP_PROP_FRAME_HEIGHT, self.size[1])
        if self.fps:
            cap.set(cv2.CAP_PROP_FPS, self.fps)
        self._cap = cap

    def read(self) -> Frame | None:
        """The next frame. Raises CameraError when the camera stops delivering."""
        if self._cap is None:
            raise CameraError(f"{self.name}: not open")
        ok, image = self._cap.read()
        if not ok or image is None:
            raise CameraError(f"{self.name}: no frame (camera unplugged or stream ended)")
        self._index += 1
        return Frame(checked_frame(image, self.name), time.time(), self._index - 1)

    def close(self) -> None:
        """Release the device."""
        if self._cap is not None:
            self._cap.release()
            self._cap = None


class VideoFile:
    """Frames of a video file, for replay."""

    def __init__(self, path: Path) -> None:
        import cv2

        self._cap = cv2.VideoCapture(str(path))
        if not self._cap.isOpened():
            raise CameraError(f"replay source {path} is not a readable video or image folder")

    def read(self) -> Image | None:
        """The next frame, or None at the end."""
        ok, image = self._cap.read()
        return np.asarray(image, dtype=np.uint8) if ok and image is not None else None

    def close(self) -> None:
        """Release the file."""
        self._cap.release()

"""Replay camera: a folder of images or a video file, paced at a frame rate or as fast as possible.

A real backend (tests, demos, benchmarks, and checking a site's recordings), not a mock: frames
go through exactly the code a live camera's do. Capture timestamps are nominal, start + index /
rate (15 fps when pacing is off), so time-based rules (cooldowns) decide the same way whether
the replay is paced or not.
"""

from __future__ import annotations

import time
from pathlib import Path

from firmware.domain import Frame
from firmware.errors import CameraError, FrameError, ImageError
from firmware.imaging.image import read_image_limited

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff", ".ppm", ".pgm", ".pbm", ".pam", ".pfm"}
NOMINAL_FPS = 15.0


class ReplayCamera:
    """Frames from ``path``: image files in name order, or a video file."""

    def __init__(self, path: Path, fps: float = 0.0) -> None:
        self.name = f"replay:{path}"
        self.path = path
        self.fps = fps
        self._files: list[Path] = []
        self._video: object | None = None
        self._index = 0
        self._start = 0.0

    def open(self) -> None:
        """List the folder (or open the video). Raises CameraError when there is nothing to play."""
        if self.path.is_dir():
            self._files = sorted(p for p in self.path.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
            if not self._files:
                raise CameraError(f"replay folder {self.path} has no images")
        else:
            from firmware.hw.opencv_camera import VideoFile

            self._video = VideoFile(self.path)
        self._index = 0
        self._start = time.time()

    def read(self) -> Frame | None:
        """The next frame, after waiting for its slot when paced; None at the end.

        Raises:
            FrameError: this file does not decode; the next call reads the file after it.
        """
        if self._video is not None:
            from firmware.hw.opencv_camera import VideoFile

            assert isinstance(self._video, VideoFile)
            image = self._video.read()
            if image is None:
                return None
        else:
            if self._index >= len(self._files):
                return None
            try:
                image, _ = read_image_limited(self._files[self._index])
            except ImageError as err:
                self._index += 1
                raise FrameError(str(err)) from err
        rate = self.fps or NOMINAL_FPS
        due = self._start + self._index / rate
        if self.fps:
            delay = due - time.time()
            if delay > 0:
                time.sleep(delay)
        frame = Frame(image, due, self._index)
        self._index += 1
        return frame

    def close(self) -> None:
        """Release the video, if any."""
        if self._video is not None:
            from firmware.hw.opencv_camera import VideoFile

            assert isinstance(self._video, VideoFile)
            self._video.close()
            self._video = None

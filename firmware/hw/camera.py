"""The camera interface and the ``--source`` / ``[camera] source`` spec parser.

A backend is chosen by the spec, never by silent fallback: a Pi camera that is missing is an
error, not a USB camera. Each backend lives in its own module and imports its SDK only when
opened, so the package imports where libcamera or a display stack is absent.
"""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

import numpy as np

from firmware.config import CameraConfig
from firmware.domain import Frame, Image
from firmware.errors import CameraError, FrameError, InvalidInputError


def checked_frame(image: object, source: str) -> Image:
    """``image`` as an 8-bit BGR frame, or FrameError when a backend delivered something else
    (empty, grey, another depth): that frame is skipped, the camera is not reopened."""
    if not isinstance(image, np.ndarray) or image.ndim != 3 or image.shape[2] < 3 or not image.size:
        shape = getattr(image, "shape", None)
        raise FrameError(f"{source}: unusable frame (shape {shape}, need height x width x 3)")
    if image.dtype != np.uint8:
        raise FrameError(f"{source}: unusable frame (pixel type {image.dtype}, need 8-bit)")
    return np.ascontiguousarray(image[:, :, :3])


class Camera(Protocol):
    """What the loop needs from a camera backend."""

    name: str

    def open(self) -> None:
        """Start capturing. Raises CameraError."""

    def read(self) -> Frame | None:
        """The next frame; None at the end of a finite source (replay). Raises CameraError, or
        FrameError for one unusable frame."""

    def close(self) -> None:
        """Stop capturing; safe to call twice."""


def parse_source(spec: str) -> tuple[str, str]:
    """Split ``kind:argument``; raises InvalidInputError for an unknown kind."""
    kind, _, argument = spec.partition(":")
    if kind not in ("picamera2", "opencv", "replay"):
        raise InvalidInputError(f"camera source {spec!r}: use picamera2, opencv:INDEX_OR_URL or replay:PATH")
    if kind in ("opencv", "replay") and not argument:
        raise InvalidInputError(f"camera source {spec!r} needs an argument after ':'")
    return kind, argument


def make_camera(spec: str, config: CameraConfig) -> Camera:
    """The backend named by ``spec`` (not yet opened).

    Raises:
        InvalidInputError: malformed spec. CameraError: replay path missing.
    """
    kind, argument = parse_source(spec)
    if kind == "replay":
        from firmware.hw.replay import ReplayCamera

        path = Path(argument)
        if not path.exists():
            raise CameraError(f"replay source {path} does not exist")
        return ReplayCamera(path, config.fps)
    if kind == "opencv":
        from firmware.hw.opencv_camera import OpenCvCamera

        return OpenCvCamera(argument, config.width, config.height, config.fps)
    from firmware.hw.picamera2_camera import Picamera2Camera

    return Picamera2Camera(config.width, config.height, config.fps)

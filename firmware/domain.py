"""Frozen value types shared by the layers (stdlib and numpy only)."""

from __future__ import annotations

from dataclasses import dataclass

KEYPOINT_NAMES = ("right_eye", "left_eye", "nose_tip", "mouth_center", "right_ear_tragion", "left_ear_tragion")
"""BlazeFace's six keypoints, in its output order (right/left from the subject's point of view)."""


@dataclass(frozen=True)
class Detection:
    """A face found in an image.

    Coordinates are in pixels of the image the detector was given, origin top-left:
    ``box`` is ``(x0, y0, x1, y1)``; ``keypoints`` holds six ``(x, y)`` pairs in
    :data:`KEYPOINT_NAMES` order; ``score`` is the detector's confidence in [0, 1].
    """

    box: tuple[float, float, float, float]
    keypoints: tuple[tuple[float, float], ...]
    score: float

    @property
    def width(self) -> float:
        """Box width in pixels."""
        return self.box[2] - self.box[0]

    @property
    def height(self) -> float:
        """Box height in pixels."""
        return self.box[3] - self.box[1]

"""Value types shared by the layers (stdlib and numpy only).

Hardware, vision, recognition, the door loop and updates all speak these types, so none of them
needs to import another for a type: a camera delivers a :class:`Frame` of an :data:`Image`, vision
finds :class:`Detection` s and a gallery search returns a :class:`Match`, and the loop acts on a
:class:`Decision`. Fixed value sets are ``Literal`` types, checked by mypy.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import numpy.typing as npt

Image = npt.NDArray[np.uint8]
"""An 8-bit BGR image, ``(height, width, 3)``, as OpenCV and cameras deliver it."""

MatchOutcome = Literal["match", "unknown", "ambiguous", "low_quality"]
"""What one 1:N search concluded (see :class:`Match`)."""

FaceKind = Literal["recognized", "unknown"]
"""How a decided visit is recorded: a known person, or a stranger."""

LivenessVerdict = Literal["live", "attack", "not_proven"]
"""A visit's liveness verdict (:mod:`firmware.vision.liveness`)."""

DoorInput = Literal["door_opened", "door_closed", "exit_request", "tamper"]
"""What the door's inputs report (contact, exit button, tamper switch)."""


@dataclass(frozen=True)
class Frame:
    """One captured picture: BGR pixels, capture time (Unix seconds) and sequence number."""

    image: Image
    captured_at: float
    index: int


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


@dataclass(frozen=True)
class Match:
    """The outcome of one 1:N search.

    ``decision`` is ``match`` (``user_id`` set), ``unknown`` (nobody close enough),
    ``ambiguous`` (two users too close to tell apart) or ``low_quality`` (not searched); only
    ``match`` sets ``user_id``.
    """

    decision: MatchOutcome
    user_id: int | None
    score: float | None
    distances: dict[str, float] = field(default_factory=dict)
    margin: float | None = None
    best_user_id: int | None = None


@dataclass(frozen=True)
class Decision:
    """One decided visit, as the door acted on it.

    ``frame`` and ``track`` are the frame index and track id that decided; ``score`` is the fused
    distance (None when nothing was searched); ``liveness`` is the verdict, None when not checked.
    """

    frame: int
    track: int
    kind: FaceKind
    user_id: int | None
    name: str | None
    granted: bool
    reason: str
    score: float | None
    snapshot: str | None
    unknown_id: int | None = None
    recorded: bool = True
    liveness: LivenessVerdict | None = None

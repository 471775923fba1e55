"""Head pose in degrees, from the face mesh's 3-D points or, without a mesh, from the detector's
keypoints with the head's tilt taken out.

Why not the nose's offset from the eyes' midpoint: a head tilted by 20 degrees moves the nose
sideways by about 0.4 half eye distances, which that ratio reads as a turned face; a hand near an
ear or a pair of glasses pulls the detector's keypoints further. The mesh model sees the whole
face, so its geometry stays consistent under tilt, glasses and hands:

- the face's left-right axis is the mean of the 3-D vectors between symmetric landmarks (eye
  corners, mouth corners, cheeks, jaw, brows), so one misplaced point moves it little;
- its up-down axis is forehead top to chin, made orthogonal to the first;
- yaw is the left-right axis's turn out of the image plane, roll its tilt within the plane, pitch
  the up-down axis's turn towards or away from the camera.

The mesh's ``z`` is in the same pixel scale as ``x`` and ``y`` (weak perspective), so these are
geometric angles, not learned regressions. On the 3,130 frontal photos of the calibration set
the mesh gives |yaw| <= 12 degrees (99th percentile 10) and pitch within -27..+15 degrees of
level after :data:`PITCH_OFFSET_DEG`.

Signs: yaw is positive when the face turns towards the image's right (the subject's left), roll
is the eye line's angle in image coordinates (y down), pitch is positive when the chin rises.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from firmware.domain import Detection

SYMMETRIC_PAIRS = (
    (33, 263),  # outer eye corners (subject's right, left)
    (133, 362),  # inner eye corners
    (61, 291),  # mouth corners
    (234, 454),  # cheeks at the ears
    (127, 356),
    (93, 323),
    (132, 361),
    (58, 288),  # jaw
    (172, 397),
    (70, 300),  # brows
    (105, 334),
)
"""MediaPipe canonical face mesh indices of left-right landmark pairs (subject's right first)."""
FOREHEAD, CHIN = 10, 152
PITCH_OFFSET_DEG = -9.0
"""The forehead-chin line of a level face leans back by about this much in the mesh's frame
(median over the calibration set's frontal photos); pitch is measured from it."""
NOSE_DEPTH = 1.14
"""Keypoint fallback: the nose tip's sideways offset, in half eye distances, is about this times
sin(yaw) (least squares against the mesh's yaw on the dev and calibration photos)."""


@dataclass(frozen=True)
class Pose:
    """Head pose in degrees and where it came from (``mesh`` or ``keypoints``)."""

    yaw: float
    pitch: float
    roll: float
    source: str


def mesh_pose(points: npt.NDArray[np.float32]) -> Pose:
    """Pose from the mesh's ``(468, 3)`` points (image pixels, relative depth in pixels).

    Raises:
        ValueError: degenerate points (all the pairs coincide).
    """
    p = np.asarray(points, dtype=np.float64)
    left = np.array([i for _, i in SYMMETRIC_PAIRS])
    right = np.array([i for i, _ in SYMMETRIC_PAIRS])
    across = (p[left] - p[right]).sum(axis=0)
    length = float(np.linalg.norm(across))
    if not length > 0:
        raise ValueError("degenerate face mesh")
    across /= length
    down = p[CHIN] - p[FOREHEAD]
    down -= float(down @ across) * across
    height = float(np.linalg.norm(down))
    if not height > 0:
        raise ValueError("degenerate face mesh")
    down /= height
    yaw = math.degrees(math.atan2(across[2], across[0]))
    roll = math.degrees(math.atan2(across[1], across[0]))
    pitch = math.degrees(math.atan2(-down[2], down[1])) - PITCH_OFFSET_DEG
    return Pose(yaw, pitch, roll, "mesh")


def keypoint_pose(face: Detection) -> Pose:
    """Pose from the detector's eyes and nose, turned so that the eyes are level first (used
    when no landmark model is installed). Pitch is not measurable from these points: 0."""
    (rx, ry), (lx, ly) = face.keypoints[0], face.keypoints[1]
    roll = math.atan2(ly - ry, lx - rx)
    half = math.hypot(lx - rx, ly - ry) / 2
    if half == 0:
        return Pose(90.0, 0.0, math.degrees(roll), "keypoints")
    nx, ny = face.keypoints[2][0] - (rx + lx) / 2, face.keypoints[2][1] - (ry + ly) / 2
    along = (nx * math.cos(roll) + ny * math.sin(roll)) / half  # offset along the eye line
    yaw = math.degrees(math.asin(max(-1.0, min(1.0, along / NOSE_DEPTH))))
    return Pose(yaw, 0.0, math.degrees(roll), "keypoints")

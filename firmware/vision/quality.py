"""Quality gates for faces used in enrolment and door decisions.

A face that is too small, uncertain, blurred or turned away gives embeddings that land between
people; enrolling one poisons the gallery and deciding on one invites both errors. Each gate
returns a reason a person at the door or an installer can act on. Thresholds come from
:class:`QualityLimits` (the ``[vision]`` config section).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from firmware.domain import Detection
from firmware.vision.image import Image, crop_resized, laplacian_variance


@dataclass(frozen=True)
class QualityLimits:
    """Acceptance limits; units are pixels of the source image, degrees, and unitless ratios."""

    min_face_px: float = 40.0
    min_score: float = 0.6
    min_sharpness: float = 40.0
    max_roll_deg: float = 30.0
    max_yaw: float = 0.45


@dataclass(frozen=True)
class Quality:
    """Measured quality of one face and the reasons it fails, if any."""

    face_px: float
    score: float
    sharpness: float
    roll_deg: float
    yaw: float
    problems: tuple[str, ...]

    @property
    def ok(self) -> bool:
        """True when no gate failed."""
        return not self.problems


def pose(face: Detection) -> tuple[float, float]:
    """Roll in degrees (eye line against horizontal) and yaw as a signed ratio in [-1, 1]:
    the nose tip's offset from the eyes' midpoint, over half the eye distance."""
    (rx, ry), (lx, ly) = face.keypoints[0], face.keypoints[1]
    roll = math.degrees(math.atan2(ly - ry, lx - rx))
    half = math.hypot(lx - rx, ly - ry) / 2
    nose_x = face.keypoints[2][0]
    yaw = 0.0 if half == 0 else ((nose_x - (rx + lx) / 2) / half)
    return roll, max(-1.0, min(1.0, yaw))


def sharpness(image: Image, face: Detection) -> float:
    """Laplacian variance of the middle of the face box (eyes to mouth), resized to 64 px so
    that it does not depend on the face's size; only real pixels count (no fill outside the
    photo, which would read as sharp edges). 0 when the face is outside the photo."""
    x0, y0, x1, y1 = face.box
    dx, dy = (x1 - x0) * 0.2, (y1 - y0) * 0.2
    crop = crop_resized(image, (x0 + dx, y0 + dy, x1 - dx, y1 - dy), 64)
    return 0.0 if crop is None else laplacian_variance(crop)


def assess(face: Detection, image: Image, limits: QualityLimits) -> Quality:
    """Measure ``face`` (found in ``image``) against ``limits``."""
    size = min(face.width, face.height)
    roll, yaw = pose(face)
    sharp = sharpness(image, face)
    problems = []
    if size < limits.min_face_px:
        problems.append(f"face too small ({size:.0f} px, need {limits.min_face_px:.0f}): come closer")
    if face.score < limits.min_score:
        problems.append(f"face uncertain (detector score {face.score:.2f}, need {limits.min_score:.2f})")
    if sharp < limits.min_sharpness:
        problems.append(f"image blurred (sharpness {sharp:.1f}, need {limits.min_sharpness:.1f}): hold still")
    if abs(roll) > limits.max_roll_deg:
        problems.append(f"head tilted {roll:.0f} degrees (limit {limits.max_roll_deg:.0f}): hold your head level")
    if abs(yaw) > limits.max_yaw:
        problems.append(f"face turned away (yaw {yaw:+.2f}, limit {limits.max_yaw:.2f}): look at the camera")
    return Quality(size, face.score, sharp, roll, yaw, tuple(problems))

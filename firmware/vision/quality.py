"""Quality gates for faces used in enrolment and door decisions.

A face that is too small, uncertain, blurred or turned away gives embeddings that land between
people; enrolling one poisons the gallery and deciding on one invites both errors. Each gate
returns a reason a person at the door or an installer can act on, with a short code for
statistics. Thresholds come from :class:`QualityLimits` (the ``[vision]`` config section).

Two stages, so the door pays for the landmark model only on faces it will embed:

1. :func:`assess`: size, detector score and sharpness, from the detection and the frame;
2. :func:`with_pose`: head pose (roll, yaw, pitch; see :mod:`firmware.vision.pose`) and, with a
   face mesh, the landmark model's confidence that a face is there at all.

A :class:`Quality` is ``ok`` only after both stages passed: a caller that forgets the second
stage gets no match (fail closed). Enrolment, the photo tools and the door use the same two
functions with the same limits.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from firmware.config import VisionConfig
from firmware.domain import Detection, Image
from firmware.imaging.image import crop_resized, laplacian_variance
from firmware.vision.pose import Pose

REASONS = {
    "small": "face too small",
    "uncertain": "face uncertain",
    "blurred": "image blurred",
    "not_a_face": "not a face",
    "tilted": "head tilted",
    "turned": "face turned away",
    "pitched": "face tilted up or down",
}
"""Refusal codes and the start of their messages."""


@dataclass(frozen=True)
class QualityLimits:
    """Acceptance limits; units are pixels of the source image, degrees, and unitless ratios."""

    min_face_px: float = 40.0
    min_score: float = 0.6
    min_sharpness: float = 40.0
    max_roll_deg: float = 30.0
    max_yaw_deg: float = 35.0
    max_pitch_deg: float = 35.0
    min_presence: float = 0.5

    @classmethod
    def of(cls, config: VisionConfig) -> QualityLimits:
        """The limits ``[vision]`` sets (the door, enrolment and the benches use the same)."""
        return cls(
            config.min_face_px,
            config.min_score,
            config.min_sharpness,
            config.max_roll_deg,
            config.max_yaw_deg,
            config.max_pitch_deg,
        )


@dataclass(frozen=True)
class Quality:
    """Measured quality of one face and the reasons it fails, if any.

    ``pose`` is None until :func:`with_pose` ran; ``presence`` is the landmark model's face
    confidence (None without a mesh). ``codes`` holds one key of :data:`REASONS` per problem.
    """

    face_px: float
    score: float
    sharpness: float
    problems: tuple[str, ...]
    codes: tuple[str, ...] = ()
    pose: Pose | None = None
    presence: float | None = None

    @property
    def ok(self) -> bool:
        """True when both stages ran and no gate failed."""
        return self.pose is not None and not self.problems

    @property
    def cheap_ok(self) -> bool:
        """True when the first stage passed (the pose stage is worth running)."""
        return not self.problems


def sharpness(image: Image, face: Detection) -> float:
    """Laplacian variance of the middle of the face box (eyes to mouth), resized to 64 px so
    that it does not depend on the face's size; only real pixels count (no fill outside the
    photo, which would read as sharp edges). 0 when the face is outside the photo."""
    x0, y0, x1, y1 = face.box
    dx, dy = (x1 - x0) * 0.2, (y1 - y0) * 0.2
    crop = crop_resized(image, (x0 + dx, y0 + dy, x1 - dx, y1 - dy), 64)
    return 0.0 if crop is None else laplacian_variance(crop)


def assess(face: Detection, image: Image, limits: QualityLimits) -> Quality:
    """First stage: measure ``face`` (found in ``image``) for size, score and sharpness."""
    size = min(face.width, face.height)
    sharp = sharpness(image, face)
    problems: list[tuple[str, str]] = []
    if size < limits.min_face_px:
        problems.append(("small", f"face too small ({size:.0f} px, need {limits.min_face_px:.0f}): come closer"))
    if face.score < limits.min_score:
        problems.append(("uncertain", f"face uncertain (detector score {face.score:.2f}, need {limits.min_score:.2f})"))
    if sharp < limits.min_sharpness:
        problems.append(
            ("blurred", f"image blurred (sharpness {sharp:.1f}, need {limits.min_sharpness:.1f}): hold still")
        )
    return Quality(size, face.score, sharp, tuple(p for _, p in problems), tuple(c for c, _ in problems))


def with_pose(quality: Quality, pose: Pose, presence: float | None, limits: QualityLimits) -> Quality:
    """Second stage: add the head pose (and the mesh's face confidence) to ``quality``."""
    problems: list[tuple[str, str]] = []
    if presence is not None and presence < limits.min_presence:
        problems.append(
            ("not_a_face", f"not a face (landmark confidence {presence:.2f}, need {limits.min_presence:.2f})")
        )
    else:
        if abs(pose.roll) > limits.max_roll_deg:
            problems.append(
                (
                    "tilted",
                    f"head tilted {pose.roll:.0f} degrees (limit {limits.max_roll_deg:.0f}): hold your head level",
                )
            )
        if abs(pose.yaw) > limits.max_yaw_deg:
            problems.append(
                (
                    "turned",
                    f"face turned away (yaw {pose.yaw:+.0f} degrees, limit {limits.max_yaw_deg:.0f}): "
                    "look at the camera",
                )
            )
        if abs(pose.pitch) > limits.max_pitch_deg:
            problems.append(
                (
                    "pitched",
                    f"face tilted up or down (pitch {pose.pitch:+.0f} degrees, limit {limits.max_pitch_deg:.0f}): "
                    "look at the camera",
                )
            )
    return replace(
        quality,
        problems=quality.problems + tuple(p for _, p in problems),
        codes=quality.codes + tuple(c for c, _ in problems),
        pose=pose,
        presence=presence,
    )

"""One decision per visit: a track's good frames are combined, then matched once.

Deciding on single frames gives a stranger one chance per frame: the longer they stand at the
door, the likelier one frame lands under the threshold. A :class:`Visit` instead collects the
embeddings of a track's faces that passed every quality gate, and once it has
``frames_needed`` of them it offers one combined embedding per model, the quality-weighted mean
of its frames (renormalised for cosine models), for a single 1:N search. After that the visit is
decided and takes no more frames, however long the person stays; a new visit needs a new track
(the face gone for ``[loop] max_gap_frames`` frames).

Averaging also steadies the decision: frame-to-frame noise (pose, expression, sensor) partly
cancels, so an enrolled person's combined distance is closer to their typical one and a
stranger's is less likely to reach a low outlier.

The unit is self-contained so that other per-visit evidence (a liveness verdict computed from
``Face.mesh`` of every frame, for example) can read :attr:`Visit.frames` and attach itself to
the decision.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from firmware.vision.embed import Vector
from firmware.vision.engine import Face


def frame_weight(face: Face) -> float:
    """How much one good frame counts: the detector's score times the cosines of the head's
    yaw and pitch (1 for a confident frontal face, less for a turned or uncertain one)."""
    pose = face.quality.pose
    turn = 1.0 if pose is None else math.cos(math.radians(pose.yaw)) * math.cos(math.radians(pose.pitch))
    return max(1e-3, face.detection.score * max(turn, 0.0))


@dataclass
class VisitFrame:
    """One good frame of a visit: its frame index, face (with embeddings and mesh) and weight."""

    index: int
    face: Face
    weight: float


@dataclass
class Visit:
    """The good frames of one track until its single decision."""

    track_id: int
    frames_needed: int
    frames: list[VisitFrame] = field(default_factory=list)
    decided: bool = False

    def add(self, index: int, face: Face) -> bool:
        """Add an embedded face that passed every gate; returns True when the visit is ready to
        decide. Ignored once decided."""
        if self.decided:
            return False
        self.frames.append(VisitFrame(index, face, frame_weight(face)))
        return self.ready

    @property
    def ready(self) -> bool:
        """Enough good frames and not decided yet."""
        return not self.decided and len(self.frames) >= self.frames_needed

    def combined(self, metrics: dict[str, str]) -> dict[str, Vector]:
        """The quality-weighted mean embedding per model (``metrics``: model name -> metric);
        cosine models' means are scaled back to unit length.

        Raises:
            ValueError: no frames, or a frame without one of the models' embeddings.
        """
        if not self.frames:
            raise ValueError(f"visit of track {self.track_id} has no frames")
        weights = np.array([f.weight for f in self.frames], dtype=np.float64)
        weights /= weights.sum()
        out: dict[str, Vector] = {}
        for model, metric in metrics.items():
            try:
                stack = np.stack([f.face.embeddings[model] for f in self.frames]).astype(np.float64)
            except KeyError as err:
                raise ValueError(f"visit of track {self.track_id}: a frame lacks a {model} embedding") from err
            mean = weights @ stack
            if metric == "cosine":
                mean /= max(float(np.linalg.norm(mean)), 1e-12)
            out[model] = mean.astype(np.float32)
        return out

    def best(self) -> VisitFrame:
        """The frame with the highest weight (the latest among equals).

        Raises:
            ValueError: no frames.
        """
        if not self.frames:
            raise ValueError(f"visit of track {self.track_id} has no frames")
        return max(reversed(self.frames), key=lambda f: f.weight)

"""One decision per visit: a track's good frames are collected, then matched once.

Deciding on single frames gives a stranger one chance per frame: the longer they stand at the
door, the likelier one frame lands under the threshold. A :class:`Visit` instead collects the
embeddings of a track's faces that passed every quality gate, each with a quality weight, and
once it has ``frames_needed`` of them it is matched once: each enrolled user's score is the
weighted mean of the frames' fused scores (:meth:`Gallery.search_frames`). After that the visit
is decided and takes no more frames, however long the person stays; a new visit needs a new
track (the face gone for ``[loop] max_gap_frames`` frames).

Why scores and not a mean embedding: a mean of several embeddings lies closer to every gallery
vector than its frames do (for strangers too), so its distances are smaller than the
single-photo distances the door threshold was calibrated on. On 40 replayed short stranger
visits of the calibration set (``occur bench visits --photos 3 --frames 2 --tilt 25``), a mean
embedding let 8 strangers in, the mean of the frames' scores 3 (per-frame voting: 2, and 3 visits
undecided). The mean of the scores keeps the calibrated scale and shrinks its spread, so a
stranger's one lucky frame counts only for its share. The mean embedding (:meth:`Visit.combined`) still describes a
stranger for the stranger memory.

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

    def embeddings(self) -> list[dict[str, Vector]]:
        """Each frame's embeddings, in order."""
        return [f.face.embeddings for f in self.frames]

    def weights(self) -> list[float]:
        """Each frame's quality weight, in order."""
        return [f.weight for f in self.frames]

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

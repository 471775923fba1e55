"""1:N matching against enrolled users, per model, fused into one score.

The gallery holds, for each embedding model, one float32 matrix of every enrolled sample, rows
grouped by user. A probe's distance to a user is the smallest distance to any of that user's
samples, per model; the per-model distances are put on a common scale with each model's
calibration (see :class:`~firmware.vision.manifest.Calibration`) and averaged into the fused
score (smaller = more alike). The best user is accepted only when the fused score is under the
door threshold and the second-best user is at least ``margin`` further away; otherwise the
result is ``unknown`` or ``ambiguous``, never a guess.

Fail closed on numbers: every comparison is written so that a NaN or infinity anywhere (the
threshold, the margin, a score, any user's fused value) gives ``unknown``, because in IEEE
arithmetic ``score >= nan`` and ``margin < nan`` are both false and would otherwise let a face
through. The config refuses non-finite settings too; this is the second line.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from firmware.domain import Match
from firmware.vision.embed import Vector, distances
from firmware.vision.manifest import Calibration

Ids = npt.NDArray[np.int64]


@dataclass(frozen=True)
class Fusion:
    """How per-model distances become one score, and where the door threshold is.

    With one model the fused score is that model's standardised distance, so the same threshold
    scale applies in low-CPU mode.
    """

    metrics: dict[str, str]
    calibrations: dict[str, Calibration]
    threshold: float
    margin: float = 0.05

    def score(self, per_model: dict[str, float]) -> float:
        """Fused score of one comparison (``inf`` when a model's distance is missing)."""
        values = [self.calibrations[m].standardise(per_model.get(m, np.inf)) for m in self.calibrations]
        return float(np.mean(values))

    def usable(self) -> bool:
        """True when the threshold and margin are finite numbers (a matcher must not decide
        anything with a NaN or infinite rule)."""
        return bool(np.isfinite(self.threshold) and np.isfinite(self.margin) and self.margin >= 0)

    def accepts(self, score: float | None) -> bool:
        """Is ``score`` a 1:1 match at the door threshold? False for any non-finite value."""
        return score is not None and self.usable() and bool(np.isfinite(score)) and score < self.threshold


@dataclass
class _ModelRows:
    matrix: npt.NDArray[np.float32]
    norms: npt.NDArray[np.float32]  # squared row lengths, for Euclidean search
    starts: npt.NDArray[np.intp]  # first row of each present user
    present: npt.NDArray[np.intp]  # index into Gallery.users for each start


class Gallery:
    """Immutable snapshot of every enrolled encoding, indexed for fast 1:N search."""

    def __init__(self, rows: dict[str, tuple[Ids, npt.NDArray[np.float32]]], version: int = 0) -> None:
        """``rows`` maps model name to (user id per row, matrix), rows ordered by user id."""
        self.version = version
        all_ids = [ids for ids, _ in rows.values() if ids.size]
        self.users: Ids = np.unique(np.concatenate(all_ids)) if all_ids else np.zeros(0, dtype=np.int64)
        self._models: dict[str, _ModelRows] = {}
        for model, (ids, matrix) in rows.items():
            if not ids.size:
                continue
            if np.any(np.diff(ids) < 0):
                raise ValueError(f"gallery rows of {model} are not grouped by user")
            starts = np.flatnonzero(np.r_[True, ids[1:] != ids[:-1]])
            present = np.searchsorted(self.users, ids[starts])
            matrix = np.ascontiguousarray(matrix, dtype=np.float32)
            norms = np.einsum("ij,ij->i", matrix, matrix)
            self._models[model] = _ModelRows(matrix, norms, starts, present)

    def __len__(self) -> int:
        return int(self.users.size)

    def samples(self, model: str) -> int:
        """Number of stored encodings of ``model``."""
        rows = self._models.get(model)
        return 0 if rows is None else int(rows.matrix.shape[0])

    def per_user(self, model: str, metric: str, probe: Vector) -> npt.NDArray[np.float32]:
        """Distance from ``probe`` to each user (``inf`` for users without this model)."""
        out = np.full(self.users.size, np.inf, dtype=np.float32)
        rows = self._models.get(model)
        if rows is not None:
            out[rows.present] = np.minimum.reduceat(distances(metric, rows.matrix, probe, rows.norms), rows.starts)
        return out

    def search(self, probes: dict[str, Vector], fusion: Fusion) -> Match:
        """Find the enrolled user nearest to a face's embeddings (one per model)."""
        return self.search_frames([probes], [1.0], fusion)

    def search_frames(self, frames: list[dict[str, Vector]], weights: list[float], fusion: Fusion) -> Match:
        """One decision for several frames of one face: each user's fused score is the weighted
        mean of the frames' fused scores (and so are the per-model distances reported). Averaging
        scores, not embeddings, keeps them on the scale the threshold was calibrated on (single
        photos), while a stranger's lucky frame counts only for its share. Anything non-finite
        (a probe, a weight, the threshold or margin) fails closed: ``unknown``."""
        models = list(fusion.calibrations)
        if not self.users.size or not frames or any(m not in f for f in frames for m in models):
            return Match("unknown", None, None)
        if not fusion.usable() or len(weights) != len(frames):
            return Match("unknown", None, None)
        if not all(math.isfinite(w) and w > 0 for w in weights):
            return Match("unknown", None, None)
        if not all(np.isfinite(f[m]).all() for f in frames for m in models):
            return Match("unknown", None, None)
        share = np.asarray(weights, dtype=np.float64) / float(np.sum(weights))
        per_model = {}
        for m in models:
            rows = [w * self.per_user(m, fusion.metrics[m], frame[m]) for w, frame in zip(share, frames, strict=True)]
            per_model[m] = np.sum(rows, axis=0)
        fused = np.mean([fusion.calibrations[m].standardise(per_model[m]) for m in models], axis=0)
        best = int(np.argmin(fused))
        score = float(fused[best])
        second = float(np.partition(fused, 1)[1]) if fused.size > 1 else np.inf
        margin = second - score
        found = {m: float(per_model[m][best]) for m in models}
        user = int(self.users[best])
        if np.isnan(fused).any() or not fusion.accepts(score):
            return Match("unknown", None, score, found, margin, user)
        if not margin >= fusion.margin:  # also true for a NaN margin
            return Match("ambiguous", None, score, found, margin, user)
        return Match("match", user, score, found, margin, user)

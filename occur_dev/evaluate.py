"""Verification and identification figures on labelled photos.

Used by ``occur eval-pairs`` (installers checking a threshold on their own camera's photos), by
``occur bench calibrate`` (the procedure that produced the shipped calibration and threshold)
and by the accuracy tests. The face used from each photo is its main face (the largest one the
landmark model confirms; see :meth:`FaceEngine.main_face`).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from firmware.errors import ImageError
from firmware.imaging.image import read_image_limited
from firmware.vision.embed import Vector, distances
from firmware.vision.engine import FaceEngine
from firmware.vision.gallery import Fusion

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".webp"}


class EmbeddingCache:
    """Embeddings of each image's main face (:meth:`FaceEngine.main_face`), computed once."""

    def __init__(self, engine: FaceEngine) -> None:
        self.engine = engine
        self._cache: dict[str, dict[str, Vector] | None] = {}
        self.errors: dict[str, str] = {}

    def get(self, path: str) -> dict[str, Vector] | None:
        """Embeddings of the main face in ``path``; None when there is no face or no image."""
        if path not in self._cache:
            try:
                faces = self.engine.faces(read_image_limited(Path(path))[0])
            except ImageError as err:
                self.errors[path] = str(err)
                faces = []
            main = self.engine.main_face(faces)
            if main is None and path not in self.errors:
                self.errors[path] = "no face found"
            self._cache[path] = main.embeddings if main is not None else None
        return self._cache[path]


def pair_distances(fusion: Fusion, a: dict[str, Vector], b: dict[str, Vector]) -> dict[str, float]:
    """Each model's distance between two faces."""
    return {m: float(distances(fusion.metrics[m], a[m][None, :], b[m])[0]) for m in fusion.calibrations}


@dataclass(frozen=True)
class Rates:
    """Accuracy, FAR and FRR of a score threshold on labelled pairs (fractions)."""

    threshold: float
    accuracy: float
    far: float
    frr: float


def rates(genuine: np.ndarray, impostor: np.ndarray, threshold: float) -> Rates:
    """Rates when "same person" means score < ``threshold``."""
    accepts_g = int(np.sum(genuine < threshold))
    accepts_i = int(np.sum(impostor < threshold))
    total = genuine.size + impostor.size
    return Rates(
        threshold,
        (accepts_g + impostor.size - accepts_i) / max(total, 1),
        accepts_i / max(impostor.size, 1),
        1 - accepts_g / max(genuine.size, 1),
    )


def threshold_at_far(impostor: np.ndarray, target_far: float) -> float:
    """The largest threshold whose false-accept rate on ``impostor`` scores is <= ``target_far``."""
    ordered = np.sort(impostor[np.isfinite(impostor)])
    if not ordered.size:
        return float("inf")
    allowed = int(np.floor(target_far * ordered.size))
    return float(ordered[min(allowed, ordered.size - 1)])


def labelled_images(root: Path, skip: Iterable[str] = ("group", "noface")) -> dict[str, list[str]]:
    """Images per identity in a folder-per-identity tree."""
    out: dict[str, list[str]] = {}
    for folder in sorted(p for p in root.iterdir() if p.is_dir() and p.name not in set(skip)):
        files = sorted(str(f) for f in folder.iterdir() if f.suffix.lower() in IMAGE_SUFFIXES)
        if files:
            out[folder.name] = files
    return out


def leave_one_out(cache: EmbeddingCache, fusion: Fusion, people: dict[str, list[str]]) -> dict[str, tuple[int, int]]:
    """Rank-1 identification, per model and fused: each image of an identity with at least two
    images is the probe and every other image is the gallery. Returns (correct, probes)."""
    items = [(who, p, cache.get(p)) for who, files in people.items() for p in files]
    items = [(who, p, e) for who, p, e in items if e is not None]
    names = sorted({who for who, _, _ in items})
    counts = {who: sum(1 for w, _, _ in items if w == who) for who in names}
    models = list(fusion.calibrations)
    correct = {key: 0 for key in [*models, "fused"]}
    probes = 0
    for i, (who, _, probe) in enumerate(items):
        if counts[who] < 2 or probe is None:
            continue
        probes += 1
        best: dict[str, dict[str, float]] = {m: {} for m in models}
        for j, (other, _, emb) in enumerate(items):
            if i == j or emb is None:
                continue
            for m, d in pair_distances(fusion, probe, emb).items():
                best[m][other] = min(best[m].get(other, np.inf), d)
        for m in models:
            correct[m] += int(min(best[m], key=lambda k: best[m][k]) == who)
        fused = {n: fusion.score({m: best[m][n] for m in models}) for n in best[models[0]]}
        correct["fused"] += int(min(fused, key=lambda k: fused[k]) == who)
    return {k: (v, probes) for k, v in correct.items()}

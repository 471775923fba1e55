"""``occur bench pairs``: 10-fold verification accuracy on same-person and different-person pairs.

The protocol of the recipes the models were built from (``../shared/docs/sface-and-fusion.md``):
pairs of raw photos, half of the same person and half of two people, split into ten folds that
share no person; for each fold the threshold (and, for the fused score, each model's genuine and
impostor mean) is fitted on the other nine and the accuracy measured on it. The face used from a
photo is its main face (:meth:`FaceEngine.main_face`), as in every photo tool; a photo without
one makes its pairs "different" (what the door would conclude).

Tight face crops (the calibration set) can be padded with black (``pad``, a fraction of the
longest side on each side) so that the photo has the margin a raw photo has.
"""

from __future__ import annotations

import itertools
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import numpy.typing as npt

from firmware.config import VisionConfig
from firmware.errors import ImageError
from firmware.imaging.image import pad_image, read_image_limited
from firmware.vision.embed import Vector, distances
from firmware.vision.engine import FaceEngine
from occur_dev.evaluate import labelled_images, threshold_at_far

Pair = tuple[str, str, int, int]  # photo a, photo b, 1 = same person, fold
FOLDS = 10


def make_pairs(people: dict[str, list[str]], per_kind: int, seed: int = 13) -> list[Pair]:
    """``per_kind`` same-person and as many different-person pairs (fewer when the folder has
    fewer), spread evenly over :data:`FOLDS` folds that share no person."""
    rng = np.random.default_rng(seed)
    names = [n for n in sorted(people) if people[n]]
    order = [names[i] for i in rng.permutation(len(names))]
    pairs: list[Pair] = []
    for fold in range(FOLDS):
        members = order[fold::FOLDS]
        genuine = [(a, b) for n in members for a, b in itertools.combinations(people[n], 2)]
        want = min(len(genuine), per_kind // FOLDS)
        picked: list[int] = [int(i) for i in rng.choice(len(genuine), want, replace=False)] if want else []
        pairs.extend((genuine[int(i)][0], genuine[int(i)][1], 1, fold) for i in picked)
        seen: set[tuple[str, str]] = set()
        possible = sum(len(people[a]) * len(people[b]) for a, b in itertools.combinations(members, 2))
        while len(seen) < min(want, possible):
            p, q = rng.choice(len(members), 2, replace=False)
            a = people[members[int(p)]][int(rng.integers(len(people[members[int(p)]])))]
            b = people[members[int(q)]][int(rng.integers(len(people[members[int(q)]])))]
            if (a, b) not in seen and (b, a) not in seen:
                seen.add((a, b))
                pairs.append((a, b, 0, fold))
    return pairs


def best_threshold(scores: npt.NDArray[np.float64], same: npt.NDArray[np.bool_]) -> float:
    """The threshold ("same" when below) with the highest accuracy on these scores; among
    equally good ones, the middle of their range (a few pairs should not pin it to one edge)."""
    order = np.argsort(scores, kind="stable")
    s, g = scores[order], same[order]
    finite = s[np.isfinite(s)]
    if not finite.size:
        return 0.0
    cuts = np.r_[finite[0] - 1, (s[:-1] + s[1:]) / 2, finite[-1] + 1]
    accepted_genuine = np.r_[0, np.cumsum(g)]
    rejected_impostor = (~g).sum() - np.r_[0, np.cumsum(~g)]
    accuracy = (accepted_genuine + rejected_impostor) / len(g)
    accuracy[~np.isfinite(cuts)] = -1
    best = np.flatnonzero(accuracy == accuracy.max())
    return float((cuts[best[0]] + cuts[best[-1]]) / 2)


@dataclass
class PairsReport:
    """Mean and standard deviation of the 10 folds' accuracy per model and fused, the
    false-reject rate at a 0.1 % false-accept rate over all pairs, and what was missing."""

    genuine: int = 0
    impostor: int = 0
    photos: int = 0
    no_face: list[str] = field(default_factory=list)
    accuracy: dict[str, tuple[float, float]] = field(default_factory=dict)
    frr_at_far_001: dict[str, float] = field(default_factory=dict)
    ms_per_photo: float = 0.0


def _standardised(scores: dict[str, npt.NDArray[np.float64]], same: npt.NDArray[np.bool_],
                  fit: npt.NDArray[np.bool_]) -> npt.NDArray[np.float64]:  # fmt: skip
    """The fused score: each model's distance scaled by its genuine and impostor means over the
    ``fit`` pairs (0 = typical same person, 1 = typical stranger), averaged."""
    parts = []
    for d in scores.values():
        known = np.where(np.isfinite(d), d, np.nan)
        g, i = float(np.nanmean(known[fit & same])), float(np.nanmean(known[fit & ~same]))
        parts.append((d - g) / (i - g))
    return np.asarray(np.mean(parts, axis=0), dtype=np.float64)


def ten_fold(scores: dict[str, npt.NDArray[np.float64]], same: npt.NDArray[np.bool_], folds: npt.NDArray[np.int64],
             report: PairsReport) -> None:  # fmt: skip
    """Fill ``report.accuracy`` and ``report.frr_at_far_001`` from per-model distances."""
    everything = np.ones_like(same)
    for name in [*scores, *(["fused"] if len(scores) > 1 else [])]:
        accuracies = []
        for k in range(FOLDS):
            train, test = folds != k, folds == k
            if not test.any():
                continue
            score = _standardised(scores, same, train) if name == "fused" else scores[name]
            cut = best_threshold(score[train], same[train])
            accuracies.append(float(np.mean((score[test] < cut) == same[test])))
        report.accuracy[name] = (float(np.mean(accuracies)), float(np.std(accuracies)))
        whole = _standardised(scores, same, everything) if name == "fused" else scores[name]
        report.frr_at_far_001[name] = _frr(whole, same)


def _distance(metric: str, a: Vector, b: Vector) -> float:
    return float(distances(metric, a[None], b)[0])


def _frr(score: npt.NDArray[np.float64], same: npt.NDArray[np.bool_]) -> float:
    cut = threshold_at_far(score[~same], 0.001)
    return float(np.mean(~(score[same] < cut)))


def run(faces: Path, config: VisionConfig, per_kind: int = 3000, pad: float = 0.0, seed: int = 13) -> PairsReport:
    """Build the pairs from a folder-per-identity tree, embed every photo in them, report."""
    engine = FaceEngine.load(config.for_photos())
    pairs = make_pairs(labelled_images(faces), per_kind, seed)
    report = PairsReport(sum(p[2] for p in pairs), sum(1 - p[2] for p in pairs))
    vectors: dict[str, dict[str, Vector] | None] = {}
    started = time.perf_counter()
    for path in sorted({p for a, b, _, _ in pairs for p in (a, b)}):
        try:
            image = read_image_limited(Path(path))[0]
        except ImageError:
            vectors[path] = None
            report.no_face.append(path)
            continue
        face = engine.main_face(engine.faces(pad_image(image, pad) if pad > 0 else image))
        vectors[path] = face.embeddings if face is not None else None
        if face is None:
            report.no_face.append(path)
    report.photos = len(vectors)
    report.ms_per_photo = (time.perf_counter() - started) * 1000 / max(len(vectors), 1)
    metrics = engine.fusion.metrics
    scores: dict[str, npt.NDArray[np.float64]] = {}
    for model, metric in metrics.items():
        column = []
        for a, b, _, _ in pairs:
            va, vb = vectors[a], vectors[b]
            column.append(np.inf if va is None or vb is None else _distance(metric, va[model], vb[model]))
        scores[model] = np.asarray(column, dtype=np.float64)
    same = np.array([p[2] == 1 for p in pairs])
    folds = np.array([p[3] for p in pairs], dtype=np.int64)
    ten_fold(scores, same, folds, report)
    return report

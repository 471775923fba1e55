"""Calibration statistics from embeddings: per-model means, fused score curves, held-out checks.

Pure numpy on the arrays of :class:`occur_dev.bench.embedset.EmbeddedSet`; no model or image is
touched here, so the procedure is the same whatever the front end does.

- **Per-model calibration**: the mean distance of same-person and of different-person pairs (every
  unordered pair of photos), rounded to 6 decimals; the door standardises each model's distance
  with them, ``(d - genuine) / (impostor - genuine)``, and averages the models (fused score).
- **Curves** for every model combination and ``k`` samples per user: a user is ``k`` photos of
  one person (disjoint groups of ``k`` in file order, so every photo serves once per ``k``), their
  per-model distance to a probe is the nearest of the ``k``, as in the door's gallery, and the
  impostor comparisons are every photo of every other person. ``k = 1`` is simply every
  different-person pair. FAR(t) is empirical down to ``TAIL_P`` and a fitted GPD tail below.
- **Identity audit**: the sets were curated apart, so one person may be in two of them under
  different names (the dev set's folders are partly anonymised). Two people from different sets
  whose *median* fused score over all their photo pairs is lower than the median of 99 % of the
  people with themselves are the same person: they are counted as one, so their pairs are not
  taken for strangers' (they would fake a heavy tail).
- **Weights**: for a combination of two models, the fused score is ``w * a + (1 - w) * b`` of the
  standardised distances, ``w`` on a 0.05 grid chosen for the fewest genuine pairs over the
  threshold at pair FAR ``WEIGHT_FAR`` (the models are not equally good).
- **Held-out check**: people are split in two by a hash of their name; a curve fitted on one
  half's pairs predicts the thresholds at 1e-3 ... 1e-6, and the other half's pairs are counted
  below them (and the other way round).
"""

from __future__ import annotations

import hashlib
import itertools
import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from occur_dev.bench.embedset import EmbeddedSet
from occur_dev.bench.tailfit import Tail, fit_lower_tail

Matrix = npt.NDArray[np.float32]
TAIL_P = 1e-3
GRID_DECADES = (-1, -10)  # FAR grid from 1e-1 down to 1e-10, POINTS_PER_DECADE each
POINTS_PER_DECADE = 8
SAMPLE_COUNTS = (1, 2, 3, 5)
CHECK_LEVELS = (1e-3, 1e-4, 1e-5, 1e-6)
MIN_EXCEEDANCES = 200  # a smaller set starts its tail higher: p_u = max(TAIL_P, 200 / comparisons)
MIN_COMPARISONS = 2000  # fewer: no curve for that sample count
WEIGHT_FAR = 1e-5
WEIGHT_GRID = tuple(round(0.05 * i, 2) for i in range(1, 20))
AUDIT_QUANTILE = 99


@dataclass(frozen=True)
class Curve:
    """One fitted FAR curve and what it was made from."""

    models: tuple[str, ...]
    weights: tuple[float, ...]
    samples: int
    thresholds: tuple[float, ...]
    far: tuple[float, ...]
    tail: Tail
    impostor: int
    genuine: int
    frr: dict[float, float]  # FAR level -> share of genuine comparisons at or over its threshold


@dataclass(frozen=True)
class CheckRow:
    """A held-out check: threshold from one half, counted on the other."""

    models: str
    fold: str
    level: float
    threshold: float
    empirical_threshold: float | None
    held_out_pairs: int
    observed: int

    @property
    def expected(self) -> float:
        """Accepts the fitted curve predicts among the held-out pairs."""
        return self.level * self.held_out_pairs


def distance_matrix(vectors: Matrix, metric: str) -> Matrix:
    """Every photo's distance to every photo under ``metric`` (cosine vectors are unit length)."""
    dots = vectors @ vectors.T
    if metric == "cosine":
        return np.asarray(1.0 - dots, dtype=np.float32)
    norms = np.einsum("ij,ij->i", vectors, vectors)
    return np.asarray(np.sqrt(np.maximum(norms[:, None] + norms[None, :] - 2 * dots, 0.0)), dtype=np.float32)


def identities(data: EmbeddedSet) -> npt.NDArray[np.intp]:
    """An integer per row: which person."""
    names = {p: i for i, p in enumerate(sorted(set(data.people)))}
    return np.array([names[p] for p in data.people], dtype=np.intp)


def model_calibration(d: Matrix, who: npt.NDArray[np.intp]) -> tuple[float, float, int, int]:
    """(genuine mean, impostor mean, genuine pairs, impostor pairs) over unordered pairs, means
    rounded to 6 decimals (what the file stores is what the curves are computed with)."""
    upper = np.triu(np.ones(d.shape, dtype=bool), 1)
    same = (who[:, None] == who[None, :]) & upper
    different = (who[:, None] != who[None, :]) & upper
    return round(float(d[same].mean()), 6), round(float(d[different].mean()), 6), int(same.sum()), int(different.sum())


def combinations(names: list[str]) -> list[tuple[str, ...]]:
    """Every model combination the door may run: one or more models, one variant of each
    (``sface`` and ``sface-f16`` are variants of one model)."""
    every = (c for size in range(1, len(names) + 1) for c in itertools.combinations(sorted(names), size))
    return [c for c in every if len({m.split("-")[0] for m in c}) == len(c)]


def groups(who: npt.NDArray[np.intp], k: int) -> list[npt.NDArray[np.intp]]:
    """Disjoint groups of ``k`` rows of one person each, in row order."""
    out = []
    for person in np.unique(who):
        rows = np.flatnonzero(who == person)
        out += [rows[i : i + k] for i in range(0, rows.size - k + 1, k)]
    return out


def fuse(parts: list[Matrix], weights: tuple[float, ...]) -> Matrix:
    """The weighted sum of standardised distances (weights sum to 1)."""
    return np.asarray(sum(w * p for w, p in zip(weights, parts, strict=True)), dtype=np.float32)


def user_scores(
    standardised: dict[str, Matrix],
    who: npt.NDArray[np.intp],
    k: int,
    rows: npt.NDArray[np.intp] | None = None,
    weights: tuple[float, ...] | None = None,
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """(impostor, genuine) fused scores of ``k``-sample users against probe photos, restricted
    to ``rows`` (people and probes both) when given; equal weights unless given."""
    keep = np.arange(who.size) if rows is None else rows
    sub = [s[np.ix_(keep, keep)] if rows is not None else s for s in standardised.values()]
    weights = weights or tuple(1 / len(sub) for _ in sub)
    ids = who[keep]
    if k == 1:
        fused = fuse(sub, weights)
        upper = np.triu(np.ones(fused.shape, dtype=bool), 1)
        same = ids[:, None] == ids[None, :]
        return fused[upper & ~same].astype(np.float64), fused[upper & same].astype(np.float64)
    impostor, genuine = [], []
    for group in groups(ids, k):
        fused = fuse([s[group].min(axis=0) for s in sub], weights)
        own = ids == ids[group[0]]
        own_probes = own.copy()
        own_probes[group] = False
        impostor.append(fused[~own])
        genuine.append(fused[own_probes])
    return np.concatenate(impostor).astype(np.float64), np.concatenate(genuine or [np.zeros(0)]).astype(np.float64)


def tail_start(comparisons: int) -> float:
    """The FAR below which the tail is modelled: ``TAIL_P``, higher for small sets."""
    return max(TAIL_P, MIN_EXCEEDANCES / max(comparisons, 1))


def far_grid() -> list[float]:
    """FAR levels of a committed curve, from the lowest up."""
    top, bottom = GRID_DECADES
    steps = (top - bottom) * POINTS_PER_DECADE
    return [10 ** (bottom + i / POINTS_PER_DECADE) for i in range(steps + 1)]


def empirical_threshold(ordered: npt.NDArray[np.float64], far: float) -> float:
    """A threshold with a share ``far`` of the (sorted) scores below it."""
    c = max(1, min(ordered.size - 1, round(far * ordered.size)))
    return float((ordered[c - 1] + ordered[c]) / 2)


def fit_curve(
    impostor: npt.NDArray[np.float64],
    genuine: npt.NDArray[np.float64],
    models: tuple[str, ...],
    samples: int,
    weights: tuple[float, ...],
) -> Curve:
    """Empirical FAR(t) above ``TAIL_P``, GPD tail below, on the FAR grid; rounded for the file
    (thresholds 6 decimals, FAR 4 significant digits) and strictly increasing.

    Raises:
        ValueError: too few impostor comparisons for the tail fit.
    """
    ordered = np.sort(impostor)
    tail = fit_lower_tail(ordered, tail_start(ordered.size))
    points: list[tuple[float, float]] = []
    for far in far_grid():
        t = tail.threshold(far) if far < tail.p_u else empirical_threshold(ordered, far)
        if math.isfinite(t) and t > tail.lowest:
            points.append((round(t, 6), float(f"{far:.4g}")))
    clean: list[tuple[float, float]] = []
    for t, f in points:
        if not clean or (t > clean[-1][0] and f > clean[-1][1]):
            clean.append((t, f))
    frr = {}
    for level in CHECK_LEVELS:
        t = tail.threshold(level) if level < tail.p_u else empirical_threshold(ordered, level)
        frr[level] = float(np.mean(genuine >= t)) if genuine.size else math.nan
    return Curve(
        models,
        weights,
        samples,
        tuple(t for t, _ in clean),
        tuple(f for _, f in clean),
        tail,
        int(impostor.size),
        int(genuine.size),
        frr,
    )


def folds(who: npt.NDArray[np.intp], names: list[str]) -> npt.NDArray[np.intp]:
    """0 or 1 per row: the person's half for the held-out check (a hash of the person's name)."""
    half = np.array([hashlib.sha256(n.encode()).digest()[0] & 1 for n in names], dtype=np.intp)
    return half[who]


def held_out_check(
    standardised: dict[str, Matrix],
    who: npt.NDArray[np.intp],
    half: npt.NDArray[np.intp],
    weights: tuple[float, ...],
) -> list[CheckRow]:
    """Fit on one half's different-person pairs, count the other half's below the predicted
    thresholds, both ways round."""
    rows = []
    name = "+".join(sorted(standardised))
    for fit_on in (0, 1):
        fit_rows, test_rows = np.flatnonzero(half == fit_on), np.flatnonzero(half != fit_on)
        fit_impostor, _ = user_scores(standardised, who, 1, fit_rows, weights)
        test_impostor, _ = user_scores(standardised, who, 1, test_rows, weights)
        ordered = np.sort(fit_impostor)
        tail = fit_lower_tail(ordered, tail_start(ordered.size))
        for level in CHECK_LEVELS:
            t = tail.threshold(level) if level < tail.p_u else empirical_threshold(ordered, level)
            empirical = empirical_threshold(ordered, level) if level * ordered.size >= 1 else None
            rows.append(
                CheckRow(
                    name,
                    f"fit {'AB'[fit_on]} -> check {'AB'[1 - fit_on]}",
                    level,
                    t,
                    empirical,
                    int(test_impostor.size),
                    int(np.sum(test_impostor < t)),
                )
            )
    return rows


def audit(standardised: dict[str, Matrix], who: npt.NDArray[np.intp], sets: list[str]) -> list[tuple[int, int, float]]:
    """Pairs of people from different sets who are one person (see the module doc): (person,
    person, median fused score), by the equal-weight fusion of ``standardised``."""
    fused = fuse(list(standardised.values()), tuple(1 / len(standardised) for _ in standardised))
    rows = [np.flatnonzero(who == p) for p in range(int(who.max()) + 1)]
    own = [float(np.median(fused[np.ix_(r, r)][np.triu_indices(r.size, 1)])) for r in rows if r.size > 1]
    limit = float(np.percentile(own, AUDIT_QUANTILE))
    found = []
    for a, b in itertools.combinations(range(len(rows)), 2):
        if rows[a].size and rows[b].size and sets[a] != sets[b]:
            median = float(np.median(fused[np.ix_(rows[a], rows[b])]))
            if median < limit:
                found.append((a, b, median))
    return found


def best_weights(standardised: dict[str, Matrix], who: npt.NDArray[np.intp]) -> tuple[float, ...]:
    """Weights for a combination (see the module doc); equal for more than two models."""
    if len(standardised) != 2:
        return tuple(1 / len(standardised) for _ in standardised)
    a, b = standardised.values()
    upper = np.triu(np.ones(a.shape, dtype=bool), 1)
    same = (who[:, None] == who[None, :])[upper]
    pa, pb = a[upper], b[upper]
    best, kept = (0.5, 0.5), math.inf
    for w in WEIGHT_GRID:
        fused = w * pa + (1 - w) * pb
        t = empirical_threshold(np.sort(fused[~same]).astype(np.float64), WEIGHT_FAR)
        lost = float(np.mean(fused[same] >= t))
        if lost < kept:
            best, kept = (w, round(1 - w, 2)), lost
    return best


def merged_identities(data: EmbeddedSet) -> tuple[npt.NDArray[np.intp], list[tuple[str, str, float]]]:
    """Person per row after the identity audit (by the full-precision models), and who was merged."""
    who = identities(data)
    names = sorted(set(data.people))
    standardised = {}
    for name in sorted(m for m in data.vectors if "-" not in m) or sorted(data.vectors):
        d = distance_matrix(data.vectors[name], data.metrics[name])
        genuine, impostor, _, _ = model_calibration(d, who)
        standardised[name] = ((d - genuine) / (impostor - genuine)).astype(np.float32)
    merged = []
    for a, b, median in audit(standardised, who, [n.split("/")[0] for n in names]):
        merged.append((names[a], names[b], round(median, 4)))
        who[who == b] = a
    return who, merged

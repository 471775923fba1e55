"""``occur bench openset``: the door's open-set decisions on labelled photos, at N enrolled people.

Protocol (one round; several rounds re-draw who is enrolled and who is a stranger): people with
one photo, and a share of the others (``strangers``), are strangers: every photo of theirs is a
stranger visit. Of the rest, N are enrolled with their first photo (file order), and each of
their other photos is a visit. Every visit is decided as the door decides it: the fused score of
the nearest user must be under the door threshold that the shipped curve gives for this gallery
(N people, one sample each; ``[vision] stranger_accept_rate``) and beat the second-best user by
the margin. Reported per model and fused: rank-1 (nearest user is right), the share of stranger
visits named as someone, and the share of enrolled visits not named (unknown or ambiguous) or
named wrongly.

For N beyond the people available, nothing is measured; :func:`predict` gives what the fitted
curve predicts instead (labelled as such): the stranger-accept bound, and the not-named rate
from this set's genuine scores at that threshold, with the chance that one of N - 1 other users
comes within the margin (from the curve).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from firmware.vision.farcurve import CurveSet
from firmware.vision.manifest import Calibration
from occur_dev.bench.calstats import distance_matrix, groups, merged_identities
from occur_dev.bench.embedset import EmbeddedSet

Matrix = npt.NDArray[np.float32]


@dataclass
class OpenSetRow:
    """Counts for one gallery size and model combination, summed over rounds."""

    n: int
    models: str
    threshold: float
    expected_rate: float
    rounds: int = 0
    visits: int = 0
    rank1: int = 0
    named_right: int = 0
    misnamed: int = 0
    stranger_visits: int = 0
    strangers_named: int = 0

    @property
    def not_named(self) -> int:
        """Enrolled visits not named as themselves (unknown, ambiguous or someone else)."""
        return self.visits - self.named_right


@dataclass(frozen=True)
class Prediction:
    """What the fitted curve predicts at a gallery size (nothing measured)."""

    n: int
    models: str
    threshold: float
    expected_rate: float
    calibration_rate: float
    not_named: float


@dataclass(frozen=True)
class DoorModels:
    """One model combination as the door runs it: calibrations and curves from the shipped file."""

    name: str
    calibrations: dict[str, Calibration]
    curves: CurveSet


def wilson_upper(events: int, trials: int, z: float = 1.96) -> float:
    """Upper end of the 95 % Wilson score interval of a rate."""
    if trials <= 0:
        return 1.0
    p = events / trials
    centre = p + z * z / (2 * trials)
    spread = z * math.sqrt(p * (1 - p) / trials + z * z / (4 * trials * trials))
    return min(1.0, (centre + spread) / (1 + z * z / trials))


def standardised(data: EmbeddedSet, door: DoorModels) -> list[Matrix]:
    """Each model's share of the fused score, photo against photo, as the door computes it: the
    fused score of a comparison is the sum of the shares (of each model's nearest sample)."""
    parts = []
    for model, cal in door.calibrations.items():
        d = distance_matrix(data.vectors[model], data.metrics[model])
        share = (d - cal.genuine_mean) / ((cal.impostor_mean - cal.genuine_mean) * len(door.calibrations))
        parts.append(np.asarray(share, dtype=np.float32))
    return parts


def split(who: npt.NDArray[np.intp], share: float, rng: np.random.Generator) -> tuple[list[int], list[int]]:
    """(people who may be enrolled, in random order; strangers)."""
    people, counts = np.unique(who, return_counts=True)
    several = [int(p) for p, c in zip(people, counts, strict=True) if c > 1]
    singles = [int(p) for p, c in zip(people, counts, strict=True) if c == 1]
    order = [several[i] for i in rng.permutation(len(several))]
    aside = round(share * len(order))
    return order[aside:], order[:aside] + singles


def decide(scores: Matrix, threshold: float, margin: float) -> tuple[npt.NDArray[np.intp], npt.NDArray[np.bool_]]:
    """(nearest gallery column, named?) per row of visit-to-gallery fused scores."""
    best = np.argmin(scores, axis=1)
    ordered = np.partition(scores, 1, axis=1) if scores.shape[1] > 1 else np.c_[scores, np.full(len(scores), np.inf)]
    top, second = ordered[:, 0], ordered[:, 1]
    named = np.isfinite(top) & (top < threshold) & (second - top >= margin)
    return best, named


def _per_user(parts: list[Matrix], probes: npt.NDArray[np.intp], gallery: list[npt.NDArray[np.intp]]) -> Matrix:
    """Probe-to-user fused scores: per model the nearest of the user's samples, then summed."""
    return np.stack([np.sum([p[np.ix_(probes, rows)].min(axis=1) for p in parts], axis=0) for rows in gallery], axis=1)


def run_round(
    fused: list[Matrix],
    who: npt.NDArray[np.intp],
    door: DoorModels,
    sizes: list[int],
    rows: dict[int, OpenSetRow],
    **opts: float,
) -> None:
    """One round of every gallery size in ``sizes``; adds to ``rows``."""
    rng = np.random.default_rng(int(opts["seed"]))
    pool, strangers = split(who, opts["strangers"], rng)
    stranger_rows = np.flatnonzero(np.isin(who, strangers))
    for n in sizes:
        if n > len(pool):
            continue
        k = int(opts["samples"])
        enrolled = [p for p in pool if np.sum(who == p) > k][:n]
        if len(enrolled) < n:
            continue
        gallery = [np.flatnonzero(who == p)[:k] for p in enrolled]
        visits = np.flatnonzero(np.isin(who, enrolled) & ~np.isin(np.arange(who.size), np.concatenate(gallery)))
        column = np.full(int(who.max()) + 1, -1, dtype=np.intp)
        column[enrolled] = np.arange(n)
        row = rows[n]
        best, named = decide(_per_user(fused, visits, gallery), row.threshold, opts["margin"])
        right = column[who[visits]] == best
        row.rounds += 1
        row.visits += int(visits.size)
        row.rank1 += int(right.sum())
        row.named_right += int((right & named).sum())
        row.misnamed += int((~right & named).sum())
        _, stranger_named = decide(_per_user(fused, stranger_rows, gallery), row.threshold, opts["margin"])
        row.stranger_visits += int(stranger_rows.size)
        row.strangers_named += int(stranger_named.sum())


def run_openset(
    data: EmbeddedSet,
    door: DoorModels,
    sizes: list[int],
    target: float,
    margin: float,
    strangers: float = 0.25,
    rounds: int = 5,
    samples: int = 1,
) -> list[OpenSetRow]:
    """Measured rows for every gallery size the set has people for (``samples`` photos enrolled)."""
    who, _ = merged_identities(data)
    fused = standardised(data, door)
    rows = {}
    for n in sizes:
        threshold = door.curves.threshold_for(target, [samples] * n)
        rows[n] = OpenSetRow(n, door.name, threshold, door.curves.stranger_rate(threshold, [samples] * n)[1])
    for r in range(rounds):
        run_round(fused, who, door, sizes, rows, seed=r, strangers=strangers, margin=margin, samples=samples)
    return [row for row in rows.values() if row.rounds]


def genuine_scores(data: EmbeddedSet, door: DoorModels, samples: int = 1) -> npt.NDArray[np.float64]:
    """Fused scores of every user made of ``samples`` photos (disjoint groups in file order)
    against each other photo of the same person."""
    who, _ = merged_identities(data)
    parts = standardised(data, door)
    out = []
    for group in groups(who, samples):
        own = np.flatnonzero(who == who[group[0]])
        probes = own[~np.isin(own, group)]
        if probes.size:
            out.append(_per_user(parts, probes, [group])[:, 0])
    return np.concatenate(out).astype(np.float64) if out else np.zeros(0)


def predict(
    genuine: npt.NDArray[np.float64], door: DoorModels, n: int, target: float, margin: float, samples: int = 1
) -> Prediction:
    """What the curve predicts for a gallery of ``n`` people with ``samples`` samples each: the
    stranger bound, and the share of ``genuine`` scores over the threshold or with one of the
    ``n - 1`` other users within the margin (that chance from the curve)."""
    counts = [samples] * n
    threshold = door.curves.threshold_for(target, counts)
    calibration_rate, expected = door.curves.stranger_rate(threshold, counts)
    lost = []
    for g in genuine:
        if g >= threshold:
            lost.append(1.0)
        else:
            crowd = door.curves.per_user_far(float(g) + margin, samples)
            lost.append(1.0 - (1.0 - crowd) ** (n - 1))
    return Prediction(n, door.name, threshold, expected, calibration_rate, float(np.mean(lost)) if lost else math.nan)

"""Does score normalisation pay? The not-named rate of each method at the same stranger rate.

Each round draws N enrolled people (first photo), a set of strangers and, for the cohort method,
a disjoint cohort of other people. Methods, on the door's fused scores (one sample per user):

- ``raw``: the fused score, as the door decides;
- ``znorm-cohort``: each user's score standardised by the mean and spread of that user's scores
  against the cohort's photos (per-user normalisation against a calibration cohort);
- ``znorm-gallery``: the same with the other enrolled users as the cohort (what a device has);
- ``tnorm-gallery``: each visit's scores standardised by their own mean and spread over the
  gallery (probe-side normalisation).

For a fair comparison each method gets its own threshold, set so that the same share of stranger
visits is named (the empirical quantile of the strangers' best scores), and the margin rule is
left out for all. A method pays if it names more enrolled visits at the same stranger rate.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from occur_dev.bench.calstats import merged_identities
from occur_dev.bench.embedset import EmbeddedSet
from occur_dev.bench.openset import DoorModels, standardised

Matrix = npt.NDArray[np.float64]
LEVELS = (0.01, 0.003, 0.001)


@dataclass
class NormRow:
    """One method: rank-1 and the not-named rate at each stranger rate in ``LEVELS``."""

    method: str
    visits: int
    stranger_visits: int
    rank1: float
    not_named: dict[float, float]


def _methods(visits: Matrix, strangers: Matrix, cohort: Matrix, gallery: Matrix) -> dict[str, tuple[Matrix, Matrix]]:
    mu, sd = cohort.mean(axis=0), cohort.std(axis=0)
    own = gallery.copy()
    np.fill_diagonal(own, np.nan)
    mu_g, sd_g = np.nanmean(own, axis=0), np.nanstd(own, axis=0)

    def tnorm(m: Matrix) -> Matrix:
        return np.asarray((m - m.mean(axis=1, keepdims=True)) / m.std(axis=1, keepdims=True))

    return {
        "raw": (visits, strangers),
        "znorm-cohort": ((visits - mu) / sd, (strangers - mu) / sd),
        "znorm-gallery": ((visits - mu_g) / sd_g, (strangers - mu_g) / sd_g),
        "tnorm-gallery": (tnorm(visits), tnorm(strangers)),
    }


def compare(data: EmbeddedSet, door: DoorModels, n: int, rounds: int = 20, strangers: int = 80) -> list[NormRow]:
    """Every method at gallery size ``n`` over ``rounds`` draws (seeded, so repeatable).

    Raises:
        ValueError: the set has too few people for ``n`` enrolled, strangers and a cohort.
    """
    who, _ = merged_identities(data)
    fused = np.sum(standardised(data, door), axis=0).astype(np.float64)
    people = np.unique(who)
    cohort_size = min(100, people.size - n - strangers)
    if cohort_size < 10:
        raise ValueError(f"{people.size} people: too few for {n} enrolled, {strangers} strangers and a cohort")
    found: dict[str, dict[str, list[npt.NDArray[np.generic]]]] = {}
    rng = np.random.default_rng(0)
    for _ in range(rounds):
        order = rng.permutation(people)
        enrolled, outside, cohort_people = order[:n], order[n : n + strangers], order[n + strangers :][:cohort_size]
        gallery = np.array([np.flatnonzero(who == p)[0] for p in enrolled])
        visits = np.flatnonzero(np.isin(who, enrolled) & ~np.isin(np.arange(who.size), gallery))
        stranger_rows = np.flatnonzero(np.isin(who, outside))
        cohort = np.flatnonzero(np.isin(who, cohort_people))
        column = np.full(int(who.max()) + 1, -1)
        column[enrolled] = np.arange(n)
        methods = _methods(
            fused[np.ix_(visits, gallery)],
            fused[np.ix_(stranger_rows, gallery)],
            fused[np.ix_(cohort, gallery)],
            fused[np.ix_(gallery, gallery)],
        )
        for name, (v, s) in methods.items():
            slot = found.setdefault(name, {"best": [], "right": [], "strangers": []})
            slot["best"].append(v.min(axis=1))
            slot["right"].append(v.argmin(axis=1) == column[who[visits]])
            slot["strangers"].append(s.min(axis=1))
    rows = []
    for name, slot in found.items():
        best, right = np.concatenate(slot["best"]), np.concatenate(slot["right"]).astype(bool)
        stranger_best = np.sort(np.concatenate(slot["strangers"]))
        not_named = {}
        for level in LEVELS:
            threshold = stranger_best[int(level * stranger_best.size)]  # this share of strangers below
            not_named[level] = float(np.mean(~(right & (best < threshold))))
        rows.append(NormRow(name, int(best.size), int(stranger_best.size), float(right.mean()), not_named))
    return rows

"""The far tail of a false-accept curve: a generalised Pareto fit beyond the empirical range.

A door accepts when the fused score is *below* the threshold, so false accepts live in the lower
tail of the impostor scores. Below the score ``u`` where a fraction ``p_u`` of impostor scores
lie (by default ``p_u = 1e-3``: about 4,900 of the calibration set's 4.9 million pairs), the
distances ``y = u - s`` are modelled by a generalised Pareto distribution (GPD; the
Pickands-Balkema-de Haan theorem makes it the limit law of such exceedances), so::

    FAR(t) = p_u * (1 + xi * (u - t) / sigma) ** (-1 / xi)      for t < u

and the empirical curve above ``u``. ``xi < 0`` (the usual case for bounded distances) gives a
finite lowest score. Parameters are maximum-likelihood estimates, found with Grimshaw's
profile reparametrisation ``theta = xi / sigma`` on a fixed grid refined by golden-section
search: deterministic, no optimiser library.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

Scores = npt.NDArray[np.float64]
GOLDEN = (math.sqrt(5) - 1) / 2


@dataclass(frozen=True)
class Tail:
    """A fitted lower tail: ``p_u`` of the scores lie below ``u``; exceedances are GPD(xi, sigma)."""

    u: float
    p_u: float
    xi: float
    sigma: float
    exceedances: int

    def far(self, t: float) -> float:
        """Modelled fraction of scores below ``t`` (valid for ``t <= u``)."""
        y = self.u - t
        if y <= 0:
            return self.p_u
        if abs(self.xi) < 1e-9:
            return self.p_u * math.exp(-y / self.sigma)
        base = 1.0 + self.xi * y / self.sigma
        return 0.0 if base <= 0 else float(self.p_u * base ** (-1.0 / self.xi))

    def threshold(self, far: float) -> float:
        """The score below which a fraction ``far`` (< ``p_u``) of scores lie."""
        ratio = far / self.p_u
        if abs(self.xi) < 1e-9:
            return self.u + self.sigma * math.log(ratio)
        return float(self.u - self.sigma * (ratio ** (-self.xi) - 1.0) / self.xi)

    @property
    def lowest(self) -> float:
        """The modelled lowest score (``-inf`` when ``xi >= 0``)."""
        return self.u - self.sigma / -self.xi if self.xi < 0 else -math.inf


def _profile(y: Scores, theta: float) -> tuple[float, float]:
    """(log-likelihood, xi) at ``theta``, with xi and sigma = xi / theta at their optimum."""
    if abs(theta) < 1e-12:
        sigma = float(y.mean())
        return -y.size * (math.log(sigma) + 1.0), 0.0
    xi = float(np.log1p(theta * y).mean())
    sigma = xi / theta
    if sigma <= 0:
        return -math.inf, xi
    return -y.size * (math.log(sigma) + 1.0 + xi), xi


def fit_gpd(y: Scores) -> tuple[float, float]:
    """Maximum-likelihood (xi, sigma) of positive exceedances ``y``.

    Raises:
        ValueError: fewer than 50 exceedances, or not all positive and finite.
    """
    y = np.asarray(y, dtype=np.float64)
    if y.size < 50 or not np.all(np.isfinite(y)) or np.any(y <= 0):
        raise ValueError("a tail fit needs at least 50 positive, finite exceedances")
    top, mean = float(y.max()), float(y.mean())
    lower = -1.0 / top
    grid = np.concatenate([lower * (1 - np.geomspace(1e-6, 1.0, 400))[:-1], [0.0], np.geomspace(1e-4, 1e3, 400) / mean])
    values = [_profile(y, float(t))[0] for t in grid]
    best = int(np.argmax(values))
    a = float(grid[max(best - 1, 0)])
    b = float(grid[min(best + 1, grid.size - 1)])
    c, d = b - GOLDEN * (b - a), a + GOLDEN * (b - a)
    for _ in range(80):
        if _profile(y, c)[0] > _profile(y, d)[0]:
            b, d = d, c
            c = b - GOLDEN * (b - a)
        else:
            a, c = c, d
            d = a + GOLDEN * (b - a)
    theta = (a + b) / 2
    if _profile(y, theta)[0] < values[best]:
        theta = float(grid[best])
    xi = _profile(y, theta)[1]
    sigma = mean if abs(theta) < 1e-12 else xi / theta
    return xi, sigma


def fit_lower_tail(scores: Scores, p_u: float = 1e-3) -> Tail:
    """Fit the lower tail of ``scores`` below their ``p_u`` quantile.

    Raises:
        ValueError: too few scores for that many exceedances.
    """
    ordered = np.sort(np.asarray(scores, dtype=np.float64))
    if int(p_u * ordered.size) < 50:
        raise ValueError(f"{ordered.size} scores leave {int(p_u * ordered.size)} below the {p_u} quantile; need 50")
    u = float(ordered[int(p_u * ordered.size)])
    below = ordered[ordered < u]  # ties at u stay out: every exceedance is positive
    xi, sigma = fit_gpd(u - below)
    return Tail(u, below.size / ordered.size, xi, sigma, int(below.size))

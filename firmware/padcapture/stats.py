"""Exact binomial confidence bounds for error rates measured on few trials."""

from __future__ import annotations

import math


def binomial_cdf(k: int, n: int, p: float) -> float:
    """P(X <= k) for X ~ Binomial(n, p)."""
    if p <= 0.0:
        return 1.0
    if p >= 1.0:
        return 1.0 if k >= n else 0.0
    total = 0.0
    for i in range(k + 1):
        log_term = math.lgamma(n + 1) - math.lgamma(i + 1) - math.lgamma(n - i + 1)
        total += math.exp(log_term + i * math.log(p) + (n - i) * math.log1p(-p))
    return min(1.0, total)


def clopper_pearson_upper(errors: int, trials: int, confidence: float = 0.95) -> float:
    """One-sided upper confidence bound (Clopper-Pearson) of an error rate: the largest rate
    under which seeing ``errors`` or fewer in ``trials`` still has probability ``1 -
    confidence``. 0 errors in n trials gives 1 - 0.05^(1/n) (about 3/n, the "rule of three").

    Raises:
        ValueError: no trials, or more errors than trials.
    """
    if trials <= 0 or not 0 <= errors <= trials:
        raise ValueError(f"need 0 <= errors <= trials and trials > 0, got {errors}/{trials}")
    if errors == trials:
        return 1.0
    alpha = 1.0 - confidence
    lo, hi = errors / trials, 1.0
    for _ in range(100):
        mid = (lo + hi) / 2
        if binomial_cdf(errors, trials, mid) > alpha:
            lo = mid
        else:
            hi = mid
    return hi

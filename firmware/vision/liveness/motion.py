"""The planar-motion test: does the face move like a head, or like a picture?

Between two frames of a visit, the landmarks of a flat picture (a print, a screen) move by
one homography, whatever the picture does in 3-D. A head does not: its nose stands out of the
plane of its eyes, brows and lips, so when the head turns the nose leaves the homography that
carries that plane, by about 0.18 x IOD x sin(yaw) at the tip.

:func:`compare` fits the homography on the face-plane points (``geometry.FACE_PLANE``) from an
earlier frame to a later one and reports, as fractions of the inter-ocular distance (IOD):

- ``parallax``: how far the nose points leave it (their mean displacement vector's length,
  so that jitter of single points averages out while a real parallax, shared by every nose
  point, does not);
- ``plane``: how far the homography is from a similarity (rotation, scale, shift): the
  out-of-plane motion that proves the object turned, without which no flat picture can be
  told from a still head.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from firmware.vision.liveness.geometry import (
    FACE_PLANE,
    NOSE,
    Array,
    apply_affine,
    apply_homography,
    fit_homography,
    fit_similarity,
    iod,
)

_PLANE = list(FACE_PLANE)
_NOSE = list(NOSE)


@dataclass(frozen=True)
class PairMotion:
    """Motion between two frames, fractions of the IOD (see the module docstring)."""

    parallax: float
    plane: float


def compare(earlier: Array, later: Array) -> PairMotion:
    """Parallax and out-of-plane motion from ``earlier`` to ``later`` (468 x 2+ landmarks)."""
    scale = iod(earlier)
    if scale <= 0:
        return PairMotion(0.0, 0.0)
    src, dst = earlier[_PLANE, :2], later[_PLANE, :2]
    h = fit_homography(src, dst)
    s = fit_similarity(src, dst)
    plane = float(np.sqrt((np.hypot(*(apply_homography(h, src) - apply_affine(s, src)).T) ** 2).mean()))
    off = later[_NOSE, :2] - apply_homography(h, earlier[_NOSE, :2])
    parallax = float(np.hypot(*off.mean(axis=0)))
    return PairMotion(parallax / scale, plane / scale)

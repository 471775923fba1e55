"""Landmark sets of MediaPipe's canonical 468-point face mesh and the 2-D fits the cues use.

Indices follow the canonical mesh (the subject's right eye is on the image's left). The fits
are plain least squares on pixel coordinates, normalised the way Hartley recommends so that
their conditioning does not depend on where the face is in the frame.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

Array = npt.NDArray[np.float64]

RIGHT_EYE = (33, 160, 158, 133, 153, 144)
"""Outer corner, two upper-lid points, inner corner, two lower-lid points (p1..p6 of the eye
aspect ratio)."""
LEFT_EYE = (263, 387, 385, 362, 380, 373)
EYE_CENTRES = ((33, 133), (263, 362))
MOUTH_CORNERS = (61, 291)
NOSE = (1, 4, 5, 195, 197, 6, 2, 98, 327, 48, 278, 129, 358)
"""Tip, dorsum, bridge, base and alae: the points that stand furthest out of the face plane."""
FACE_PLANE = (
    33, 133, 160, 158, 153, 144, 263, 362, 387, 385, 380, 373,  # eyes
    70, 63, 105, 66, 107, 336, 296, 334, 293, 300,  # brows
    61, 291, 0, 17, 13, 14, 37, 267, 84, 314,  # lips
    10, 151, 9, 152, 199, 175,  # forehead and chin midline
)  # fmt: skip
"""Points near one plane on a real face (eyes, brows, lips, midline of forehead and chin)."""
CONTOUR = (234, 454, 127, 356, 93, 323, 132, 361, 58, 288, 172, 397, 162, 389, 21, 251)
"""Face sides: the furthest from the face plane after the nose, and the noisiest."""


def iod(points: Array) -> float:
    """Inter-ocular distance: between the two eye centres (mean of each eye's corners), px."""
    right = points[list(EYE_CENTRES[0]), :2].mean(axis=0)
    left = points[list(EYE_CENTRES[1]), :2].mean(axis=0)
    return float(np.hypot(*(left - right)))


def _normaliser(points: Array) -> Array:
    centre = points.mean(axis=0)
    spread = float(np.sqrt(((points - centre) ** 2).sum(axis=1).mean())) or 1.0
    s = np.sqrt(2) / spread
    return np.array([[s, 0, -s * centre[0]], [0, s, -s * centre[1]], [0, 0, 1]])


def fit_homography(src: Array, dst: Array) -> Array:
    """The 3x3 homography mapping ``src`` to ``dst`` (N x 2, N >= 4) in the least-squares
    algebraic sense (normalised DLT)."""
    ns, nd = _normaliser(src), _normaliser(dst)
    a = np.c_[src, np.ones(len(src))] @ ns.T
    b = np.c_[dst, np.ones(len(dst))] @ nd.T
    zeros = np.zeros((len(a), 3))
    rows = np.vstack(
        [
            np.hstack([zeros, -a * b[:, 2:3], a * b[:, 1:2]]),
            np.hstack([a * b[:, 2:3], zeros, -a * b[:, 0:1]]),
        ]
    )
    _, _, vt = np.linalg.svd(rows)
    h = vt[-1].reshape(3, 3)
    out = np.linalg.inv(nd) @ h @ ns
    return np.asarray(out / (out[2, 2] if abs(out[2, 2]) > 1e-12 else 1.0), dtype=np.float64)


def apply_homography(h: Array, points: Array) -> Array:
    """``points`` (N x 2) mapped through ``h``."""
    p = np.c_[points, np.ones(len(points))] @ h.T
    w = np.where(np.abs(p[:, 2:3]) < 1e-12, 1e-12, p[:, 2:3])
    return np.asarray(p[:, :2] / w, dtype=np.float64)


def fit_similarity(src: Array, dst: Array) -> Array:
    """The 2x3 similarity (rotation, uniform scale, translation) that maps ``src`` to ``dst``
    best in least squares (Umeyama without reflection)."""
    ms, md = src.mean(axis=0), dst.mean(axis=0)
    a, b = src - ms, dst - md
    var = float((a**2).sum()) or 1e-12
    cov = b.T @ a / len(a)
    u, s, vt = np.linalg.svd(cov)
    d = np.diag([1.0, 1.0 if np.linalg.det(u @ vt) >= 0 else -1.0])
    rot = u @ d @ vt
    scale = float(np.trace(np.diag(s) @ d)) / (var / len(a))
    return np.asarray(np.c_[scale * rot, md - scale * rot @ ms], dtype=np.float64)


def apply_affine(m: Array, points: Array) -> Array:
    """``points`` (N x 2) mapped through a 2x3 affine matrix."""
    return np.asarray(points @ m[:, :2].T + m[:, 2], dtype=np.float64)


def eye_aspect_ratio(points: Array) -> float:
    """Mean eye aspect ratio of both eyes, ``(|p2-p6| + |p3-p5|) / (2 |p1-p4|)`` (Soukupová
    and Čech): about 0.25-0.35 open, near 0 closed. Uses image x, y only."""
    values = []
    for eye in (RIGHT_EYE, LEFT_EYE):
        p = points[list(eye), :2]
        width = float(np.hypot(*(p[0] - p[3])))
        lids = float(np.hypot(*(p[1] - p[5]))) + float(np.hypot(*(p[2] - p[4])))
        values.append(lids / (2 * width) if width > 0 else 0.0)
    return float(np.mean(values))

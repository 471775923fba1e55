"""Face-chip alignment: a similarity transform from detector keypoints to a model's template.

Each embedding model was trained on crops aligned a particular way, so each gets its own
template (chip size and landmark positions in chip pixels). The transform is the least-squares
similarity (uniform scale, rotation, translation; never a reflection) by Umeyama's method, fitted
in the direction each model's own reference fits it (a least-squares fit is not symmetric: when
the points do not match the template exactly, the two directions give different scales):

- plain templates (SFace): from the detected points to the template, as ArcFace-style training
  crops and OpenCV's ``FaceRecognizerSF.alignCrop`` are made;
- the ``dlib`` geometry: from the template to the detected points, as dlib's
  ``get_face_chip_details`` does.

Templates (numbers from the project's measurements, ``../shared/docs``):

- ``SFACE_112``: the standard 5-point ArcFace template for 112x112. BlazeFace has no mouth
  corners, so its mouth centre maps to the midpoint of the two template corners.
- ``DLIB_150``: dlib's 150-px chip (padding 0.25) with BlazeFace keypoints calibrated against
  dlib's 5-point alignment on 296 LFW faces; eyes and mouth only (the nose moves with yaw).

Sampling: the ``dlib`` geometry uses dlib's own chip extraction, reproduced exactly in
:mod:`firmware.vision.dlib_chip` (OpenCV's ``warpAffine`` moved the descriptor by up to 0.1 from
dlib's for large faces). Plain templates use OpenCV's bilinear ``warpAffine``, as OpenCV's
``FaceRecognizerSF.alignCrop`` does for SFace.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from firmware.domain import Detection, Image
from firmware.imaging.image import pyr_down, warp_to_chip
from firmware.vision.dlib_chip import dlib_chip

Matrix = npt.NDArray[np.float64]


@dataclass(frozen=True)
class ChipTemplate:
    """Where the chosen BlazeFace keypoints must land in a ``size`` x ``size`` chip."""

    name: str
    size: int
    keypoints: tuple[int, ...]
    points: tuple[tuple[float, float], ...]
    geometry: str = "plain"


SFACE_112 = ChipTemplate(
    "sface_arcface_112",
    112,
    (0, 1, 2, 3),
    ((38.2946, 51.6963), (73.5318, 51.5014), (56.0252, 71.7366), ((41.5493 + 70.7299) / 2, (92.3655 + 92.2041) / 2)),
)
DLIB_150 = ChipTemplate("dlib_150", 150, (0, 1, 3), ((46.37, 47.28), (102.24, 47.48), (73.69, 108.35)), "dlib")
ENROL_224 = ChipTemplate("enrolment_224", 224, (0, 1, 3), ((79.93, 80.95), (142.51, 81.18), (110.53, 149.35)))
"""The stored enrolment chip: dlib's face frame with padding 0.5, wide enough for any model's
template to be cut from it again when a new model re-embeds the samples."""


def similarity(src: npt.ArrayLike, dst: npt.ArrayLike) -> Matrix:
    """Least-squares similarity transform mapping ``src`` points onto ``dst`` points.

    Returns:
        A 2x3 matrix ``[s*R | t]`` with ``det(R) = +1`` (no reflection).

    Raises:
        ValueError: fewer than two points, mismatched shapes, or all ``src`` points equal.
    """
    a = np.asarray(src, dtype=np.float64)
    b = np.asarray(dst, dtype=np.float64)
    if a.shape != b.shape or a.ndim != 2 or a.shape[1] != 2 or a.shape[0] < 2:
        raise ValueError(f"need matching (N>=2, 2) point sets, got {a.shape} and {b.shape}")
    mean_a, mean_b = a.mean(axis=0), b.mean(axis=0)
    da, db = a - mean_a, b - mean_b
    var_a = float((da**2).sum()) / len(a)
    if var_a <= 0:
        raise ValueError("source points are all the same")
    u, sigma, vt = np.linalg.svd(db.T @ da / len(a))
    d = np.diag([1.0, float(np.sign(np.linalg.det(u) * np.linalg.det(vt)) or 1.0)])
    rotation = u @ d @ vt
    scale = float(np.trace(np.diag(sigma) @ d)) / var_a
    shift = mean_b - scale * rotation @ mean_a
    return np.hstack([scale * rotation, shift[:, None]])


def chip_transform(face: Detection, template: ChipTemplate) -> Matrix:
    """The 2x3 matrix mapping chip pixels to image pixels for ``face``.

    Raises:
        ValueError: degenerate keypoints (the face would collapse to under 2 px).
    """
    detected = [face.keypoints[i] for i in template.keypoints]
    if template.geometry == "dlib":
        matrix = similarity(template.points, detected)
    else:
        try:
            forward = similarity(detected, template.points)  # image -> chip, then inverted
        except ValueError as err:
            raise ValueError(f"keypoints are degenerate: {err}") from err
        if abs(np.linalg.det(forward[:, :2])) < 1e-12:
            raise ValueError("keypoints are degenerate: the face is smaller than 2 px")
        matrix = np.linalg.inv(np.vstack([forward, [0.0, 0.0, 1.0]]))[:2]
    if abs(np.linalg.det(matrix[:, :2])) * template.size**2 < 4.0:
        raise ValueError("keypoints are degenerate: the face is smaller than 2 px")
    if template.geometry == "dlib":
        # dlib's chip rectangle for a size*s face is size*s - 1 wide, centred on T(size/2):
        # chip pixel (size-1)/2 maps there, and the pixel pitch is (size*s - 1)/(size - 1).
        n = template.size
        scale = float(np.sqrt(abs(np.linalg.det(matrix[:, :2]))))
        linear = matrix[:, :2] * ((n * scale - 1) / (n - 1) / scale)
        centre = matrix[:, :2] @ np.array([n / 2, n / 2]) + matrix[:, 2]
        matrix = np.hstack([linear, (centre - linear @ np.array([(n - 1) / 2, (n - 1) / 2]))[:, None]])
    return matrix


def residual_px(face: Detection, template: ChipTemplate) -> float:
    """RMS distance, in chip pixels, between the template and the face's keypoints mapped into
    the chip: a cheap check that the keypoints form a plausible frontal face."""
    matrix = chip_transform(face, template)
    inverse = np.linalg.inv(np.vstack([matrix, [0.0, 0.0, 1.0]]))[:2]
    detected = np.asarray([face.keypoints[i] for i in template.keypoints], dtype=np.float64)
    mapped = detected @ inverse[:, :2].T + inverse[:, 2]
    return float(np.sqrt(((mapped - np.asarray(template.points)) ** 2).sum(axis=1).mean()))


def align(image: Image, face: Detection, template: ChipTemplate) -> Image:
    """Cut the aligned ``template.size`` square chip (BGR, uint8) for ``face`` out of ``image``.

    Pixels outside the image are black. The ``dlib`` geometry is dlib's own extraction (see
    :mod:`firmware.vision.dlib_chip`); plain templates are sampled with OpenCV's bilinear
    ``warpAffine``, from a halved image (repeatedly) when the face is more than twice the chip's
    size, so that bilinear sampling does not alias.
    """
    if template.geometry == "dlib":
        detected = [face.keypoints[i] for i in template.keypoints]
        chip_transform(face, template)  # the degenerate-keypoint check
        return dlib_chip(image, similarity(template.points, detected), template.size)
    matrix = chip_transform(face, template)
    while float(np.sqrt(abs(np.linalg.det(matrix[:, :2])))) > 2.0 and min(image.shape[:2]) >= 4:
        image = pyr_down(image)
        matrix = matrix / 2  # cv2.pyrDown's pixel i is centred on the source's pixel 2i
    return warp_to_chip(image, matrix, template.size)

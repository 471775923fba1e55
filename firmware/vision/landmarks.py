"""Dense face landmarks: MediaPipe's 468-point face mesh model on the TFLite runtime.

The detector's six keypoints are enough to align a chip but not to tell how a head is turned
when it is also tilted, nor whether the face moves like a head or like a flat picture. The mesh
model gives 468 points with a relative depth from a 192x192 crop around a detected face; head
pose and the liveness cues are computed from them.

The crop is a square 1.5 times the detector box's larger side, centred on the box and rotated
so that the eyes are level (the framing the model was trained with). Points come back in the
source image's pixels; ``z`` is in the same pixel scale, relative to the face's centre (smaller
is nearer the camera). Cost: one 192x192 inference per face (about 2 ms on two x86 cores).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from firmware.domain import Detection, Image
from firmware.errors import ModelError
from firmware.imaging.image import warp_to_chip
from firmware.vision import runtime

INPUT_SIZE = 192
POINTS = 468
ROI_SCALE = 1.5
MODEL_FILE = "face_landmark.tflite"

Points = npt.NDArray[np.float32]
"""``(468, 3)`` float32: x, y in source-image pixels, z relative depth in the same scale."""


@dataclass(frozen=True)
class Roi:
    """The rotated square the model saw: centre and side in image pixels, angle in radians
    (the rotation that levels the eyes, counter-clockwise in image coordinates)."""

    cx: float
    cy: float
    side: float
    angle: float


@dataclass(frozen=True)
class FaceMesh:
    """The landmarks of one face and how sure the model is that a face is there (0-1)."""

    points: Points
    presence: float
    roi: Roi


def roi_for(face: Detection) -> Roi:
    """The crop the landmark model expects for a detected face.

    Raises:
        ValueError: a degenerate box (zero size).
    """
    x0, y0, x1, y1 = face.box
    side = max(x1 - x0, y1 - y0) * ROI_SCALE
    if not side > 0:
        raise ValueError("empty face box")
    (rx, ry), (lx, ly) = face.keypoints[0], face.keypoints[1]
    # the subject's right eye is on the image's left: the eye line points from right to left eye
    angle = math.atan2(ly - ry, lx - rx)
    return Roi((x0 + x1) / 2, (y0 + y1) / 2, side, angle)


def crop_to_image(roi: Roi) -> npt.NDArray[np.float64]:
    """2x3 affine from crop pixels to image pixels: scale to the ROI's side, rotate by ``angle``
    about the ROI's centre."""
    scale = roi.side / INPUT_SIZE
    c, s = math.cos(roi.angle) * scale, math.sin(roi.angle) * scale
    half = INPUT_SIZE / 2
    return np.array([[c, -s, roi.cx - c * half + s * half], [s, c, roi.cy - s * half - c * half]], dtype=np.float64)


class LandmarkModel:
    """The face mesh model. Use :meth:`load`."""

    def __init__(self, model: runtime.TfliteModel) -> None:
        expected = (1, INPUT_SIZE, INPUT_SIZE, 3)
        if not model.inputs or model.inputs[0].shape != expected:
            raise ModelError(f"{model.path.name} is not a face mesh model (input {model.inputs})")
        sizes = [int(np.prod(o.shape)) for o in model.outputs]
        try:
            self._points_index = sizes.index(POINTS * 3)
            self._presence_index = sizes.index(1)
        except ValueError as err:
            raise ModelError(f"{model.path.name}: unexpected outputs {[o.shape for o in model.outputs]}") from err
        self._model = model

    @classmethod
    def load(cls, models_dir: Path, threads: int = 1) -> LandmarkModel:
        """Load ``face_landmark.tflite`` from ``models_dir``.

        Raises:
            ModelError: missing or wrong model file.
        """
        return cls(runtime.load(models_dir / MODEL_FILE, threads))

    @property
    def model(self) -> runtime.TfliteModel:
        """The underlying TFLite model (for its inference counters)."""
        return self._model

    def mesh(self, image: Image, face: Detection) -> FaceMesh:
        """The 468 landmarks of ``face`` in ``image`` (BGR).

        Raises:
            ValueError: a degenerate face box.
        """
        roi = roi_for(face)
        to_image = crop_to_image(roi)
        crop = warp_to_chip(image, to_image, INPUT_SIZE)
        tensor = (crop[:, :, ::-1].astype(np.float32) / 255.0)[None]
        outputs = self._model.run(tensor)
        raw = outputs[self._points_index].reshape(POINTS, 3).astype(np.float64)
        logit = float(outputs[self._presence_index].reshape(-1)[0])
        xy = raw[:, :2] @ to_image[:, :2].T + to_image[:, 2]
        z = raw[:, 2:3] * (roi.side / INPUT_SIZE)
        points = np.hstack([xy, z]).astype(np.float32)
        presence = 1.0 / (1.0 + math.exp(-max(-50.0, min(50.0, logit))))
        return FaceMesh(points, presence, roi)

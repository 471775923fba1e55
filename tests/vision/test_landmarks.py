"""The face mesh landmark model through LiteRT on real dev-set photos."""

from __future__ import annotations

import math

import numpy as np
import pytest

from firmware.errors import ModelError
from firmware.imaging.image import read_image
from firmware.vision import runtime
from firmware.vision.detect import FaceDetector
from firmware.vision.landmarks import POINTS, LandmarkModel, roi_for
from tests.conftest import REPO, SHARED

MODELS = REPO / "models" / "build"
OBAMA = SHARED / "data" / "faces" / "obama" / "obama.jpg"
RIGHT_EYE_OUTER, LEFT_EYE_OUTER, NOSE_TIP = 33, 263, 1


@pytest.fixture(scope="module")
def models() -> tuple[FaceDetector, LandmarkModel]:
    return FaceDetector.load(MODELS, "short_range"), LandmarkModel.load(MODELS)


def rotated(image: np.ndarray, degrees: float) -> np.ndarray:
    import cv2

    h, w = image.shape[:2]
    return cv2.warpAffine(image, cv2.getRotationMatrix2D((w / 2, h / 2), degrees, 1.0), (w, h))


@pytest.mark.parametrize("degrees", [-25.0, 0.0, 25.0])
def test_the_mesh_follows_a_tilted_head(models: tuple[FaceDetector, LandmarkModel], degrees: float) -> None:
    detector, model = models
    image = rotated(read_image(OBAMA), degrees)
    face = detector.detect(image)[0]
    mesh = model.mesh(image, face)
    assert mesh.points.shape == (POINTS, 3)
    assert mesh.presence > 0.9
    right, left = mesh.points[RIGHT_EYE_OUTER], mesh.points[LEFT_EYE_OUTER]
    eye_line = math.degrees(math.atan2(left[1] - right[1], left[0] - right[0]))
    assert abs(eye_line - (-degrees)) < 5  # image rotation is counter-clockwise, y points down
    iod = float(np.hypot(*(left[:2] - right[:2])))
    nose = mesh.points[NOSE_TIP, :2]
    assert np.hypot(*(nose - np.array(face.keypoints[2]))) < 0.25 * iod
    assert mesh.points[NOSE_TIP, 2] < np.median(mesh.points[:, 2])  # the nose is nearer than the face


def test_the_crop_is_wider_than_the_box(models: tuple[FaceDetector, LandmarkModel]) -> None:
    detector, _ = models
    face = detector.detect(read_image(OBAMA))[0]
    roi = roi_for(face)
    assert roi.side == pytest.approx(1.5 * max(face.width, face.height))


def test_a_detector_is_not_a_landmark_model() -> None:
    with pytest.raises(ModelError, match="not a face mesh model"):
        LandmarkModel(runtime.load(MODELS / "blazeface_short_range.tflite"))


def test_the_engine_computes_a_face_mesh_once() -> None:
    from firmware.config import VisionConfig
    from firmware.vision.engine import FaceEngine

    engine = FaceEngine.load(VisionConfig(models_dir=str(MODELS)))
    image = read_image(OBAMA)
    face = engine.faces(image, embed=False, pose=False)[0]
    assert face.mesh is None  # the first quality stage does not need it
    mesh = engine.mesh(image, face)
    assert mesh is not None and mesh.presence > 0.9
    assert engine.mesh(image, face) is mesh

"""Quality gates and alignment details on real photos, degraded in known ways."""

from __future__ import annotations

from dataclasses import replace

import cv2
import numpy as np
import pytest

from firmware.config import VisionConfig
from firmware.imaging.image import read_image
from firmware.vision.align import DLIB_150, SFACE_112, align
from firmware.vision.engine import FaceEngine
from tests.conftest import SHARED

PHOTO = SHARED / "data" / "faces" / "john_simm"


@pytest.fixture(scope="module")
def engine() -> FaceEngine:
    return FaceEngine.load(VisionConfig())


@pytest.fixture(scope="module")
def photo() -> np.ndarray:
    return read_image(sorted(PHOTO.glob("*.jpg"))[0])


def test_a_sharp_frontal_photo_passes(engine: FaceEngine, photo: np.ndarray) -> None:
    faces = engine.faces(photo, embed=False)
    assert len(faces) == 1 and faces[0].quality.ok, faces[0].quality


def test_blur_is_rejected_with_a_reason(engine: FaceEngine, photo: np.ndarray) -> None:
    face_px = engine.faces(photo, embed=False)[0].quality.face_px
    blurred = cv2.GaussianBlur(photo, (0, 0), 2.5 * face_px / 112)
    faces = engine.faces(blurred, embed=False)
    assert faces, "the blurred face should still be detected"
    assert any(p.startswith("image blurred") for p in faces[0].quality.problems)


def test_tilted_head_is_rejected_with_a_reason(engine: FaceEngine, photo: np.ndarray) -> None:
    h, w = photo.shape[:2]
    rotated = cv2.warpAffine(photo, cv2.getRotationMatrix2D((w / 2, h / 2), 45, 1.0), (w, h))
    faces = engine.faces(rotated, embed=False)
    assert faces and any(p.startswith("head tilted") for p in faces[0].quality.problems)


def test_small_face_is_rejected_with_a_reason(photo: np.ndarray) -> None:
    strict = FaceEngine.load(replace(VisionConfig(), min_face_px=200.0))
    faces = strict.faces(photo, embed=False)
    assert faces and any(p.startswith("face too small") for p in faces[0].quality.problems)


@pytest.mark.parametrize("template", [SFACE_112, DLIB_150], ids=lambda t: t.name)
def test_large_faces_are_sampled_through_a_pyramid(engine: FaceEngine, photo: np.ndarray, template: object) -> None:
    """A 6x enlarged photo gives nearly the chip of the original (no aliasing from skipping
    pixels), and the same identity embedding."""
    big = cv2.resize(photo, None, fx=6, fy=6, interpolation=cv2.INTER_CUBIC)
    small_face, big_face = engine.faces(photo)[0], engine.faces(big)[0]
    a = align(photo, small_face.detection, template).astype(np.float64)  # type: ignore[arg-type]
    b = align(big, big_face.detection, template).astype(np.float64)  # type: ignore[arg-type]
    assert np.abs(a - b).mean() < 12
    assert float(small_face.embeddings["sface"] @ big_face.embeddings["sface"]) > 0.9


def test_mirror_averaging_changes_the_embedding_little(photo: np.ndarray) -> None:
    plain = FaceEngine.load(VisionConfig()).faces(photo)[0].embeddings
    mirrored = FaceEngine.load(replace(VisionConfig(), mirror=True)).faces(photo)[0].embeddings
    assert abs(float(np.linalg.norm(mirrored["sface"])) - 1) < 1e-5
    assert 0.9 < float(plain["sface"] @ mirrored["sface"]) < 1 - 1e-6
    assert 0 < float(np.linalg.norm(plain["dlib"] - mirrored["dlib"])) < 0.3

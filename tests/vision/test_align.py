"""Alignment: the similarity fit, and chips cut from real photos with detected keypoints."""

from __future__ import annotations

import math

import numpy as np
import pytest

from firmware.domain import Detection
from firmware.imaging.image import read_image
from firmware.vision.align import DLIB_150, SFACE_112, align, chip_transform, residual_px, similarity
from firmware.vision.detect import FaceDetector
from tests.vision.test_detect import MODELS, photos


def test_similarity_recovers_a_known_transform() -> None:
    src = np.array([[10, 10], [50, 12], [30, 40], [28, 70]], float)
    angle, scale, shift = math.radians(25), 1.7, np.array([100.0, -20.0])
    rot = np.array([[math.cos(angle), -math.sin(angle)], [math.sin(angle), math.cos(angle)]])
    dst = src @ (scale * rot).T + shift
    matrix = similarity(src, dst)
    assert np.allclose(matrix[:, :2], scale * rot) and np.allclose(matrix[:, 2], shift)


def test_similarity_never_reflects() -> None:
    src = np.array([[0, 0], [10, 0], [0, 10]], float)
    mirrored = src * np.array([-1, 1])
    assert np.linalg.det(similarity(src, mirrored)[:, :2]) > 0


def test_bad_point_sets() -> None:
    with pytest.raises(ValueError):
        similarity([[0, 0]], [[1, 1]])
    with pytest.raises(ValueError):
        similarity([[1, 1], [1, 1]], [[0, 0], [3, 3]])
    tiny = Detection((0, 0, 1, 1), tuple((5.0, 5.0) for _ in range(6)), 0.9)
    with pytest.raises(ValueError, match="degenerate"):
        chip_transform(tiny, SFACE_112)


def test_chips_from_real_photos() -> None:
    detector = FaceDetector.load(MODELS, "short_range")
    checked, residuals = 0, []
    for path in photos()[::4]:
        image = read_image(path)
        faces = detector.detect(image)
        if len(faces) != 1:
            continue
        for template in (SFACE_112, DLIB_150):
            chip = align(image, faces[0], template)
            assert chip.shape == (template.size, template.size, 3) and chip.dtype == np.uint8
            assert chip.mean() > 20, f"{path.name}: chip is nearly black"
        residuals.append(residual_px(faces[0], SFACE_112))
        checked += 1
    assert checked >= 30
    # eyes, nose and mouth land near the template; swapped eyes would need a reflection
    # and leave residuals of tens of pixels
    assert float(np.median(residuals)) < 4.0, sorted(residuals)


def test_swapped_eyes_show_up_in_the_residual() -> None:
    face = Detection((0, 0, 100, 100), ((40, 50), (70, 50), (55, 70), (55, 90), (20, 60), (90, 60)), 0.9)
    swapped = Detection(face.box, (face.keypoints[1], face.keypoints[0], *face.keypoints[2:]), 0.9)
    assert residual_px(face, SFACE_112) < 3.0 < 10.0 < residual_px(swapped, SFACE_112)

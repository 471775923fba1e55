"""BlazeFace on real photos (../shared/data/faces) through LiteRT, with the set-up's built models."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

from firmware.errors import ImageError, ModelError
from firmware.imaging.image import read_image
from firmware.vision.detect import FaceDetector
from tests.conftest import REPO, SHARED

MODELS = REPO / "models" / "build"
FACES = SHARED / "data" / "faces"


def photos(folder: str | None = None) -> list[Path]:
    assert FACES.is_dir(), f"the face photos are expected at {FACES}"
    if folder:
        return sorted((FACES / folder).glob("*.jpg"))
    return sorted(
        p for d in FACES.iterdir() if d.is_dir() and d.name not in ("group", "noface") for p in d.glob("*.jpg")
    )


@pytest.fixture(scope="module")
def short() -> FaceDetector:
    return FaceDetector.load(MODELS, "short_range")


@pytest.fixture(scope="module")
def full() -> FaceDetector:
    return FaceDetector.load(MODELS, "full_range")


def test_short_range_finds_the_one_face_in_portraits(short: FaceDetector) -> None:
    images = photos()
    assert len(images) > 100
    single = 0
    for path in images:
        image = read_image(path)
        found = short.detect(image)
        if len(found) == 1:
            single += 1
            face = found[0]
            x0, y0, x1, y1 = face.box
            assert 0 <= x0 < x1 <= image.shape[1] and 0 <= y0 < y1 <= image.shape[0]
            right_eye, left_eye, nose, mouth = face.keypoints[:4]
            assert right_eye[1] < mouth[1] and left_eye[1] < mouth[1], path  # eyes above the mouth
            assert x0 <= nose[0] <= x1 and y0 <= nose[1] <= y1, path
    # measured: 151 of 162 with exactly one face
    assert single >= 0.85 * len(images), f"{single} of {len(images)}"


def test_full_range_counts_faces_in_group_photos(full: FaceDetector) -> None:
    labelled = [
        (p, int(m.group(1))) for p in photos("group") if (m := re.fullmatch(r"compreface_\d+_(\d+)\.jpg", p.name))
    ]
    assert len(labelled) >= 6
    found = sum(min(len(full.detect(read_image(p))), n) for p, n in labelled)
    expected = sum(n for _, n in labelled)
    assert found >= 0.7 * expected, f"{found} of {expected} faces"  # measured: 31 of 37


def test_no_face_photos(full: FaceDetector, short: FaceDetector) -> None:
    images = photos("noface")
    assert len(images) >= 10
    assert [p.name for p in images if full.detect(read_image(p))] == []
    false_short = [p.name for p in images if short.detect(read_image(p))]
    assert len(false_short) <= 0.25 * len(images), false_short  # measured: 3 of 14


def test_corrupt_and_missing_inputs(tmp_path: Path) -> None:
    truncated = tmp_path / "half.jpg"
    truncated.write_bytes((FACES / "obama" / "obama.jpg").read_bytes()[:200])
    with pytest.raises(ImageError, match=r"half\.jpg"):
        read_image(truncated)
    with pytest.raises(ImageError):
        read_image(tmp_path / "missing.jpg")
    with pytest.raises(ModelError, match="missing"):
        FaceDetector.load(tmp_path)
    with pytest.raises(ModelError, match="unknown detector variant"):
        FaceDetector.load(MODELS, "medium")
    not_a_model = tmp_path / "blazeface_short_range.tflite"
    not_a_model.write_bytes(b"\x00" * 1024)
    with pytest.raises(ModelError):
        FaceDetector.load(tmp_path)


def test_wrong_model_for_the_variant() -> None:
    with pytest.raises(ModelError, match="not a BlazeFace"):
        FaceDetector(FaceDetector.load(MODELS, "full_range")._model, FaceDetector.load(MODELS).variant)


def test_blank_frame_has_no_face(short: FaceDetector) -> None:
    assert short.detect(np.zeros((480, 640, 3), np.uint8)) == []

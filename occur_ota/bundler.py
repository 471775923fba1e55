"""``occur-ota bundle``: pack models built by the ``models/`` recipes into a signed-update bundle.

Self-test vectors are made here, with the same code the device runs: every face the detector
finds in the photos given (default: the set-up demo photos beside the models) is aligned for
each model, plus a few seeded noise chips that exercise the whole input range; the expected
outputs are this machine's embeddings. The device accepts its own outputs within a cosine of
``min_cosine`` (0.999 by default: float16 weights on ARM and x86 agree to about 1e-5).

A presentation-attack model (a ``kind: pad`` manifest, see ``firmware.vision.liveness.pad_model``)
travels the same way: its vectors are the face crops it would see in those photos plus noise
crops, and the expected outputs its live scores, which the device must match within 1e-3.
"""

from __future__ import annotations

import hashlib
import json
import tempfile
from pathlib import Path

import numpy as np

from firmware.errors import ModelError
from firmware.imaging.image import read_image_limited
from firmware.ota import bundle
from firmware.platform.clock import now_iso
from firmware.vision.detect import FaceDetector
from firmware.vision.embed import Embedder
from firmware.vision.landmarks import MODEL_FILE as LANDMARK_FILE
from firmware.vision.landmarks import LandmarkModel
from firmware.vision.liveness.pad_model import PadModel, pad_manifests
from firmware.vision.manifest import Manifest, load_manifests

NOISE_CHIPS = 3


def _chips(
    manifest: Manifest, embedder: Embedder, detector: FaceDetector, photos: list[Path], landmarks: LandmarkModel | None
) -> np.ndarray:
    size = manifest.input_size
    chips = []
    for photo in photos:
        image = read_image_limited(photo)[0]
        for det in detector.detect(image)[:2]:
            try:
                mesh = landmarks.mesh(image, det).points if landmarks is not None and embedder.needs_mesh else None
                chip = embedder.chip(image, det, mesh)
            except ValueError:
                continue
            if chip.shape == (size, size, 3):
                chips.append(chip)
    rng = np.random.default_rng(20261125)
    chips += [rng.integers(0, 256, (size, size, 3), dtype=np.uint8) for _ in range(NOISE_CHIPS)]
    return np.stack(chips).astype(np.uint8)


def _add_pad(
    model_dir: Path,
    model: str,
    photos: list[Path],
    detector: FaceDetector,
    scratch: Path,
    sources: dict[str, Path],
    tests: dict[str, bundle.SelfTest],
) -> None:
    """A presentation-attack model's files and vectors (crops in, live scores out)."""
    pad = PadModel.load(model_dir, model)
    manifest_file = pad.manifest.path.with_name(pad.manifest.path.name + ".manifest.json")
    sources[pad.manifest.path.name] = pad.manifest.path
    sources[manifest_file.name] = manifest_file
    licence = json.loads(manifest_file.read_text()).get("licence_file")
    if licence and (model_dir / licence).is_file():
        sources[licence] = model_dir / licence
    size = pad.manifest.input_size
    crops = []
    for photo in photos:
        image = read_image_limited(photo)[0]
        crops += [pad.crop(image, det) for det in detector.detect(image)[:2]]
    rng = np.random.default_rng(20261125)
    crops += [rng.integers(0, 256, (size, size, 3), dtype=np.uint8) for _ in range(NOISE_CHIPS)]
    inputs = np.stack(crops).astype(np.uint8)
    expected = np.array([[pad.score_crop(c)] for c in inputs], dtype=np.float32)
    inputs_name, expected_name = f"selftest-{model}.inputs.npy", f"selftest-{model}.expected.npy"
    np.save(scratch / inputs_name, inputs, allow_pickle=False)
    np.save(scratch / expected_name, expected, allow_pickle=False)
    sources[inputs_name], sources[expected_name] = scratch / inputs_name, scratch / expected_name
    tests[model] = bundle.SelfTest(inputs_name, expected_name, tolerance=1e-3)


def make(
    model_dir: Path,
    models: list[str],
    name: str,
    version: str,
    out: Path,
    photos: list[Path],
    min_cosine: float = 0.999,
    with_fusion: bool = True,
) -> bundle.BundleInfo:
    """Write ``out``: the named models of ``model_dir`` with manifests, licences, vectors.

    Raises:
        ModelError: a model is unknown or its file differs from its manifest.
    """
    manifests = load_manifests(model_dir)
    pads = pad_manifests(model_dir)
    unknown = [m for m in models if m not in manifests and m not in pads]
    if unknown or not models:
        raise ModelError(f"no manifest for {', '.join(unknown) or '(none)'} in {model_dir}")
    detector = FaceDetector.load(model_dir, "full_range", 1)
    landmarks = LandmarkModel.load(model_dir) if (model_dir / LANDMARK_FILE).is_file() else None  # mesh-aligned chips
    sources: dict[str, Path] = {}
    tests: dict[str, bundle.SelfTest] = {}
    with tempfile.TemporaryDirectory() as scratch:
        for model in models:
            if model not in manifests:
                _add_pad(model_dir, model, photos, detector, Path(scratch), sources, tests)
                continue
            manifest = manifests[model]
            manifest.verify_file()
            sources[manifest.path.name] = manifest.path
            sources[manifest.path.name + ".manifest.json"] = manifest.path.with_name(
                manifest.path.name + ".manifest.json"
            )
            licence = json.loads(sources[manifest.path.name + ".manifest.json"].read_text()).get("licence_file")
            if licence and (model_dir / licence).is_file():
                sources[licence] = model_dir / licence
            embedder = Embedder.load(manifest, 1)
            chips = _chips(manifest, embedder, detector, photos, landmarks)
            expected = np.stack([embedder.embed(c) for c in chips]).astype(np.float32)
            inputs_name, expected_name = f"selftest-{model}.inputs.npy", f"selftest-{model}.expected.npy"
            np.save(Path(scratch) / inputs_name, chips, allow_pickle=False)
            np.save(Path(scratch) / expected_name, expected, allow_pickle=False)
            sources[inputs_name] = Path(scratch) / inputs_name
            sources[expected_name] = Path(scratch) / expected_name
            tests[model] = bundle.SelfTest(inputs_name, expected_name, min_cosine)
        if with_fusion and (model_dir / "fusion.json").is_file():
            sources["fusion.json"] = model_dir / "fusion.json"
        files = {}
        for fname, path in sources.items():
            data = path.read_bytes()
            files[fname] = (len(data), hashlib.sha256(data).hexdigest())
        info = bundle.BundleInfo(name, version, now_iso(), tuple(models), files, tests)
        bundle.write(out, info, sources)
    return info

"""Self-test of a staged release, run in its own process.

Why a process: a broken model can crash the TFLite runtime (a segfault takes the whole
interpreter) or hang it; neither may take the door down. ``python -m firmware.ota.selftest
FOLDER`` loads the release as the door would (manifests and sha256, detectors, the door
calibration in ``fusion.json`` for exactly these model files), runs every bundled vector through
its model and prints one JSON line; exit 0 only when every check passed. :func:`run_isolated`
starts it with a time limit and turns any other outcome into an :class:`UpdateError` naming the reason.
"""

from __future__ import annotations

import json
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from firmware.config import VisionConfig
from firmware.errors import ModelError, UpdateError
from firmware.ota import bundle
from firmware.ota.child import run_child
from firmware.vision.embed import Embedder
from firmware.vision.engine import FaceEngine
from firmware.vision.liveness.pad_model import PadModel, pad_manifests
from firmware.vision.manifest import load_manifests


def check_release(folder: Path, vision: VisionConfig) -> dict[str, Any]:
    """Load ``folder`` with ``vision``'s settings and run the bundled vectors.

    Returns:
        Per model: vectors run, lowest cosine to the expected output.

    Raises:
        UpdateError: load failure, wrong shape, non-finite output or an output too far off.
    """
    info = bundle.read_info_file(folder / bundle.INDEX)
    try:
        engine = FaceEngine.load(replace(vision, models_dir=str(folder)))
    except ModelError as err:
        raise UpdateError(f"self-test: the release does not load: {err}") from err
    if engine.rule.calibration.problem is not None:  # the door would name nobody with it
        raise UpdateError(f"self-test: the release has no door calibration: {engine.rule.calibration.problem}")
    by_name = {e.name: e for e in engine.embedders}
    manifests = load_manifests(folder)
    pads = pad_manifests(folder)
    results: dict[str, Any] = {}
    for model, test in info.selftests.items():
        if model in pads and model not in manifests:
            results[model] = check_pad(folder, model, test)
            continue
        try:
            embedder = by_name.get(model) or Embedder.load(manifests[model], 1)
        except (KeyError, ModelError) as err:
            raise UpdateError(f"self-test: model {model} does not load: {err}") from err
        try:
            inputs = np.load(folder / test.inputs, allow_pickle=False)
            expected = np.load(folder / test.expected, allow_pickle=False)
        except (OSError, ValueError) as err:
            raise UpdateError(f"self-test: vectors of {model} unreadable: {err}") from err
        size = embedder.manifest.input_size
        if inputs.dtype != np.uint8 or inputs.ndim != 4 or inputs.shape[1:] != (size, size, 3) or not len(inputs):
            raise UpdateError(f"self-test: {model} inputs must be N x {size} x {size} x 3 uint8, got {inputs.shape}")
        if expected.shape != (len(inputs), embedder.manifest.output_dim):
            raise UpdateError(f"self-test: {model} expected outputs have shape {expected.shape}")
        worst = 1.0
        for chip, want in zip(inputs, expected, strict=True):
            got = embedder.embed(np.ascontiguousarray(chip))
            if got.shape != (embedder.manifest.output_dim,) or not np.all(np.isfinite(got)):
                raise UpdateError(f"self-test: {model} output has shape {got.shape} or is not finite")
            denominator = float(np.linalg.norm(got) * np.linalg.norm(want)) or 1.0
            worst = min(worst, float(np.dot(got, want)) / denominator)
        if worst < test.min_cosine:
            raise UpdateError(f"self-test: {model} output differs from the expected (cosine {worst:.5f})")
        results[model] = {"vectors": len(inputs), "min_cosine": round(worst, 6)}
    return results


def check_pad(folder: Path, model: str, test: bundle.SelfTest) -> dict[str, Any]:
    """Run a presentation-attack model's vectors: crops in, live scores within ``tolerance``.

    Raises:
        UpdateError: the model does not load, or a score is off, missing or not finite.
    """
    try:
        pad = PadModel.load(folder, model)
        inputs = np.load(folder / test.inputs, allow_pickle=False)
        expected = np.load(folder / test.expected, allow_pickle=False)
    except (ModelError, OSError, ValueError) as err:
        raise UpdateError(f"self-test: presentation-attack model {model} does not load: {err}") from err
    size = pad.manifest.input_size
    if inputs.dtype != np.uint8 or inputs.ndim != 4 or inputs.shape[1:] != (size, size, 3) or not len(inputs):
        raise UpdateError(f"self-test: {model} inputs must be N x {size} x {size} x 3 uint8, got {inputs.shape}")
    if expected.shape != (len(inputs), 1):
        raise UpdateError(f"self-test: {model} expected scores have shape {expected.shape}")
    worst = 0.0
    for crop, want in zip(inputs, expected[:, 0], strict=True):
        got = pad.score_crop(np.ascontiguousarray(crop))
        if not np.isfinite(got):
            raise UpdateError(f"self-test: {model} gives a score that is not finite")
        worst = max(worst, abs(got - float(want)))
    if worst > test.tolerance:
        raise UpdateError(f"self-test: {model} scores differ from the expected by {worst:.5f}")
    return {"vectors": len(inputs), "max_difference": round(worst, 6)}


def run_isolated(folder: Path, vision: VisionConfig, timeout_s: float) -> dict[str, Any]:
    """Run :func:`check_release` in a child process.

    Raises:
        UpdateError: the child failed a check, crashed (signal), or ran out of time.
    """
    settings = json.dumps({"models": list(vision.models), "detector": vision.detector, "threshold": vision.threshold})
    answer = run_child("self-test", "firmware.ota.selftest", [str(folder), settings], timeout_s)
    return dict(answer.get("models", {}))


def main(argv: list[str]) -> int:
    """Child entry point: ``FOLDER SETTINGS_JSON``; prints ``{"ok": ..., ...}``."""
    try:
        raw = json.loads(argv[1])
        vision = VisionConfig(
            models=tuple(raw["models"]), threads=1, detector=raw["detector"], threshold=float(raw["threshold"])
        )
        models = check_release(Path(argv[0]), vision)
    except (UpdateError, ValueError, KeyError, IndexError, OSError) as err:
        sys.stdout.write(json.dumps({"ok": False, "error": str(err)}) + "\n")
        return 1
    sys.stdout.write(json.dumps({"ok": True, "models": models}) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

"""Small presentation-attack models for the tests, written by the project's own converter
toolkit (models/toolkit): mean colour of the crop -> two logits (attack, live).

No real PAD model exists in a registry the project may use; these only exercise the path: the
manifest, the crop, the normalisation, the output index, the threshold, the signed update.
"""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path

import numpy as np

from tests.conftest import REPO

SIZE = 32


def write_pad_model(
    folder: Path, name: str, weights: list[list[float]], bias: list[float], threshold: float = 0.5
) -> Path:
    """``<name>.tflite`` and its manifest in ``folder``: logits = weights @ mean(RGB in [0, 1]) + bias,
    softmax, live = output 1. Returns the model file."""
    sys.path.insert(0, str(REPO / "models"))
    try:
        from toolkit.graph import Graph
        from toolkit.tflite_writer import serialise
    finally:
        sys.path.remove(str(REPO / "models"))
    graph = Graph(f"test presentation-attack model {name}")
    x = graph.input("crop", (1, SIZE, SIZE, 3))
    mean = graph.mean_hw(x, "mean")
    out = graph.fully_connected(mean, np.array(weights, dtype=np.float32), np.array(bias, dtype=np.float32), "logits")
    graph.output(out)
    folder.mkdir(parents=True, exist_ok=True)
    model = folder / f"{name}.tflite"
    model.write_bytes(serialise(graph))
    manifest = {
        "kind": "pad",
        "name": name,
        "file": model.name,
        "sha256": hashlib.sha256(model.read_bytes()).hexdigest(),
        "version": "test-1",
        "input_size": SIZE,
        "crop_scale": 1.5,
        "colour": "RGB",
        "scale": 1 / 255,
        "offset": 0.0,
        "live_index": 1,
        "activation": "softmax",
        "threshold": threshold,
        "licence": "test fixture",
        "source": "tests/vision/liveness/pad_models.py",
    }
    (folder / f"{name}.tflite.manifest.json").write_text(json.dumps(manifest))
    return model


def always(folder: Path, name: str, live: bool) -> Path:
    """A model that ignores its input: always live (or always attack), with certainty."""
    return write_pad_model(folder, name, [[0, 0, 0], [0, 0, 0]], [0.0, 8.0] if live else [8.0, 0.0])


def redness(folder: Path, name: str) -> Path:
    """Live when the crop is redder than it is blue (a toy rule a test can steer)."""
    return write_pad_model(folder, name, [[-10, 0, 10], [10, 0, -10]], [0.0, 0.0])

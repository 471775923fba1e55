"""``occur bench calibrate`` and ``occur bench openset``: the procedure is deterministic, writes a
file the door accepts for exactly the models it was made with, finds one person filed under two
names, and the open-set benchmark separates what it measured from what the curve predicts."""

from __future__ import annotations

import json
import tomllib
from itertools import pairwise
from pathlib import Path

import numpy as np
import pytest

from firmware.platform.install import built_models_dir
from firmware.vision.farcurve import parse
from firmware.vision.manifest import load_manifests
from occur_dev.bench.calibrate import statistics
from occur_dev.bench.embedset import EmbeddedSet
from tests.conftest import SHARED, Cli

FACES = SHARED / "data" / "faces"


def synthetic(seed: int = 1) -> EmbeddedSet:
    """60 people x 6 photos in two sets, two models; person 0 of set b is person 0 of set a."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(60, 32))
    centres[59] = centres[0]
    people, vectors = [], {"m1": [], "m2": []}
    for p, centre in enumerate(centres):
        for _ in range(6):
            people.append(f"{'a' if p < 30 else 'b'}/p{p:02d}")
            vectors["m1"].append(centre + rng.normal(scale=0.6, size=32))
            vectors["m2"].append(centre + rng.normal(scale=0.9, size=32))
    m1 = np.array(vectors["m1"], dtype=np.float32)
    m1 /= np.linalg.norm(m1, axis=1, keepdims=True)
    return EmbeddedSet(
        people,
        [f"/photos/{p}/{i}.jpg" for i, p in enumerate(people)],
        {"m1": m1, "m2": np.array(vectors["m2"], dtype=np.float32)},
        {"m1": "cosine", "m2": "euclidean"},
        {"m1": "1" * 64, "m2": "2" * 64},
    )


def test_the_procedure_is_deterministic_and_its_file_is_what_the_door_reads() -> None:
    first, second = statistics(synthetic(), ["synthetic"]), statistics(synthetic(), ["synthetic"])
    assert first.text == second.text
    assert first.merged and first.merged[0][:2] == ("a/p00", "b/p59")  # one person under two names
    assert first.people == 59
    doc = tomllib.loads(first.text)
    for models in ({"m1": "1" * 64}, {"m2": "2" * 64}, {"m1": "1" * 64, "m2": "2" * 64}):
        calibrations, curves = parse(doc, models)
        assert set(calibrations) == set(models) and 1 in curves.curves
        for curve in curves.curves.values():
            assert all(b > a for a, b in pairwise(curve.thresholds)) and all(b > a for a, b in pairwise(curve.far))
        assert curves.threshold_for(0.001, [1] * 100) < curves.threshold_for(0.001, [1] * 10)
    with pytest.raises(ValueError, match="made for other model files"):
        parse(doc, {"m1": "3" * 64})
    assert {r.models for r in first.checks} == {"m1", "m2", "m1+m2"} and all(r.held_out_pairs > 0 for r in first.checks)


def test_calibrate_and_openset_on_the_dev_faces(cli: Cli, tmp_path: Path) -> None:
    cache, target = tmp_path / "cache", tmp_path / "fusion.toml"
    result = cli("bench", "calibrate", str(FACES), "--write", str(target), "--cache", str(cache))
    assert result.status == 0, result.err
    assert "held-out check" in result.out and "pair FAR curves" in result.out and f"wrote {target}" in result.out
    manifests = load_manifests(built_models_dir())
    doc = tomllib.loads(target.read_text())
    _, curves = parse(doc, {m: manifests[m].sha256 for m in ("sface", "dlib")})
    assert curves.curves[1].far[0] < 1e-6
    assert list(cache.glob("embeddings-*.npz"))  # the next run reads the cache

    result = cli("bench", "openset", str(FACES), "--cache", str(cache), "--enrolled", "5", "20", "1000", "--json")
    assert result.status == 0, result.err
    doc = json.loads(result.out)
    measured = {(r["n"], r["models"]) for r in doc["measured"]}
    assert measured == {(n, m) for n in (5, 20) for m in ("sface", "dlib", "sface+dlib")}  # 32 people: no 1000
    assert {(p["n"], p["models"]) for p in doc["predicted"]} >= {(1000, "sface+dlib")}
    for row in doc["measured"]:
        assert row["visits"] > 0 and row["stranger_visits"] > 0 and 0 <= row["rank1"] <= row["visits"]
    predicted = {p["n"]: p for p in doc["predicted"] if p["models"] == "sface+dlib"}
    assert predicted[1000]["threshold"] < predicted[5]["threshold"]
    assert all(p["expected_rate"] <= 0.001 * (1 + 1e-6) for p in predicted.values())
    text = cli("bench", "openset", str(FACES), "--cache", str(cache), "--enrolled", "10").out
    assert "MEASURED" in text and "PREDICTED by the fitted curve (not measured)" in text

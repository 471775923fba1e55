"""``occur bench calibrate``: the procedure behind the shipped fusion statistics and threshold.

For every unordered pair of labelled photos (largest face each), it measures each model's
distance, reports each model's genuine and impostor mean (the manifest ``calibration``), then
the fused score's threshold at the target false-accept rate for every model combination (the
``thresholds`` of ``models/fusion.toml``), with accuracy, FAR and FRR at that threshold.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from firmware.config import VisionConfig
from firmware.recognition.evaluate import (
    EmbeddingCache,
    all_pairs,
    labelled_images,
    pair_distances,
    rates,
    threshold_at_far,
)
from firmware.vision.embed import Embedder
from firmware.vision.engine import FaceEngine, default_models_dir, load_detectors, load_landmarks
from firmware.vision.gallery import Fusion
from firmware.vision.manifest import Calibration, load_manifests
from firmware.vision.quality import QualityLimits


@dataclass(frozen=True)
class CalibrationReport:
    """Per-model statistics and per-combination thresholds."""

    pairs_genuine: int
    pairs_impostor: int
    models: dict[str, dict[str, float]]
    combos: dict[str, dict[str, float]]
    missing: list[str]


def calibrate(faces: Path, config: VisionConfig, target_far: float = 0.001) -> CalibrationReport:
    """Run the calibration procedure on a folder-per-identity tree."""
    folder = Path(config.models_dir) if config.models_dir else default_models_dir()
    manifests = load_manifests(folder)
    embedders = [Embedder.load(m, config.threads) for m in manifests.values()]
    neutral = {e.name: Calibration(0.0, 1.0) for e in embedders}
    fusion = Fusion({e.name: e.manifest.metric for e in embedders}, neutral, 1.0)
    limits = QualityLimits(0, 0, 0, max_roll_deg=90, max_yaw_deg=90, max_pitch_deg=90)
    detector, fallback = load_detectors(folder, config.photo_detector, config.threads)
    engine = FaceEngine(detector, embedders, limits, fusion, fallback=fallback, landmarks=load_landmarks(folder))
    cache = EmbeddingCache(engine)
    pairs = all_pairs(labelled_images(faces))
    rows: list[tuple[int, dict[str, float]]] = []
    for a, b, same in pairs:
        ea, eb = cache.get(a), cache.get(b)
        if ea is not None and eb is not None:
            rows.append((same, pair_distances(fusion, ea, eb)))
    labels = np.array([s for s, _ in rows])
    per_model = {m: np.array([d[m] for _, d in rows]) for m in neutral}
    stats = {
        m: {
            "genuine_mean": float(v[labels == 1].mean()),
            "impostor_mean": float(v[labels == 0].mean()),
            "genuine_std": float(v[labels == 1].std()),
            "impostor_std": float(v[labels == 0].std()),
        }
        for m, v in per_model.items()
    }
    combos: dict[str, dict[str, float]] = {}
    names = sorted(neutral)
    for size in range(1, len(names) + 1):
        for combo in itertools.combinations(names, size):
            if len({c.split("-")[0] for c in combo}) < len(combo):
                continue  # two variants of one model
            fused = np.mean(
                [
                    (per_model[m] - stats[m]["genuine_mean"]) / (stats[m]["impostor_mean"] - stats[m]["genuine_mean"])
                    for m in combo
                ],
                axis=0,
            )
            threshold = threshold_at_far(fused[labels == 0], target_far)
            r = rates(fused[labels == 1], fused[labels == 0], threshold)
            combos["+".join(combo)] = {
                "threshold": round(threshold, 4),
                "accuracy": r.accuracy,
                "far": r.far,
                "frr": r.frr,
            }
    return CalibrationReport(int(labels.sum()), int((labels == 0).sum()), stats, combos, sorted(cache.errors))

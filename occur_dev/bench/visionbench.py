"""``occur bench vision`` and ``occur bench match``: per-stage latency of the vision pipeline
and 1:N search time. Figures only; the tests never assert timings."""

from __future__ import annotations

import resource
import time
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from firmware.config import VisionConfig
from firmware.imaging.image import read_image_limited
from firmware.vision.engine import FaceEngine
from firmware.vision.gallery import Fusion, Gallery
from occur_dev.evaluate import IMAGE_SUFFIXES


@dataclass
class VisionReport:
    """Milliseconds per stage (lists of samples), counts and memory."""

    images: int = 0
    faces: int = 0
    load_ms: float = 0.0
    stages: dict[str, list[float]] = field(default_factory=dict)
    wall_s: float = 0.0
    load_rss_mib: float = 0.0
    peak_rss_mib: float = 0.0

    def add(self, stage: str, ms: float) -> None:
        """Record one sample."""
        self.stages.setdefault(stage, []).append(ms)


def percentiles(samples: list[float]) -> tuple[float, float]:
    """Median and 95th percentile."""
    return float(np.median(samples)), float(np.percentile(samples, 95))


def _synthetic_gallery(fusion: Fusion, users: int, dim: int, rng: np.random.Generator) -> Gallery:
    rows = {}
    ids = np.arange(1, users + 1, dtype=np.int64)
    for model, metric in fusion.metrics.items():
        matrix = rng.standard_normal((users, dim)).astype(np.float32)
        if metric == "cosine":
            matrix /= np.linalg.norm(matrix, axis=1, keepdims=True)
        else:
            matrix *= 0.1
        rows[model] = (ids, matrix)
    return Gallery(rows, version=1)


def run_vision(config: VisionConfig, folder: Path, threads: int, limit: int, gallery_users: int = 1000) -> VisionReport:
    """Time every stage on up to ``limit`` images under ``folder`` (recursively)."""
    report = VisionReport()
    started = time.perf_counter()
    engine = FaceEngine.load(replace(config.for_photos(), threads=threads))
    report.load_ms = (time.perf_counter() - started) * 1000
    report.load_rss_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    gallery = _synthetic_gallery(engine.fusion, gallery_users, 128, np.random.default_rng(0))
    files = sorted(p for p in folder.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES)[:limit]
    wall = time.perf_counter()
    for path in files:
        t0 = time.perf_counter()
        image, _ = read_image_limited(path)
        report.add("decode", (time.perf_counter() - t0) * 1000)
        faces = engine.faces(image)
        report.images += 1
        if faces:
            report.add("detect", faces[0].timings["detect"])
        for face in faces:
            report.faces += 1
            for stage, ms in face.timings.items():
                if stage != "detect":
                    report.add(stage, ms)
            t1 = time.perf_counter()
            gallery.search(face.embeddings, engine.fusion)
            report.add(f"match_{gallery_users}", (time.perf_counter() - t1) * 1000)
        report.add("whole_image", (time.perf_counter() - t0) * 1000)
    report.wall_s = time.perf_counter() - wall
    report.peak_rss_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return report


def run_match(config: VisionConfig, users: int, probes: int = 200) -> dict[str, float]:
    """Median / p95 ms of one fused 1:N search at ``users`` enrolled users (one sample each)."""
    engine = FaceEngine.load(config)
    rng = np.random.default_rng(1)
    t0 = time.perf_counter()
    gallery = _synthetic_gallery(engine.fusion, users, 128, rng)
    build_ms = (time.perf_counter() - t0) * 1000
    samples = []
    for _ in range(probes):
        probe = {m: rng.standard_normal(128).astype(np.float32) for m in engine.fusion.metrics}
        probe = {
            m: v / np.linalg.norm(v) if engine.fusion.metrics[m] == "cosine" else v * 0.1 for m, v in probe.items()
        }
        t = time.perf_counter()
        gallery.search(probe, engine.fusion)
        samples.append((time.perf_counter() - t) * 1000)
    median, p95 = percentiles(samples)
    return {
        "users": users,
        "models": len(engine.fusion.metrics),
        "median_ms": median,
        "p95_ms": p95,
        "build_ms": build_ms,
        "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }

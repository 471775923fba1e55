"""``occur bench pad``: attack presentation classification error rates on synthetic attacks.

Sequences of each species (:mod:`occur_dev.bench.padattacks`) are made from the dev and
calibration photos, run through the door's own detector, landmark model and liveness cues
frame by frame, and judged under each policy as the door would, the person taken as
recognised at the third frame (every attack is assumed to match its victim: the worst case
for presentation-attack detection). A sequence whose face is found in fewer than three
frames is "not acquired": it is counted, left out of the rates (which only makes them higher)
and replaced by a new one, so that each species has the asked number of attacks judged.

APCER per species and policy comes with its one-sided 95 % Clopper-Pearson upper bound.
Everything is labelled synthetic and not ISO/IEC 30107-3 conformant. No bona fide rejection
rate is computed: synthetic renders of a head are not bona fide presentations; BPCER needs
real captures (``occur pad record`` / ``occur pad report``). The renders only time how soon a
moving face proves live.
"""

from __future__ import annotations

import random
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from firmware.config.liveness import LivenessConfig
from firmware.domain import Image
from firmware.errors import ImageError
from firmware.imaging.image import read_image_limited, resize
from firmware.padcapture.stats import clopper_pearson_upper
from firmware.policy.liveness import decide_recorded, limits_for
from firmware.vision.engine import FaceEngine
from firmware.vision.liveness.geometry import iod
from firmware.vision.liveness.pad_model import PadModel
from firmware.vision.liveness.track import Sample, sample_frame
from firmware.vision.liveness.verdict import Thresholds
from occur_dev.bench.padattacks import SPECIES, Source, live_render, sequence
from occur_dev.bench.padscene import Camera, Head

LABEL = "synthetic attacks, not ISO/IEC 30107-3 conformant"
POLICIES = ("deny_attacks", "deny_attacks_2s", "require_live", "challenge")
"""``deny_attacks_2s``: deny_attacks watching each visit 2 s instead of [liveness] observe_s."""
TARGETS = {
    ("print", "require_live"): 0.01,
    ("screen", "require_live"): 0.01,
    ("print", "deny_attacks"): 0.05,
    ("screen", "deny_attacks"): 0.05,
}
MIN_SEQUENCES = 300
MAX_ATTEMPTS = 2
"""Sequences not acquired are replaced by new ones, up to this many times ``sequences`` made in all."""
MIN_SOURCE_IOD_PX = 40.0
SOURCE_IOD_PX = 130.0


@dataclass
class Cell:
    """Attacks of one species judged under one policy."""

    species: str
    policy: str
    attempts: int = 0
    accepted: int = 0

    @property
    def apcer(self) -> float:
        """Share of attacks the door would have let in."""
        return self.accepted / self.attempts if self.attempts else 0.0

    @property
    def upper(self) -> float:
        """One-sided 95 % Clopper-Pearson upper bound of the APCER."""
        return clopper_pearson_upper(self.accepted, self.attempts) if self.attempts else 1.0

    @property
    def target(self) -> float | None:
        """The issue's target for this cell, if any."""
        return TARGETS.get((self.species, self.policy))


@dataclass
class PadBenchReport:
    """Every cell, how the attacks were caught, and the timing figures."""

    sequences: int
    frames: int
    fps: float
    cells: dict[tuple[str, str], Cell] = field(default_factory=dict)
    not_acquired: Counter[str] = field(default_factory=Counter)
    caught_by: dict[str, Counter[str]] = field(default_factory=dict)
    accepted_by: dict[tuple[str, str], Counter[str]] = field(default_factory=dict)  # verdict: cue of each miss
    live_after_s: dict[str, list[float]] = field(default_factory=dict)
    renders: int = 0
    landmark_ms: list[float] = field(default_factory=list)
    cue_ms: list[float] = field(default_factory=list)
    seconds: float = 0.0
    label: str = LABEL


def candidate_photos(folders: list[Path]) -> list[Path]:
    """Photos under ``folders`` (one level of person folders, or loose files)."""
    found: list[Path] = []
    for folder in folders:
        found += sorted(p for p in folder.rglob("*") if p.suffix.lower() in (".jpg", ".jpeg", ".png"))
    return [p for p in found if p.parent.name != "noface"]


def load_source(engine: FaceEngine, path: Path) -> Source | None:
    """The photo with its largest face's mesh, or None when it has no usable face."""
    try:
        photo, _ = read_image_limited(path, 1280)
    except ImageError:
        return None
    faces = [f for f in engine.faces(photo, embed=False) if f.quality.ok]
    if not faces:
        return None
    mesh = engine.mesh(photo, faces[0])
    if mesh is None or mesh.presence < 0.5:
        return None
    points = mesh.points.astype(np.float64)
    if iod(points) < MIN_SOURCE_IOD_PX:
        return None
    # the attacks show the face at 40-110 px between the eyes: scale the photo once, smoothly,
    # so the frames shrink it rather than blow up its pixel grid (which would pass for moiré)
    factor = SOURCE_IOD_PX / iod(points)
    photo = resize(photo, round(photo.shape[1] * factor), round(photo.shape[0] * factor))
    points *= factor
    return Source(photo, points, Head(photo, points))


def _sources(engine: FaceEngine, photos: list[Path]) -> Iterator[Source]:
    while True:
        usable = 0
        for path in photos:
            source = load_source(engine, path)
            if source is not None:
                usable += 1
                yield source
        if not usable:
            raise ImageError("no photo with a usable face for the attack bench")


def run_frames(
    engine: FaceEngine, frames: Iterator[Image], fps: float, limits: Thresholds, pad: PadModel | None,
    report: PadBenchReport,
) -> list[Sample]:  # fmt: skip
    """Samples of a generated sequence, timed as a camera at ``fps`` would deliver it."""
    samples = []
    for i, frame in enumerate(frames):
        t0 = time.perf_counter()
        sample = sample_frame(engine, frame, i / fps, limits, pad, screen_cues=i % 2 == 0)
        if sample is not None:
            samples.append(sample)
            report.cue_ms.append((time.perf_counter() - t0) * 1000)
    return samples


def run(
    engine: FaceEngine,
    folders: list[Path],
    scenes: list[Image],
    config: LivenessConfig,
    sequences: int,
    frames: int = 56,
    fps: float = 15.0,
    seed: int = 15,
    renders: int = 0,
    pad: PadModel | None = None,
    species: tuple[str, ...] = SPECIES,
    progress: Callable[[str], None] | None = None,
) -> PadBenchReport:
    """Make and judge ``sequences`` acquired attacks per species (and ``renders`` live renders)."""
    started = time.monotonic()
    rng = np.random.default_rng(seed)
    photos = candidate_photos(folders)
    random.Random(seed).shuffle(photos)  # noqa: S311 - a reproducible bench, not a secret
    sources = _sources(engine, photos)
    limits = limits_for(config, pad.manifest.threshold if pad is not None else 0.5)
    camera = Camera()
    report = PadBenchReport(sequences, frames, fps)
    for name in species:
        report.caught_by[name] = Counter()
        for policy in POLICIES:
            report.cells[(name, policy)] = Cell(name, policy)
        acquired = 0
        for k in range(MAX_ATTEMPTS * sequences):
            if acquired == sequences:
                break
            samples = run_frames(
                engine, sequence(name, next(sources), rng, camera, frames, fps, scenes), fps, limits, pad, report
            )
            if len(samples) < 3:
                report.not_acquired[name] += 1
                continue
            _judge(report, name, samples, config, limits, seed * 1000 + k * 7)
            acquired += 1
            if progress is not None and acquired % 25 == 0:
                progress(f"{name}: {acquired}/{sequences}")
    for k in range(renders):
        samples = run_frames(engine, live_render(next(sources), rng, camera, frames, fps), fps, limits, pad, report)
        if len(samples) < 3:
            continue
        report.renders += 1
        for policy in ("deny_attacks", "require_live"):
            outcome = decide_recorded(samples, policy, config, limits, random.Random(k))  # noqa: S311
            if outcome.judgement.allowed and outcome.verdict.state == "live":
                report.live_after_s.setdefault(policy, []).append(outcome.after_s)
    report.landmark_ms = _landmark_ms(engine)
    report.seconds = time.monotonic() - started
    return report


def _judge(
    report: PadBenchReport, name: str, samples: list[Sample], config: LivenessConfig, limits: Thresholds, seed: int
) -> None:
    """One attack sequence under every policy, as the door would judge it."""
    for j, policy in enumerate(POLICIES):
        chance = random.Random(seed + j)  # noqa: S311 - a reproducible bench, not a secret
        if policy == "deny_attacks_2s":
            outcome = decide_recorded(samples, "deny_attacks", replace(config, observe_s=2.0), limits, chance)
        else:
            outcome = decide_recorded(samples, policy, config, limits, chance)
        cell = report.cells[(name, policy)]
        cell.attempts += 1
        cell.accepted += int(outcome.judgement.allowed)
        if outcome.judgement.allowed:
            report.accepted_by.setdefault((name, policy), Counter())[
                f"{outcome.verdict.state}: {outcome.verdict.cue}"
            ] += 1
        if policy == "deny_attacks" and not outcome.judgement.allowed:
            report.caught_by[name][outcome.verdict.cue if outcome.verdict.state == "attack" else "not_checked"] += 1


def _landmark_ms(engine: FaceEngine) -> list[float]:
    model = engine.landmarks.model if engine.landmarks is not None else None
    if model is None or not model.runs:
        return []
    return [model.busy_s / model.runs * 1000]

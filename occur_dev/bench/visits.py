"""``occur bench visits``: decisions per visit, through the whole door loop.

Enrols ``enrolled`` people of a folder-per-identity tree (their first photo each) and replays one
visit for each of them and for ``strangers`` other people. A visit shows ``photos`` further
photos of one person, each for ``frames`` frames, as a camera would: the face placed at the
same spot of a 512 px frame, the head tilted by up to ``tilt`` degrees (a new angle per photo),
each frame shifted by a few pixels, brightened or darkened and noised. Visits are separated by
empty frames, so each is one track. It runs ``occur run``'s code (mock pins, unpaced replay) and
counts, per visit: named correctly, named as someone else, not named, or no decision at all,
and visits with more than one decision.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from firmware import service
from firmware.config import Config, LoopConfig
from firmware.domain import Decision, Image
from firmware.errors import InvalidInputError
from firmware.imaging.image import encode_jpeg, pad_image, read_image_limited, warp_to_chip
from firmware.platform.fileio import write_private
from firmware.recognition.enrol import enrol
from firmware.store.store import Store
from firmware.vision.engine import FaceEngine
from occur_dev.evaluate import labelled_images

FRAME = 512
FACE_PX = 190.0  # face box width in the frame: a person about 1 m from a door camera


@dataclass
class VisitsReport:
    """Outcomes per visit kind (``enrolled`` / ``stranger``), frames and per-frame times (ms)."""

    outcomes: dict[str, Counter[str]] = field(default_factory=lambda: {"enrolled": Counter(), "stranger": Counter()})
    visits: dict[str, int] = field(default_factory=lambda: {"enrolled": 0, "stranger": 0})
    frames: int = 0
    frame_ms: tuple[float, float] = (0.0, 0.0)
    skipped: list[str] = field(default_factory=list)


def _placed(image: Image, box: tuple[float, float, float, float], angle: float, rng: np.random.Generator) -> Image:
    """The face of ``box`` at the frame's centre, ``FACE_PX`` wide, turned ``angle`` degrees."""
    cx, cy = (box[0] + box[2]) / 2, (box[1] + box[3]) / 2
    scale = (box[2] - box[0]) / FACE_PX
    c, s = math.cos(math.radians(angle)) * scale, math.sin(math.radians(angle)) * scale
    dx, dy = (float(v) for v in rng.integers(-6, 7, 2))
    centre = FRAME / 2
    matrix = np.array([[c, -s, cx - c * (centre + dx) + s * (centre + dy)],
                       [s, c, cy - s * (centre + dx) - c * (centre + dy)]])  # fmt: skip
    frame = warp_to_chip(image, matrix, FRAME).astype(np.int16)
    frame += int(rng.integers(-12, 13)) + rng.normal(0, 2.0, frame.shape).astype(np.int16)
    return np.clip(frame, 0, 255).astype(np.uint8)


def _load(path: str, pad: float) -> Image:
    image = read_image_limited(Path(path))[0]
    return pad_image(image, pad) if pad > 0 else image


def _enrol_all(config: Config, engine: FaceEngine, people: dict[str, list[str]], members: list[str], pad: float,
               report: VisitsReport) -> list[str]:  # fmt: skip
    """Enrol each member's first photo; returns those enrolled (a refused photo leaves one out)."""
    done = []
    with Store.open(config.paths) as store:
        for name in members:
            try:
                enrol(store, engine, name, [(Path(people[name][0]).name, _load(people[name][0], pad))])
            except InvalidInputError as err:
                report.skipped.append(f"{name}: {err}")
                continue
            done.append(name)
    return done


def _replay(folder: Path, engine: FaceEngine, visits: list[tuple[str, str, list[str]]], frames: int, tilt: float,
            pad: float, gap: int, rng: np.random.Generator) -> list[tuple[str, str, int, int]]:  # fmt: skip
    """Write the visits' frames; returns (kind, name, first frame, last frame) per visit, the
    last being the end of the gap after it (the visit's decision may come when its track ends)."""
    folder.mkdir(parents=True, exist_ok=True)
    spans = []
    blank = np.zeros((FRAME, FRAME, 3), np.uint8)
    n = 0
    for kind, name, paths in visits:
        first = n
        for path in paths:
            image = _load(path, pad)
            face = engine.main_face(engine.faces(image, embed=False))
            if face is None:
                continue
            angle = float(rng.uniform(-tilt, tilt))
            for _ in range(frames):
                write_private(folder / f"{n:06d}.jpg", encode_jpeg(_placed(image, face.detection.box, angle, rng), 92))
                n += 1
        for _ in range(gap):
            write_private(folder / f"{n:06d}.jpg", encode_jpeg(blank, 92))
            n += 1
        spans.append((kind, name, first, n - 1))
    return spans


def _outcome(kind: str, name: str, decided: list[Decision]) -> str:
    if not decided:
        return "no decision"
    if decided[0].name is None:
        return "not named"
    return "named correctly" if kind == "enrolled" and decided[0].name == name else "named as someone else"


def run(faces: Path, config: Config, data_dir: Path, enrolled: int = 40, strangers: int = 40, photos: int = 4,
        frames: int = 3, tilt: float = 20.0, pad: float = 0.5, seed: int = 13) -> VisitsReport:  # fmt: skip
    """Enrol, build the replay under ``data_dir``, run the door loop over it, count outcomes."""
    rng = np.random.default_rng(seed)
    config = replace(
        config,
        data_dir=data_dir,
        camera=replace(config.camera, fps=0.0),
        loop=replace(config.loop or LoopConfig(), cooldown_s=0.0),
    )
    engine = FaceEngine.load(config.vision.for_photos())
    people = {n: f for n, f in labelled_images(faces).items() if len(f) > photos}
    names = [sorted(people)[i] for i in rng.permutation(len(people))]
    report = VisitsReport()
    members = _enrol_all(config, engine, people, names[:enrolled], pad, report)
    visits = [("enrolled", m, people[m][1 : 1 + photos]) for m in members]
    visits += [("stranger", s, people[s][1 : 1 + photos]) for s in names[enrolled : enrolled + strangers]]
    spans = _replay(data_dir / "replay", engine, visits, frames, tilt, pad, config.loop.max_gap_frames + 2, rng)
    result = service.run(config, f"replay:{data_dir / 'replay'}", gpio="mock", until_end=True)
    report.frames = result.frames
    times = result.stage_ms.get("frame", [])
    if times:
        report.frame_ms = (float(np.median(times)), float(np.percentile(times, 95)))
    for kind, name, first, last in spans:
        report.visits[kind] += 1
        decided = [d for d in result.decisions if first <= d.frame <= last]
        if len(decided) > 1:
            report.outcomes[kind]["several decisions"] += 1
        report.outcomes[kind][_outcome(kind, name, decided)] += 1
    return report

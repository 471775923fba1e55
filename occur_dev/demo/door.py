"""The door half of ``occur demo``: the whole appliance loop with no camera and no GPIO.

It enrols one person from a photo that set-up installed (``models/build/demo``, from the
scikit-image wheel: the NASA portrait of astronaut Eileen Collins), builds a replay of visits
(her, scenes without a face, a stranger, her again, the stranger again), each visit ten frames
that differ slightly (shift, brightness, sensor noise) as a camera's would, and runs it through
``occur run``'s code with gpiozero's MockFactory pins. It returns the decisions, the relay and
LED pin history and what was recorded. With one person enrolled, the demo door sets
``[vision] min_people = 1`` (the default of 2 would name nobody: there is no second-best user for
the margin rule).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from firmware import service
from firmware.config import Config, DoorConfig, LoopConfig
from firmware.domain import Decision, Image
from firmware.imaging.image import encode_jpeg, read_image
from firmware.platform.fileio import write_private
from firmware.platform.install import built_models_dir
from firmware.recognition.enrol import enrol
from firmware.store.store import Store
from firmware.vision.engine import FaceEngine

PERSON = ("astronaut.png", "Eileen Collins")
STRANGER = "camera.png"
STRANGER_YAW_DEG = 42.0
"""The cameraman looks into his viewfinder, his head turned 39 degrees: past the door's default
35-degree gate, so the demo admits a little more turn to show a stranger's decision."""
SCENES = ("coffee.png", "rocket.jpg", "chelsea.png")


@dataclass
class DoorDemoReport:
    """Decisions, pin histories (pin -> [(seconds, state)]) and table row counts."""

    decisions: list[Decision] = field(default_factory=list)
    expected: list[tuple[str | None, bool]] = field(default_factory=list)
    pins: dict[str, list[tuple[float, bool]]] = field(default_factory=dict)
    rows: dict[str, int] = field(default_factory=dict)
    frames: int = 0
    seconds: float = 0.0
    first_decision_s: float | None = None

    @property
    def ok(self) -> bool:
        """Every visit decided as expected and the relay ended locked."""
        got = [(d.name, d.granted) for d in self.decisions]
        relay = self.pins.get("relay", [])
        return got == self.expected and bool(relay) and relay[-1][1] is False


def _frames(image: Image, count: int, rng: np.random.Generator) -> list[Image]:
    out = []
    for _ in range(count):
        dx, dy = (int(v) for v in rng.integers(-6, 7, 2))
        shifted = np.roll(np.roll(image, dy, axis=0), dx, axis=1).astype(np.int16)
        shifted += int(rng.integers(-12, 13)) + rng.normal(0, 2.0, image.shape).astype(np.int16)
        out.append(np.clip(shifted, 0, 255).astype(np.uint8))
    return out


def build_replay(folder: Path, images: Path, visits: list[str], rng: np.random.Generator) -> int:
    """Write the replay frames (JPEG) to ``folder``; returns how many."""
    n = 0
    for i, name in enumerate(visits):
        frames = _frames(read_image(images / name), 10, rng)
        frames += _frames(read_image(images / SCENES[i % len(SCENES)]), 10, rng)
        for frame in frames:
            write_private(folder / f"frame_{n:04d}.jpg", encode_jpeg(frame, 92))
            n += 1
    return n


def run(data_dir: Path, images: Path | None = None) -> DoorDemoReport:
    """Enrol, replay, and report. ``data_dir`` must be the demo's scratch data folder."""
    images = images or built_models_dir() / "demo"
    base = Config(data_dir=data_dir)
    config = replace(
        base,
        door=DoorConfig(pulse_s=0.5, allowed_roles=("staff",)),
        # a door for one person (no second-best, knowingly), and a stranger turned 39 degrees
        vision=replace(base.vision, min_people=1, max_yaw_deg=STRANGER_YAW_DEG),
        loop=LoopConfig(cooldown_s=0.0),
        camera=replace(base.camera, fps=30.0),
    )
    engine = FaceEngine.load(config.vision.for_photos())
    with Store.open(config.paths) as store:
        enrol(store, engine, PERSON[1], [images / PERSON[0]], role="staff")
    visits = [PERSON[0], STRANGER, PERSON[0], STRANGER]
    report = DoorDemoReport(expected=[(PERSON[1], True), (None, False), (PERSON[1], True), (None, False)])
    folder = data_dir / "demo_frames"
    report.frames = build_replay(folder, images, visits, np.random.default_rng(7))
    result = service.run(config, f"replay:{folder}", gpio="mock", until_end=True)
    report.decisions, report.seconds, report.first_decision_s = (
        result.decisions,
        result.elapsed_s,
        result.first_decision_s,
    )
    factory: Any = result.pin_factory
    assert factory is not None
    for label, pin in (
        ("relay", config.door.relay_pin),
        ("green", config.door.green_led_pin),
        ("red", config.door.red_led_pin),
    ):
        elapsed, history = 0.0, []
        for s in factory.pin(pin).states:  # MockPin timestamps: seconds since the previous change
            elapsed += s.timestamp
            history.append((round(elapsed, 2), bool(s.state)))
        report.pins[label] = history
    with Store.open(config.paths) as store, store.reader() as conn:
        for table in ("face_events", "attendance_logs", "unknown_faces", "door_events"):
            row: Any = conn.execute(f"SELECT count(*) FROM {table}").fetchone()  # noqa: S608
            report.rows[table] = int(row[0])
    return report

"""The vision half of ``occur demo``: enrol people from labelled photos, then identify photos
the enrolment did not see, and a stranger, on the same data folder as the storage demo.

For each of the first identities (alphabetically) with at least four photos, all but the last
photo are enrolled and the last is identified; the last identity is never enrolled and must
come out ``unknown``. The demo passes when nobody is named wrongly, the stranger is not named,
and most enrolled people are named; a held-out photo whose face fails a quality gate (say, turned
away) is refused, as the door would refuse it, and does not count against the demo.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from firmware.config import Paths, VisionConfig
from firmware.imaging.image import read_image_limited
from firmware.recognition.enrol import enrol
from firmware.recognition.recogniser import Recogniser
from firmware.store.store import Store
from firmware.vision.engine import FaceEngine
from occur_dev.evaluate import labelled_images


@dataclass
class Probe:
    """One identification in the demo."""

    photo: str
    expected: str | None
    decision: str
    name: str | None
    score: float | None


@dataclass
class VisionDemoReport:
    """What the vision demo did."""

    enrolled: dict[str, int] = field(default_factory=dict)
    rejected: int = 0
    probes: list[Probe] = field(default_factory=list)
    load_ms: float = 0.0

    @property
    def ok(self) -> bool:
        """Nobody named wrongly, the stranger not named, most enrolled people named."""
        named = sum(1 for p in self.probes if p.expected is not None and p.name == p.expected)
        wrong = any(p.name is not None and p.name != p.expected for p in self.probes)
        return bool(self.probes) and not wrong and 2 * named >= len(self.probes) - 1


def run(paths: Paths, faces: Path, people: int = 4) -> VisionDemoReport:
    """Enrol ``people`` identities from ``faces`` and identify held-out photos of them."""
    report = VisionDemoReport()
    engine = FaceEngine.load(VisionConfig().for_photos())
    report.load_ms = engine.load_ms
    chosen = [(who, files) for who, files in labelled_images(faces).items() if len(files) >= 4][: people + 1]
    with Store.open(paths) as store:
        for who, files in chosen[:-1]:
            result = enrol(store, engine, who, [Path(f) for f in files[:-1]], role="demo")
            report.enrolled[who] = len(result.accepted)
            report.rejected += len(result.rejected)
        recogniser = Recogniser(store, engine)
        for index, (who, files) in enumerate(chosen):
            image, _ = read_image_limited(Path(files[-1]))
            found = recogniser.identify(image)
            expected = who if index < len(chosen) - 1 else None
            if not found:
                report.probes.append(Probe(files[-1], expected, "no face", None, None))
                continue
            best = found[0]
            report.probes.append(Probe(files[-1], expected, best.match.decision, best.name, best.match.score))
    return report

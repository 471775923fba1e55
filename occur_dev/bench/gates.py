"""``occur bench gates``: how many photos the quality gates refuse, and why.

For every photo of a folder-per-identity tree it takes the face enrolment would take (the main
face; see :meth:`FaceEngine.main_face`) and counts each gate that refuses it. A frontal photo
set should be refused rarely (the target is at most 2 % of the calibration set); ``rotate``
turns every photo by that many degrees first, to show that a tilted head is not read as a
turned one. ``pad`` adds a black margin to tight crops.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from firmware.config import VisionConfig
from firmware.errors import ImageError
from firmware.imaging.image import pad_image, read_image_limited, rotate_image
from firmware.vision.engine import FaceEngine
from occur_dev.evaluate import labelled_images


@dataclass
class GatesReport:
    """Photos looked at, photos refused (or without a face), and refusals per reason code."""

    photos: int = 0
    refused: int = 0
    no_face: int = 0
    reasons: Counter[str] = field(default_factory=Counter)
    examples: dict[str, str] = field(default_factory=dict)

    @property
    def refused_share(self) -> float:
        """Refused or faceless photos over all photos."""
        return (self.refused + self.no_face) / self.photos if self.photos else 0.0


def run(faces: Path, config: VisionConfig, pad: float = 0.0, rotate: float = 0.0) -> GatesReport:
    """Assess every photo's main face with the configured gates."""
    engine = FaceEngine.load(config.for_photos(), fused=False)
    report = GatesReport()
    for files in labelled_images(faces).values():
        for path in files:
            report.photos += 1
            try:
                image = read_image_limited(Path(path))[0]
            except ImageError:
                report.no_face += 1
                continue
            if pad > 0:
                image = pad_image(image, pad)
            if rotate:
                image = rotate_image(image, rotate)
            found = engine.faces(image, embed=False)
            face = engine.main_face(found) or (found[0] if found else None)
            if face is None:
                report.no_face += 1
                continue
            if not face.quality.ok:
                report.refused += 1
                for code, problem in zip(face.quality.codes, face.quality.problems, strict=True):
                    report.reasons[code] += 1
                    report.examples.setdefault(code, f"{Path(path).name}: {problem}")
    return report

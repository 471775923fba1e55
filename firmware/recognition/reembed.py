"""Re-embed stored enrolment chips with the installed models.

Encodings are tied to the exact model file that made them (its sha256). When a model is added
or replaced (a new manifest, an update), the door must not compare new faces with old vectors:
the gallery ignores encodings from another file, and this module rebuilds them from the 224 px
chips kept under ``face_db/`` with the keypoints stored beside them, so nobody has to enrol
again. Each sample is written in its own transaction; a chip that cannot be read is reported
and skipped, leaving that sample's old encoding in place.
"""

from __future__ import annotations

import functools
import logging
from dataclasses import dataclass, field

from firmware.domain import Detection
from firmware.errors import ImageError
from firmware.imaging.image import decode_image
from firmware.platform.fileio import contained
from firmware.store import encodings
from firmware.store.store import Store
from firmware.vision.embed import Embedder
from firmware.vision.engine import FaceEngine
from firmware.vision.landmarks import LandmarkModel

log = logging.getLogger(__name__)


@dataclass
class ReembedReport:
    """Counts per model, and the samples that could not be re-embedded with why."""

    embedded: dict[str, int] = field(default_factory=dict)
    failed: dict[int, str] = field(default_factory=dict)


def _detection(keypoints: list[list[float]]) -> Detection:
    xs, ys = [p[0] for p in keypoints], [p[1] for p in keypoints]
    return Detection((min(xs), min(ys), max(xs), max(ys)), tuple((float(x), float(y)) for x, y in keypoints), 1.0)


def reembed(store: Store, engine: FaceEngine) -> ReembedReport:
    """Give every sample with a chip an encoding from each loaded model's current file."""
    return reembed_with(store, engine.embedders, engine.mirror, landmarks=engine.landmarks)


def reembed_with(
    store: Store,
    embedders: list[Embedder],
    mirror: bool,
    keep_other_files: bool = False,
    landmarks: LandmarkModel | None = None,
) -> ReembedReport:
    """:func:`reembed` for chosen models; ``keep_other_files`` leaves the encodings of other
    files of the same model in place (an update re-embeds before it switches; see
    :func:`firmware.store.encodings.replace_encoding`). Safe to interrupt and run again: it
    only does the samples still missing an encoding by each file. Models aligned from the face
    mesh need ``landmarks``: the mesh is measured again on the stored chip."""
    report = ReembedReport()
    for embedder in embedders:
        sha = embedder.manifest.encoding_key
        with store.reader() as conn:
            todo = encodings.samples_missing(conn, embedder.name, sha)
        done = 0
        for sample in todo:
            if sample.chip_path is None or len(sample.keypoints) != 6:
                report.failed[sample.id] = "no chip or keypoints stored"
                continue
            try:
                chip_file = contained(store.paths.root, "face_db", sample.chip_path)  # checked again where used
                with store.reader() as conn:
                    jpeg = store.sealer.open_user_blob(conn, sample.user_id, "chip", chip_file.read_bytes())
                if jpeg is None:
                    raise ValueError("the chip no longer opens (its key is gone)")
                chip = decode_image(jpeg, sample.chip_path)
                face = _detection(sample.keypoints)
                if embedder.needs_mesh and landmarks is None:
                    raise ValueError(f"{embedder.name} aligns from the face mesh and no landmark model is loaded")
                mesh = landmarks.mesh(chip, face).points if embedder.needs_mesh and landmarks is not None else None
                vector = embedder.embed(embedder.chip(chip, face, mesh), mirror)
            except (ImageError, ValueError, OSError) as err:
                report.failed[sample.id] = str(err)
                continue
            store.write(
                functools.partial(
                    encodings.replace_encoding,
                    sample=sample,
                    model=embedder.name,
                    model_sha256=sha,
                    vector=vector,
                    sealer=store.sealer,
                    keep_other_files=keep_other_files,
                )
            )
            done += 1
        report.embedded[embedder.name] = done
        log.info("reembed: %d samples embedded with %s", done, embedder.name)
    return report

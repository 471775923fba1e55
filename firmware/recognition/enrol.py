"""Enrolment: accepted faces become samples, chips under ``face_db/`` and per-model encodings.

An image is accepted only when it holds exactly one face of usable size that passes every
quality gate, and does not match another enrolled user better than this person's other samples
(:mod:`firmware.recognition.lookalike`); otherwise it is rejected with the reasons and nothing
from it is stored. A person close to someone already enrolled is enrolled with a warning. All
accepted samples of one call are stored in one transaction with the user (created if the name is
new): if anything fails, no row is kept and the chip files written for it are removed.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from firmware.config import Paths
from firmware.domain import Image
from firmware.errors import ImageError, InvalidInputError, NotFoundError
from firmware.imaging.image import encode_jpeg, read_image_limited
from firmware.platform.fileio import write_private
from firmware.recognition.lookalike import screen
from firmware.store import encodings, users
from firmware.store.db import Connection
from firmware.store.sealing import Sealer
from firmware.store.store import Store
from firmware.vision.align import ENROL_224, chip_transform
from firmware.vision.engine import Face, FaceEngine


@dataclass
class EnrolReport:
    """What happened to each image of one enrolment."""

    user_id: int | None = None
    name: str = ""
    created: bool = False
    accepted: list[str] = field(default_factory=list)
    sample_ids: list[int] = field(default_factory=list)
    rejected: dict[str, list[str]] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)


class NothingEnrolledError(InvalidInputError):
    """No photo of an enrolment was usable; nothing was stored. ``report`` holds each photo's
    reasons (missing file, not an image, no face, a failed quality gate) so a caller can show
    every one; ``summary`` is the one-line verdict."""

    def __init__(self, report: EnrolReport) -> None:
        self.report = report
        self.summary = f"no usable face in any image; nothing enrolled for {report.name}"
        details = "; ".join(f"{Path(p).name}: {', '.join(r)}" for p, r in report.rejected.items())
        super().__init__(f"{self.summary} ({details})")

    @property
    def rejected(self) -> dict[str, list[str]]:
        """Each photo and why it was refused."""
        return self.report.rejected


@dataclass
class _Accepted:
    source: str
    face: Face
    chip: Image
    keypoints: list[list[float]]


def usable_face(engine: FaceEngine, image: Image) -> tuple[Face | None, list[str]]:
    """The one usable face in ``image``, or None with the reasons. The gates are the door's
    (:meth:`FaceEngine.faces` runs both quality stages); detections the landmark model does not
    confirm as faces are not counted as people."""
    found = engine.faces(image)
    if not found:
        return None, ["no face found"]
    faces = [f for f in found if "not_a_face" not in f.quality.codes]
    if not faces:
        return None, list(found[0].quality.problems)
    big = [f for f in faces if f.quality.face_px >= engine.limits.min_face_px]
    if len(big) > 1:
        return None, [f"{len(big)} faces found; an enrolment photo must show one person"]
    face = big[0] if big else faces[0]
    if not face.quality.ok:
        return None, list(face.quality.problems)
    return face, []


def _chip_keypoints(face: Face) -> list[list[float]]:
    matrix = chip_transform(face.detection, ENROL_224)
    inverse = np.linalg.inv(np.vstack([matrix, [0.0, 0.0, 1.0]]))[:2]
    points = np.asarray(face.detection.keypoints, dtype=np.float64) @ inverse[:, :2].T + inverse[:, 2]
    return [[round(float(x), 2), round(float(y), 2)] for x, y in points]


def _sample_path(folder: Path, stamp: str) -> Path:
    path = folder / f"sample_{stamp}.jpg"
    n = 2
    while path.exists():
        path = folder / f"sample_{stamp}_{n}.jpg"
        n += 1
    return path


def _store(
    conn: Connection,
    paths: Paths,
    engine: FaceEngine,
    report: EnrolReport,
    items: list[_Accepted],
    email: str | None,
    role: str | None,
    written: list[Path],
    sealer: Sealer,
    target: bool = False,
) -> None:
    # Store.write may run this job again after freeing disk space: start from a clean slate.
    for path in written:
        with contextlib.suppress(OSError):
            path.unlink()
    written.clear()
    report.sample_ids.clear()
    report.created = False
    try:
        user = users.find_user(conn, report.user_id if target and report.user_id is not None else report.name)
    except NotFoundError:
        if target or users.is_id_ref(report.name):
            raise  # removed meanwhile, or an id: never (re-)create a user
        user = users.find_user(conn, users.add_user(conn, report.name, email, role))
        report.created = True
    report.user_id, report.name = user.id, user.name
    folder = paths.face_db / f"user_{user.id:03d}"
    stamp = datetime.now(UTC).strftime("%Y%m%d_%H%M%S")
    for item in items:
        path = _sample_path(folder, stamp)
        write_private(path, sealer.seal_user_blob(conn, user.id, "chip", encode_jpeg(item.chip)), exclusive=True)
        written.append(path)
        sample = encodings.add_sample(
            conn,
            user.id,
            str(path.relative_to(paths.root)),
            item.keypoints,
            item.source,
            item.face.detection.score,
            item.face.quality.sharpness,
        )
        for embedder in engine.embedders:
            vector = item.face.embeddings[embedder.name]
            encodings.add_encoding(
                conn, user.id, embedder.name, embedder.manifest.encoding_key, vector, sample, sealer=sealer
            )
        report.sample_ids.append(sample)


def enrol(
    store: Store,
    engine: FaceEngine,
    name: str,
    images: Iterable[Path | tuple[str, Image]],
    email: str | None = None,
    role: str | None = None,
    user_id: int | None = None,
) -> EnrolReport:
    """Enrol ``images`` (files, or (name, decoded image) pairs) of one person under ``name`` (a new
    user, or more samples of an existing one, matched case-insensitively, or one addressed by its
    id: ASCII digits, which never create a user); with ``user_id``, only into that existing user.
    ``images`` is read once, in order, and only each photo's chip is kept, so a generator that
    decodes one photo at a time bounds memory to one photo.

    Raises:
        raise NothingEnrolledError(report)
    """
    if users.is_id_ref(name):
        users.validate_fields(email, role)
    else:
        users.validate_user(name, email, role)
    report = EnrolReport(user_id=user_id, name=name.strip())
    items: list[_Accepted] = []
    for item in images:
        path = Path(item[0]) if isinstance(item, tuple) else item
        try:
            image = item[1] if isinstance(item, tuple) else read_image_limited(item)[0]
        except ImageError as err:
            report.rejected[str(path)] = [str(err)]
            continue
        face, reasons = usable_face(engine, image)
        if face is None:
            report.rejected[str(path)] = reasons
            continue
        items.append(_Accepted(path.name, face, engine.enrolment_chip(image, face), _chip_keypoints(face)))
        report.accepted.append(str(path))
    screening = screen(store, engine, report.name, [item.face.embeddings for item in items])
    for index in sorted(screening.refused, reverse=True):
        items.pop(index)
        report.rejected[report.accepted.pop(index)] = [screening.refused[index]]
    report.warnings = screening.warnings
    if not items:
        raise NothingEnrolledError(report)
    written: list[Path] = []
    paths = store.paths
    try:
        sealer = store.sealer
        target = user_id is not None
        store.write(lambda conn: _store(conn, paths, engine, report, items, email, role, written, sealer, target))
    except BaseException:
        for path in written:
            with contextlib.suppress(OSError):
                path.unlink()
        raise
    return report


def delete_chips(paths: Paths, user_id: int) -> int:
    """Delete a removed user's enrolment chips (``face_db/user_NNN``); returns how many files.

    Called after the user's rows are gone, so a crash in between leaves orphan files, never
    rows pointing at missing ones; the next removal of the same id cleans them.
    """
    folder = paths.face_db / f"user_{user_id:03d}"
    if not folder.is_dir():
        return 0
    count = 0
    for path in folder.iterdir():
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
            count += 1
    with contextlib.suppress(OSError):
        folder.rmdir()
    return count

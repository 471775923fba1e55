"""Identify faces against the enrolled users, with a gallery that follows the database.

The gallery is rebuilt from ``face_encodings`` whenever ``gallery_state.version`` changes, which
every enrolment, removal or rename does (SQL triggers). Checking costs one indexed read per
call, so a running door loop sees new users at its next frame without a restart. With each
rebuild the door's operating point is derived again for the new gallery (people and samples per
person; :mod:`firmware.vision.doorpoint`): the threshold that keeps stranger accepts at the
target. When that point is closed (no usable calibration, fewer than two people) nobody is named.
"""

from __future__ import annotations

import logging
import math
import threading
from dataclasses import dataclass, replace

import numpy as np
import numpy.typing as npt

from firmware.domain import Image, Match
from firmware.recognition.original_templates import OriginalTemplates
from firmware.store import encodings
from firmware.store.store import Store
from firmware.store.users import user_names
from firmware.vision.doorpoint import DoorPoint
from firmware.vision.embed import Vector
from firmware.vision.engine import Face, FaceEngine
from firmware.vision.gallery import Gallery

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Identified:
    """A face and what the gallery says about it; ``name`` is the matched user's name."""

    face: Face
    match: Match
    name: str | None


class Recogniser:
    """Matches faces from a :class:`FaceEngine` against the users in a :class:`Store`."""

    def __init__(self, store: Store, engine: FaceEngine) -> None:
        self.store = store
        self.engine = engine
        self._lock = threading.Lock()
        self._gallery = Gallery({}, version=-1)
        self._names: dict[int, str] = {}
        self._original = OriginalTemplates(engine)
        self._samples: dict[int, int] = {}
        self._point = engine.rule.point([])

    def gallery(self) -> Gallery:
        """The current gallery, reloaded if the database changed since the last call."""
        with self.store.reader() as conn:
            version = encodings.gallery_version(conn)
            if version == self._gallery.version:
                return self._gallery
            with self._lock:
                sealer = self.store.sealer
                rows = {
                    e.name: encodings.gallery_rows(conn, e.name, e.manifest.encoding_key, sealer=sealer)
                    for e in self.engine.embedders
                }
                for e in self.engine.embedders:
                    missing = len(encodings.samples_missing(conn, e.name, e.manifest.encoding_key))
                    if missing:
                        log.warning(
                            "gallery: %d samples have no encoding by this %s file; run occur reembed", missing, e.name
                        )
                self._names = user_names(conn)
                self._original.load(conn, sealer, rows)
                self._samples = samples_per_user(rows)
                self._gallery = Gallery(rows, version)
                self._point = self._door_point()
        log.info("gallery: %d users loaded (version %d)", len(self._gallery), version)
        _log_point(self._point)
        return self._gallery

    def _door_point(self) -> DoorPoint:
        """The fused decision's operating point. When some people are known only by the
        original's template, the door has two ways to name a stranger (the fused search, then
        the original templates), so each gets half of the stranger-accept target and both count
        every person: the sum stays within the target."""
        legacy = self._original.only_original()
        rule = self.engine.rule
        everyone = [*self._samples.values(), *legacy.values()]
        if legacy:
            rule = replace(rule, target=rule.target / 2)
            self._original.open_for(rule.target, everyone)
        return rule.point(everyone)

    def names(self) -> dict[int, str]:
        """User names by id, as of the last gallery load."""
        return dict(self._names)

    def point(self) -> DoorPoint:
        """The door's operating point for the current gallery (reloaded if the database changed)."""
        self.gallery()
        return self._point

    def invalidate(self) -> None:
        """Force a reload from the database at the next search."""
        with self._lock:
            self._gallery = Gallery({}, version=-1)

    def match(self, face: Face) -> Identified:
        """Search the gallery for one embedded face; a face failing a quality gate is not
        matched at all (decision ``low_quality``), so a blurred or turned face never opens."""
        return self.match_visit(face, [face.embeddings], [1.0])

    def match_visit(self, face: Face, frames: list[dict[str, Vector]], weights: list[float]) -> Identified:
        """One search for a visit's good frames (see :class:`firmware.loop.visit.Visit`): each
        user's score is the weighted mean of the frames' fused scores, judged at the door's
        operating point for the current gallery. ``face`` is the frame the decision is shown
        with and must have passed every quality gate, else ``low_quality``. While the point is
        closed (no usable calibration, too few people) nobody is named by any path."""
        if not face.quality.ok:
            return Identified(face, Match("low_quality", None, None), None)
        gallery = self.gallery()
        point = self._point
        fusion = self.engine.fusion
        if point.threshold is not None:
            fusion = replace(fusion, threshold=point.threshold)
        found = gallery.search_frames(frames, weights, fusion)
        if point.threshold is None:
            if found.decision != "unknown":
                found = Match("unknown", None, found.score, found.distances, found.margin, found.best_user_id)
        elif found.decision != "match":  # people known only by the original's template
            found = self._original.search(frames, weights) or found
        return Identified(face, found, self._names.get(found.user_id) if found.user_id is not None else None)

    def identify(self, image: Image) -> list[Identified]:
        """Every face in ``image``, largest first, with its match."""
        return [self.match(face) for face in self.engine.faces(image)]

    def verify(self, user_id: int, image: Image) -> tuple[bool, float | None, Face | None]:
        """Is the main face in ``image`` user ``user_id``? Returns (same, fused score, face).

        1:1 against that user's samples only, at the one-to-one threshold for that user's sample
        count (:meth:`~firmware.vision.doorpoint.DoorRule.one_to_one`); no face, or no usable
        calibration, means not the same.
        """
        face = self.engine.main_face(self.engine.faces(image))
        if face is None:
            return False, None, None
        gallery = self.gallery()
        fusion = self.engine.fusion
        index = np.searchsorted(gallery.users, user_id)
        if index >= len(gallery) or gallery.users[index] != user_id:
            return False, None, face
        per_model = {
            m: float(gallery.per_user(m, fusion.metrics[m], face.embeddings[m])[index]) for m in fusion.calibrations
        }
        score = fusion.score(per_model)
        threshold = self.engine.rule.one_to_one(self._samples.get(user_id, 1))
        return threshold is not None and math.isfinite(score) and score < threshold, score, face


def samples_per_user(rows: dict[str, tuple[npt.NDArray[np.int64], npt.NDArray[np.float32]]]) -> dict[int, int]:
    """Samples per user: the most any model holds (more samples, more chances for a stranger)."""
    out: dict[int, int] = {}
    for ids, _ in rows.values():
        users, counts = np.unique(ids, return_counts=True)
        for user, count in zip(users.tolist(), counts.tolist(), strict=True):
            out[int(user)] = max(out.get(int(user), 0), int(count))
    return out


def _log_point(point: DoorPoint) -> None:
    """The operating point in the log. Too few people is the normal state while a site enrols
    (info); any other reason to name nobody is a fault (warning). The door also records either
    reason as a system event when it starts."""
    if point.closed:
        level = logging.INFO if point.too_few_people else logging.WARNING
        log.log(level, "door: names nobody: %s", point.closed)
        return
    log.info(
        "door: %d people, threshold %.4f (%s), stranger visits named about %.2g (target %g)",
        point.people,
        point.threshold,
        point.source,
        point.expected_rate,
        point.target_rate,
    )
    for warning in point.warnings:
        log.warning("door: %s", warning)

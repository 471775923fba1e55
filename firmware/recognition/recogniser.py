"""Identify faces against the enrolled users, with a gallery that follows the database.

The gallery is rebuilt from ``face_encodings`` whenever ``gallery_state.version`` changes, which
every enrolment, removal or rename does (SQL triggers). Checking costs one indexed read per
call, so a running door loop sees new users at its next frame without a restart.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from typing import Any

import numpy as np

from firmware.store import encodings
from firmware.store.store import Store
from firmware.vision.embed import Vector
from firmware.vision.engine import Face, FaceEngine
from firmware.vision.gallery import Gallery, Match
from firmware.vision.image import Image

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
                names: list[Any] = conn.execute("SELECT id, name FROM users").fetchall()
                self._names = {int(i): str(n) for i, n in names}
                self._gallery = Gallery(rows, version)
        log.info("gallery: %d users loaded (version %d)", len(self._gallery), version)
        return self._gallery

    def invalidate(self) -> None:
        """Force a reload from the database at the next search."""
        with self._lock:
            self._gallery = Gallery({}, version=-1)

    def match(self, face: Face) -> Identified:
        """Search the gallery for one embedded face; a face failing a quality gate is not
        matched at all (decision ``low_quality``), so a blurred or turned face never opens."""
        if not face.quality.ok:
            return Identified(face, Match("low_quality", None, None), None)
        gallery = self.gallery()
        found = gallery.search(face.embeddings, self.engine.fusion)
        return Identified(face, found, self._names.get(found.user_id) if found.user_id is not None else None)

    def match_visit(self, face: Face, frames: list[dict[str, Vector]], weights: list[float]) -> Identified:
        """One search for a visit's good frames (see :class:`firmware.loop.visit.Visit`): each
        user's score is the weighted mean of the frames' fused scores. ``face`` is the frame the
        decision is shown with and must have passed every quality gate, else ``low_quality``."""
        if not face.quality.ok:
            return Identified(face, Match("low_quality", None, None), None)
        found = self.gallery().search_frames(frames, weights, self.engine.fusion)
        return Identified(face, found, self._names.get(found.user_id) if found.user_id is not None else None)

    def identify(self, image: Image) -> list[Identified]:
        """Every face in ``image``, largest first, with its match."""
        return [self.match(face) for face in self.engine.faces(image)]

    def verify(self, user_id: int, image: Image) -> tuple[bool, float | None, Face | None]:
        """Is the main face in ``image`` user ``user_id``? Returns (same, fused score, face).

        1:1 against that user's samples only, at the door threshold; no face means not the same.
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
        return score < fusion.threshold, score, face

"""People the door knows only by the original system's template.

A user imported from the original OCCUR-CALL database (or given an encoding through
``firmware.compat.store_face_encoding``) may have no enrolment photo, only the 128-D descriptor
``face_recognition`` made with dlib's ResNet: the network the firmware's dlib model files are
converted from, so its embeddings and these descriptors share one space. The fused door decision
needs every model's distance, which such a user cannot give, so the door consults these
templates only when the fused search found nobody, and only with the dlib model loaded:

- the user's nearest original template must be within the door threshold for the dlib model
  alone, derived like the fused one from ``fusion.json`` for the whole gallery, with half the
  stranger-accept target (the fused search has the other half), and never looser than the
  model's own 0.6, which is ``face_recognition``'s tolerance: the original's decision;
- and nearer, by the door margin, than every other user's dlib samples (enrolled users' too),
  so a face between two people stays ``ambiguous``.

This is one model's decision, weaker than the fused one; enrolling photos of the person gives
them the fused decision (and ``occur users list`` shows who still has only a legacy template).
"""

from __future__ import annotations

import logging
from dataclasses import replace

import numpy as np
import numpy.typing as npt

from firmware.domain import Match
from firmware.store import encodings
from firmware.store.db import Connection
from firmware.store.sealing import Sealer
from firmware.vision.embed import Embedder, Vector
from firmware.vision.engine import FaceEngine
from firmware.vision.farcurve import load_door_calibration
from firmware.vision.gallery import Fusion, Gallery
from firmware.vision.manifest import Calibration

log = logging.getLogger(__name__)


def _dlib(engine: FaceEngine) -> Embedder | None:
    return next((e for e in engine.embedders if e.name.split("-")[0] == "dlib"), None)


class OriginalTemplates:
    """The original templates of users who lack a template of some loaded model."""

    def __init__(self, engine: FaceEngine) -> None:
        self.embedder = _dlib(engine)
        self.margin = engine.fusion.margin
        self.calibration: Calibration | None = None
        self.own = 0.0
        self.threshold: float | None = None
        self.gallery = Gallery({})
        self.everyone = Gallery({})
        self._legacy: dict[int, int] = {}
        if self.embedder is None:
            return
        # the dlib model alone, on the scale of the shipped calibration (fusion.json): the same
        # file the fused door reads, so a missing or foreign file closes this path too
        shas = {self.embedder.name: self.embedder.manifest.sha256}
        found = load_door_calibration(self.embedder.manifest.path.parent, shas)
        if found.problem is not None or self.embedder.name not in found.calibrations:
            log.warning("original templates are not used: %s", found.problem or "no dlib calibration")
            return
        self.calibration = found.calibrations[self.embedder.name]
        self.own = self.calibration.standardise(self.embedder.manifest.threshold)
        self.rule = replace(engine.rule, calibration=found, override=0.0)

    def only_original(self) -> dict[int, int]:
        """Samples per user of the people known only by an original template (as loaded)."""
        return dict(self._legacy)

    def open_for(self, target: float, samples: list[int]) -> None:
        """Derive this path's threshold for the whole gallery (``samples`` per person) at
        ``target`` stranger accepts (the recogniser's share for it); never looser than the
        original's own 0.6. Closed (None) when the curve gives no point."""
        if self.calibration is None:
            self.threshold = None
            return
        point = replace(self.rule, target=target).point(samples)
        self.threshold = None if point.threshold is None else min(point.threshold, self.own)

    def load(self, conn: Connection, sealer: Sealer, rows: dict[str, tuple[npt.NDArray[np.int64], Vector]]) -> None:
        """Rebuild from the database; ``rows`` are the door gallery's rows per loaded model."""
        self.threshold = None
        self._legacy = {}
        if self.embedder is None or self.calibration is None:
            return
        name = self.embedder.name
        ids, matrix = encodings.gallery_rows(conn, "dlib", sealer=sealer, original=True)
        complete = set.intersection(*(set(int(i) for i in r[0]) for r in rows.values())) if rows else set()
        keep = np.array([int(i) not in complete for i in ids], dtype=bool)
        self.gallery = Gallery({name: (ids[keep], matrix[keep])} if keep.any() else {})
        users, counts = np.unique(ids[keep], return_counts=True)
        self._legacy = {int(u): int(c) for u, c in zip(users.tolist(), counts.tolist(), strict=True)}
        if not keep.any():
            self.everyone = Gallery({})
            return
        own_ids, own_matrix = rows.get(name, (np.zeros(0, np.int64), np.zeros((0, 0), np.float32)))
        merged_ids = np.concatenate([own_ids, ids[keep]]) if own_ids.size else ids[keep]
        merged = np.vstack([own_matrix, matrix[keep]]) if own_ids.size else matrix[keep]
        order = np.argsort(merged_ids, kind="stable")
        self.everyone = Gallery({name: (merged_ids[order], merged[order])} if merged_ids.size else {})
        if len(self.gallery):
            log.info("gallery: %d users known only by the original system's template", len(self.gallery))

    def search(self, frames: list[dict[str, Vector]], weights: list[float]) -> Match | None:
        """A match on an original template for a visit's frames (the weighted mean of their
        dlib scores), or None (nobody, not clearly one person, or this path closed: no
        calibration for the dlib model alone, or no operating point)."""
        if self.embedder is None or self.calibration is None or self.threshold is None or not len(self.gallery):
            return None
        name = self.embedder.name
        if any(name not in f for f in frames):
            return None
        fusion = Fusion(
            {self.embedder.name: self.embedder.manifest.metric},
            {self.embedder.name: self.calibration},
            self.threshold,
            self.margin,
        )
        found = self.everyone.search_frames([{name: f[name]} for f in frames], weights, fusion)
        if found.decision != "match" or found.user_id not in set(int(u) for u in self.gallery.users):
            return None
        return found

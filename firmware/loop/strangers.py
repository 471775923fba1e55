"""Memory of strangers: the same unknown face coming back updates its ``unknown_faces`` row
instead of adding one. Embeddings of strangers seen within ``unknown_memory_days`` are held in a
gallery keyed by stranger id and matched with the door's fusion rule at a stricter threshold."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from firmware.platform.clock import unix_iso
from firmware.store import door_records
from firmware.store.store import Store
from firmware.vision.engine import FaceEngine
from firmware.vision.gallery import Fusion, Gallery

Vector = npt.NDArray[np.float32]


class StrangerMemory:
    """Recent strangers' embeddings, one gallery row per stranger and model."""

    def __init__(self, engine: FaceEngine, threshold: float) -> None:
        self.engine = engine
        base = engine.fusion
        self.fusion = Fusion(base.metrics, base.calibrations, threshold, margin=0.0)
        self._rows: dict[str, tuple[list[int], list[Vector]]] = {e.name: ([], []) for e in engine.embedders}
        self._gallery = Gallery({})

    def load(self, store: Store, since_unix: float) -> None:
        """Fill from the database (strangers seen since ``since_unix``)."""
        since = unix_iso(since_unix)
        with store.reader() as conn:
            for e in self.engine.embedders:
                ids, matrix = door_records.unknown_gallery_rows(
                    conn, e.name, e.manifest.encoding_key, since, sealer=store.sealer
                )
                self._rows[e.name] = ([int(i) for i in ids], [m for m in matrix])
        self._rebuild()

    def _rebuild(self) -> None:
        rows = {}
        for model, (ids, vectors) in self._rows.items():
            if ids:
                order = np.argsort(np.array(ids), kind="stable")
                rows[model] = (np.array(ids, dtype=np.int64)[order], np.stack(vectors)[order])
        self._gallery = Gallery(rows)

    def find(self, embeddings: dict[str, Vector]) -> int | None:
        """The id of the stranger this face belongs to, if seen before."""
        found = self._gallery.search(embeddings, self.fusion)
        return found.user_id if found.decision == "match" else None

    def add(self, unknown_id: int, embeddings: dict[str, Vector]) -> None:
        """Remember a new stranger."""
        for model, (ids, vectors) in self._rows.items():
            if model in embeddings:
                ids.append(unknown_id)
                vectors.append(embeddings[model])
        self._rebuild()

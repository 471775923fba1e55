"""Face embeddings: cut a model's chip, run its TFLite model, return a float32 vector.

Everything model-specific (chip template and geometry, colour order, normalisation, metric)
comes from the model's manifest, so this module has no per-model code.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from firmware.domain import Detection, Image
from firmware.errors import ModelError
from firmware.vision import runtime
from firmware.vision.align import ChipTemplate, align
from firmware.vision.manifest import Manifest

Vector = npt.NDArray[np.float32]


def distances(
    metric: str, gallery: npt.NDArray[np.float32], probe: Vector, norms: npt.NDArray[np.float32] | None = None
) -> npt.NDArray[np.float32]:
    """Distance from ``probe`` to each row of ``gallery`` (smaller = more alike).

    Cosine vectors are unit length (see :meth:`Embedder.embed`), so cosine distance is
    ``1 - dot``; Euclidean uses ``|g|^2 - 2 g.p + |p|^2`` so that 1:N is one matrix product
    (``norms``, the rows' ``|g|^2``, can be precomputed by the caller).
    """
    dots = gallery @ probe
    if metric == "cosine":
        return np.asarray(1.0 - dots, dtype=np.float32)
    if norms is None:
        norms = np.einsum("ij,ij->i", gallery, gallery)
    squared = norms - 2.0 * dots + float(probe @ probe)
    return np.asarray(np.sqrt(np.maximum(squared, 0.0)), dtype=np.float32)


class Embedder:
    """One loaded embedding model. Use :meth:`load`."""

    def __init__(self, manifest: Manifest, model: runtime.TfliteModel) -> None:
        n = manifest.input_size
        if not model.inputs or model.inputs[0].shape != (1, n, n, 3):
            raise ModelError(f"{manifest.path.name}: input {model.inputs} is not (1, {n}, {n}, 3)")
        if not model.outputs or model.outputs[0].shape[-1] != manifest.output_dim:
            raise ModelError(f"{manifest.path.name}: output {model.outputs} is not {manifest.output_dim}-D")
        self.manifest = manifest
        self.template = ChipTemplate(manifest.name, n, manifest.keypoints, manifest.points, manifest.chip)
        self.mesh_template = (
            ChipTemplate(f"{manifest.name}_mesh", n, tuple(range(len(manifest.mesh_groups))), manifest.mesh_points,
                         manifest.chip)
            if manifest.mesh_groups
            else None
        )  # fmt: skip
        self._model = model

    @classmethod
    def load(cls, manifest: Manifest, threads: int = 1) -> Embedder:
        """Check the file's sha256 against the manifest, then load it.

        Raises:
            ModelError: missing, altered or unusable model file.
        """
        manifest.verify_file()
        return cls(manifest, runtime.load(manifest.path, threads))

    @property
    def name(self) -> str:
        """The model's name from its manifest."""
        return self.manifest.name

    @property
    def needs_mesh(self) -> bool:
        """True when the model's chips are aligned from the face mesh's points."""
        return self.mesh_template is not None

    def chip(self, image: Image, face: Detection, mesh: npt.NDArray[np.float32] | None = None) -> Image:
        """The aligned BGR chip this model expects for ``face``: from the face mesh's points
        (``mesh``, ``(468, 3)``) when the manifest has a mesh template, else from the detector's
        keypoints.

        Raises:
            ValueError: a mesh-aligned model given no mesh (its encodings would not compare with
                the stored ones), or degenerate points.
        """
        if self.mesh_template is None:
            return align(image, face, self.template)
        if mesh is None:
            raise ValueError(f"model {self.name} aligns from the face mesh, and none was given")
        xy = mesh[:, :2].astype(np.float64)
        points = tuple(
            (float(p[0]), float(p[1])) for p in (xy[list(g)].mean(axis=0) for g in self.manifest.mesh_groups)
        )
        return align(image, Detection(face.box, points, face.score), self.mesh_template)

    def embed(self, chip: Image, mirror: bool = False) -> Vector:
        """The embedding of an aligned chip; unit length for cosine models.

        Args:
            mirror: also embed the horizontally flipped chip and average (slower, a little
                more accurate).
        """
        vector = self._run(chip)
        if mirror:
            vector = np.asarray((vector + self._run(np.ascontiguousarray(chip[:, ::-1]))) / 2, dtype=np.float32)
        if self.manifest.metric == "cosine":
            norm = float(np.linalg.norm(vector))
            vector = np.asarray(vector / norm if norm > 0 else vector, dtype=np.float32)
        return np.asarray(vector, dtype=np.float32)

    def _run(self, chip: Image) -> Vector:
        pixels = chip[:, :, ::-1] if self.manifest.colour == "RGB" else chip
        tensor = pixels.astype(np.float32) * self.manifest.scale + self.manifest.offset
        return np.asarray(self._model.run(tensor[None])[0].reshape(-1), dtype=np.float32)

    @property
    def model(self) -> runtime.TfliteModel:
        """The underlying TFLite model (for its inference counters)."""
        return self._model

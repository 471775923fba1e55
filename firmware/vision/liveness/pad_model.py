"""An operator-supplied presentation-attack model: a TFLite classifier of face crops.

None is shipped (no permissively licensed one is published in a package registry). An
operator who has one puts ``<file>.tflite`` and ``<file>.tflite.manifest.json`` in the models
folder, or delivers both in a signed update bundle, and names it in ``[liveness] pad_model``.
The manifest (``"kind": "pad"``) says how to feed it::

    {"kind": "pad", "name": "minifas", "file": "minifas.tflite", "sha256": "...",
     "version": "1", "input_size": 80, "crop_scale": 2.7, "colour": "RGB",
     "scale": 0.00392156862745098, "offset": 0.0, "live_index": 1,
     "activation": "softmax", "threshold": 0.5, "licence": "...", "source": "..."}

The crop is a square ``crop_scale`` times the detector box's larger side, centred on the box,
resized to ``input_size``; pixels become ``value * scale + offset`` in ``colour`` order. The
score is output ``live_index`` after ``activation`` (``softmax`` over the output, ``sigmoid``,
or ``none`` when it is already a probability). Its visit mean under ``threshold`` is an attack
cue; the model can only deny, never prove a face live.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from firmware.domain import Detection, Image
from firmware.errors import ModelError
from firmware.imaging.image import warp_to_chip
from firmware.vision import runtime
from firmware.vision.manifest import file_sha256

ACTIVATIONS = ("softmax", "sigmoid", "none")


@dataclass(frozen=True)
class PadManifest:
    """What the manifest of a presentation-attack model declares."""

    name: str
    path: Path
    sha256: str
    version: str
    input_size: int
    crop_scale: float
    colour: str
    scale: float
    offset: float
    live_index: int
    activation: str
    threshold: float


def parse_manifest(raw: Any, folder: Path, where: str) -> PadManifest:
    """Validate a decoded ``kind: pad`` manifest.

    Raises:
        ModelError: naming ``where`` and the bad field.
    """
    if not isinstance(raw, dict) or raw.get("kind") != "pad":
        raise ModelError(f"{where}: not a presentation-attack model manifest (kind must be 'pad')")

    def number(key: str, lo: float, hi: float) -> float:
        value = raw.get(key)
        if isinstance(value, bool) or not isinstance(value, int | float) or not lo <= value <= hi:
            raise ModelError(f"{where}: field {key!r} must be a number in {lo}..{hi}")
        return float(value)

    for key in ("name", "file", "sha256"):
        if not isinstance(raw.get(key), str) or not raw[key]:
            raise ModelError(f"{where}: field {key!r} is missing or not a string")
    if raw.get("colour") not in ("RGB", "BGR") or raw.get("activation") not in ACTIVATIONS:
        raise ModelError(f"{where}: colour must be RGB or BGR, activation one of {ACTIVATIONS}")
    size = number("input_size", 16, 1024)
    index = number("live_index", 0, 1023)
    if size != int(size) or index != int(index):
        raise ModelError(f"{where}: input_size and live_index must be integers")
    return PadManifest(
        name=str(raw["name"]),
        path=folder / str(raw["file"]),
        sha256=str(raw["sha256"]),
        version=str(raw.get("version", "")),
        input_size=int(size),
        crop_scale=number("crop_scale", 0.5, 8.0),
        colour=str(raw["colour"]),
        scale=number("scale", -1e6, 1e6),
        offset=number("offset", -1e6, 1e6),
        live_index=int(index),
        activation=str(raw["activation"]),
        threshold=number("threshold", 0.0, 1.0),
    )


def pad_manifests(folder: Path) -> dict[str, PadManifest]:
    """Every presentation-attack model manifest in ``folder``, by name.

    Raises:
        ModelError: an unreadable or invalid one.
    """
    found: dict[str, PadManifest] = {}
    for path in sorted(folder.glob("*.manifest.json")):
        try:
            raw = json.loads(path.read_text())
        except (OSError, ValueError) as err:
            raise ModelError(f"{path}: unreadable manifest ({err})") from err
        if isinstance(raw, dict) and raw.get("kind") == "pad":
            manifest = parse_manifest(raw, folder, str(path))
            found[manifest.name] = manifest
    return found


class PadModel:
    """A loaded presentation-attack model. Use :meth:`load`."""

    def __init__(self, manifest: PadManifest, model: runtime.TfliteModel) -> None:
        size = manifest.input_size
        if not model.inputs or model.inputs[0].shape != (1, size, size, 3) or model.inputs[0].dtype != "float32":
            raise ModelError(f"{manifest.path.name}: input must be 1 x {size} x {size} x 3 float32 ({model.inputs})")
        outputs = int(np.prod(model.outputs[0].shape)) if model.outputs else 0
        if manifest.live_index >= outputs:
            raise ModelError(f"{manifest.path.name}: live_index {manifest.live_index} but {outputs} outputs")
        self.manifest = manifest
        self.model = model

    @classmethod
    def load(cls, folder: Path, name: str) -> PadModel:
        """Load model ``name`` from ``folder``, its file checked against the manifest's sha256.

        Raises:
            ModelError: no such model, altered file, or a model that does not fit its manifest.
        """
        manifests = pad_manifests(folder)
        if name not in manifests:
            raise ModelError(
                f"presentation-attack model {name!r} not found in {folder} (have: {', '.join(manifests) or 'none'})"
            )
        manifest = manifests[name]
        if not manifest.path.is_file() or file_sha256(manifest.path) != manifest.sha256:
            raise ModelError(f"{manifest.path}: missing or different from the sha256 in its manifest")
        return cls(manifest, runtime.load(manifest.path, 1))

    def crop(self, image: Image, face: Detection) -> Image:
        """The square crop the model sees (BGR, ``input_size`` pixels)."""
        x0, y0, x1, y1 = face.box
        side = max(x1 - x0, y1 - y0) * self.manifest.crop_scale
        size = self.manifest.input_size
        s = side / size
        to_image = np.array([[s, 0, (x0 + x1) / 2 - side / 2], [0, s, (y0 + y1) / 2 - side / 2]], dtype=np.float64)
        return warp_to_chip(image, to_image, size)

    def score_crop(self, crop: Image) -> float:
        """The live probability of a crop as :meth:`crop` makes it."""
        m = self.manifest
        pixels = crop[:, :, ::-1] if m.colour == "RGB" else crop
        tensor = (pixels.astype(np.float32) * np.float32(m.scale) + np.float32(m.offset))[None]
        out = self.model.run(np.ascontiguousarray(tensor, dtype=np.float32))[0].reshape(-1).astype(np.float64)
        if m.activation == "softmax":
            e = np.exp(out - out.max())
            return float(e[m.live_index] / e.sum())
        value = float(out[m.live_index])
        if m.activation == "sigmoid":
            return 1.0 / (1.0 + math.exp(-max(-50.0, min(50.0, value))))
        return value

    def score(self, image: Image, face: Detection) -> float:
        """The live probability of ``face`` in ``image``."""
        return self.score_crop(self.crop(image, face))

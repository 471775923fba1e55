"""Model manifests: what the firmware must know to use an embedding model, read from JSON.

``models/build.py`` writes ``<model file>.manifest.json`` beside every model it builds. A new
TFLite embedding model becomes usable by dropping it and a manifest into the models folder: the
chip template, colour order, normalisation, metric, threshold and fusion statistics all come
from here, none from code. Every manifest is validated when loaded; a bad one raises ModelError
naming the file and field, and the file's sha256 is checked before the model is used.
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from firmware.domain import KEYPOINT_NAMES
from firmware.errors import ModelError

METRICS = ("cosine", "euclidean")
CHIPS = ("plain", "dlib")
MESH_POINTS = 468


@dataclass(frozen=True)
class Calibration:
    """Distance statistics measured on labelled pairs, used to put models on one scale.

    ``genuine_mean`` and ``impostor_mean`` are the model's mean distances for same-person and
    different-person pairs; a standardised distance is ``(d - genuine_mean) / (impostor_mean -
    genuine_mean)``: about 0 for a typical genuine pair and 1 for a typical impostor.
    """

    genuine_mean: float
    impostor_mean: float
    pairs: str = ""

    def standardise(self, distance: float) -> float:
        """``distance`` on the common scale."""
        return (distance - self.genuine_mean) / (self.impostor_mean - self.genuine_mean)


@dataclass(frozen=True)
class Manifest:
    """One embedding model, as described by its manifest file."""

    name: str
    path: Path
    sha256: str
    version: str
    input_size: int
    colour: str
    scale: float
    offset: float
    chip: str
    keypoints: tuple[int, ...]
    points: tuple[tuple[float, float], ...]
    output_dim: int
    metric: str
    threshold: float
    licence: str
    source: str
    calibration: Calibration | None
    mesh_groups: tuple[tuple[int, ...], ...] = ()
    mesh_points: tuple[tuple[float, float], ...] = ()

    @property
    def encoding_key(self) -> str:
        """What stored encodings of this model are tied to: the file's sha256, or, when the
        chip is aligned from the face mesh (``template_mesh``), a digest of the file's sha256
        and that template, so that encodings made with another alignment are never compared
        with this one's (the gallery ignores them until ``occur reembed``)."""
        if not self.mesh_groups:
            return self.sha256
        spec = json.dumps([self.sha256, self.chip, self.mesh_groups, self.mesh_points], separators=(",", ":"))
        return hashlib.sha256(spec.encode()).hexdigest()

    def verify_file(self) -> None:
        """Check the model file's sha256 against the manifest.

        Raises:
            ModelError: file missing or different from the one the manifest describes.
        """
        if not self.path.is_file():
            raise ModelError(f"model {self.name}: {self.path} is missing (run ./setup.sh)")
        digest = file_sha256(self.path)
        if digest != self.sha256:
            raise ModelError(
                f"model {self.name}: {self.path.name} has sha256 {digest[:12]}…, manifest says {self.sha256[:12]}…"
            )


def file_sha256(path: Path) -> str:
    """Hex sha256 of a file, read in 1 MiB blocks."""
    hasher = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            hasher.update(block)
    return hasher.hexdigest()


def verify_beside(path: Path) -> None:
    """Check ``path`` against ``<path>.manifest.json`` when that manifest exists (set-up writes
    one for every model it builds; a hand-made models folder may have none).

    Raises:
        ModelError: unreadable manifest, or the file's sha256 differs from it.
    """
    manifest = path.with_name(path.name + ".manifest.json")
    if not manifest.exists():
        return
    try:
        expected = json.loads(manifest.read_text())["sha256"]
    except (OSError, ValueError, KeyError, TypeError) as err:
        raise ModelError(f"{manifest}: unreadable manifest ({err})") from err
    if path.is_file() and file_sha256(path) != expected:
        raise ModelError(f"{path.name} does not match the sha256 in its manifest; run ./setup.sh to rebuild it")


def _field(raw: dict[str, Any], key: str, kind: type | tuple[type, ...], where: str) -> Any:
    value = raw.get(key)
    if not isinstance(value, kind) or isinstance(value, bool):
        raise ModelError(f"{where}: field {key!r} is missing or not {getattr(kind, '__name__', kind)}")
    if isinstance(value, float) and not math.isfinite(value):
        raise ModelError(f"{where}: field {key!r} is {value}, not a finite number")
    return value


def parse(raw: dict[str, Any], folder: Path, where: str) -> Manifest:
    """Validate a decoded manifest.

    Raises:
        ModelError: naming ``where`` and the bad field.
    """
    names = _field(raw, "template_keypoints", list, where)
    points = _field(raw, "template_points", list, where)
    if any(n not in KEYPOINT_NAMES for n in names) or len(names) != len(points) or len(names) < 2:
        raise ModelError(f"{where}: template_keypoints must be 2+ of {', '.join(KEYPOINT_NAMES)}, one per point")
    if not all(
        isinstance(p, list) and len(p) == 2 and all(isinstance(v, int | float) and math.isfinite(v) for v in p)
        for p in points
    ):
        raise ModelError(f"{where}: template_points must be [x, y] pairs")
    metric, chip, colour = raw.get("metric"), raw.get("chip"), raw.get("colour")
    if metric not in METRICS or chip not in CHIPS or colour not in ("RGB", "BGR"):
        raise ModelError(f"{where}: metric must be one of {METRICS}, chip one of {CHIPS}, colour RGB or BGR")
    cal = raw.get("calibration")
    calibration = None
    if cal is not None:
        genuine, impostor = (
            _field(cal, "genuine_mean", (int, float), where),
            _field(cal, "impostor_mean", (int, float), where),
        )
        if not impostor > genuine:
            raise ModelError(f"{where}: calibration impostor_mean must exceed genuine_mean")
        calibration = Calibration(float(genuine), float(impostor), str(cal.get("pairs", "")))
    groups, mesh_points = _mesh_template(raw, where)
    size = _field(raw, "input_size", int, where)
    if not 16 <= size <= 1024:
        raise ModelError(f"{where}: input_size {size} out of range")
    return Manifest(
        name=_field(raw, "name", str, where),
        path=folder / _field(raw, "file", str, where),
        sha256=_field(raw, "sha256", str, where),
        version=str(raw.get("version", "")),
        input_size=size,
        colour=str(colour),
        scale=float(_field(raw, "scale", (int, float), where)),
        offset=float(_field(raw, "offset", (int, float), where)),
        chip=str(chip),
        keypoints=tuple(KEYPOINT_NAMES.index(n) for n in names),
        points=tuple((float(x), float(y)) for x, y in points),
        output_dim=_field(raw, "output_dim", int, where),
        metric=str(metric),
        threshold=float(_field(raw, "threshold", (int, float), where)),
        licence=str(raw.get("licence", "")),
        source=str(raw.get("source", "")),
        calibration=calibration,
        mesh_groups=groups,
        mesh_points=mesh_points,
    )


def _mesh_template(
    raw: dict[str, Any], where: str
) -> tuple[tuple[tuple[int, ...], ...], tuple[tuple[float, float], ...]]:
    """The optional face-mesh template: ``template_mesh`` lists, per chip point, the mesh indices
    whose mean is that point; ``template_mesh_points`` where they land in the chip.

    Raises:
        ModelError: malformed, mismatched or out-of-range entries.
    """
    groups, points = raw.get("template_mesh"), raw.get("template_mesh_points")
    if groups is None and points is None:
        return (), ()
    ok = (
        isinstance(groups, list)
        and isinstance(points, list)
        and len(groups) == len(points) >= 2
        and all(
            isinstance(g, list) and g and all(isinstance(i, int) and 0 <= i < MESH_POINTS for i in g) for g in groups
        )
        and all(
            isinstance(p, list)
            and len(p) == 2
            and all(isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v) for v in p)
            for p in points
        )
    )
    if not ok:
        raise ModelError(
            f"{where}: template_mesh must list 2+ groups of mesh indices (0-{MESH_POINTS - 1}), one per "
            "template_mesh_points [x, y] pair of finite numbers"
        )
    assert isinstance(groups, list) and isinstance(points, list)
    return tuple(tuple(g) for g in groups), tuple((float(x), float(y)) for x, y in points)


def load_manifests(folder: Path) -> dict[str, Manifest]:
    """Every embedding-model manifest in ``folder``, by model name.

    Raises:
        ModelError: unreadable or invalid manifest, or two manifests with one name.
    """
    found: dict[str, Manifest] = {}
    for path in sorted(folder.glob("*.manifest.json")):
        try:
            raw = json.loads(path.read_text())
        except (OSError, ValueError) as err:
            raise ModelError(f"{path}: unreadable manifest ({err})") from err
        if not isinstance(raw, dict) or raw.get("kind") != "embedding":
            continue
        manifest = parse(raw, folder, str(path))
        if manifest.name in found:
            raise ModelError(f"{path}: a second manifest for model {manifest.name!r}")
        found[manifest.name] = manifest
    return found

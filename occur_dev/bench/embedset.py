"""The embedding front end of calibration: every labelled photo through the product's own engine.

This is the only part of ``occur bench calibrate`` and ``occur bench openset`` that touches
images and models; the statistics (:mod:`occur_dev.bench.calstats`, :mod:`occur_dev.bench.tailfit`,
:mod:`occur_dev.bench.openset`) see only the arrays returned here, so a change to detection,
alignment or the quality gates changes the inputs, never the procedure.

Each photo gives the largest face that passes the configured quality gates (the door never
matches any other), embedded by every embedding model installed in the models folder (both
precisions), so one run calibrates every model combination the door may be configured with.

Embedding about 3,300 photos with four models takes minutes on two cores, so results may be
cached outside the repository (``cache`` folder). The cache key is a sha256 over the model
files (by their manifests), the detectors, the quality limits, the source of the vision front
end (every module of ``firmware/vision`` but the decision statistics and the matcher) and every
photo's bytes: any change to one of these is a new key, never a stale hit.
"""

from __future__ import annotations

import dataclasses
import hashlib
import logging
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import numpy.typing as npt

from firmware.config import VisionConfig
from firmware.errors import ImageError
from firmware.imaging.image import read_image_limited
from firmware.vision.embed import Embedder
from firmware.vision.engine import FaceEngine, load_detectors, load_landmarks
from firmware.vision.gallery import Fusion
from firmware.vision.manifest import Calibration, load_manifests
from firmware.vision.quality import QualityLimits
from occur_dev.evaluate import labelled_images

log = logging.getLogger(__name__)
FORMAT = 1
FRONT_END_SOURCES = ("firmware/vision", "occur_dev/bench/embedset.py", "occur_dev/evaluate.py")
NOT_FRONT_END = {"farcurve.py", "doorpoint.py", "gallery.py"}  # decision statistics and matching only


@dataclass
class EmbeddedSet:
    """Embeddings of labelled photos: row ``i`` of every matrix is photo ``paths[i]`` of person
    ``people[i]`` (``<set folder>/<person folder>``). ``refused`` maps the photos that gave no
    usable face to the reason."""

    people: list[str]
    paths: list[str]
    vectors: dict[str, npt.NDArray[np.float32]]
    metrics: dict[str, str]
    sha256: dict[str, str]
    refused: dict[str, str] = field(default_factory=dict)

    def subset(self, rows: npt.NDArray[np.intp]) -> EmbeddedSet:
        """The same set restricted to ``rows``."""
        return EmbeddedSet(
            [self.people[i] for i in rows],
            [self.paths[i] for i in rows],
            {m: v[rows] for m, v in self.vectors.items()},
            dict(self.metrics),
            dict(self.sha256),
            dict(self.refused),
        )


def _repo() -> Path:
    return Path(__file__).resolve().parents[2]


def _fingerprint(folder: Path, config: VisionConfig, photos: list[tuple[str, str]]) -> str:
    digest = hashlib.sha256(f"embedset {FORMAT} {config.photo_detector} {config.mirror}".encode())
    limits = dataclasses.astuple(QualityLimits.of(config))[:6]  # the [vision] limits, as keyed before
    digest.update(repr(limits).encode())
    for manifest in sorted(folder.glob("*.manifest.json")):
        digest.update(manifest.name.encode() + manifest.read_bytes())
    for source in FRONT_END_SOURCES:
        root = _repo() / source
        for path in sorted(root.rglob("*.py")) if root.is_dir() else [root]:
            if path.name in NOT_FRONT_END:
                continue
            digest.update(str(path.relative_to(_repo())).encode() + path.read_bytes())
    for person, photo in photos:
        digest.update(person.encode() + hashlib.sha256(Path(photo).read_bytes()).digest())
    return digest.hexdigest()


def _photos(roots: list[Path]) -> list[tuple[str, str]]:
    out = []
    for root in roots:
        for person, files in labelled_images(root).items():
            out += [(f"{root.name}/{person}", f) for f in files]
    return out


def _engine(folder: Path, config: VisionConfig) -> FaceEngine:
    manifests = load_manifests(folder)
    embedders = [Embedder.load(m, 1) for _, m in sorted(manifests.items())]
    neutral = {e.name: Calibration(0.0, 1.0) for e in embedders}
    fusion = Fusion({e.name: e.manifest.metric for e in embedders}, neutral, 1.0)
    limits = QualityLimits.of(config)
    detector, fallback = load_detectors(folder, config.photo_detector, 1)
    landmarks = load_landmarks(folder)
    return FaceEngine(detector, embedders, limits, fusion, config.mirror, fallback=fallback, landmarks=landmarks)


def _embed_all(engine: FaceEngine, photos: list[tuple[str, str]]) -> EmbeddedSet:
    names = [e.name for e in engine.embedders]
    rows: dict[str, list[npt.NDArray[np.float32]]] = {m: [] for m in names}
    kept = EmbeddedSet([], [], {}, {e.name: e.manifest.metric for e in engine.embedders}, {})
    kept.sha256 = {e.name: e.manifest.sha256 for e in engine.embedders}
    for n, (person, path) in enumerate(photos, 1):
        if n % 250 == 0:
            log.info("calibration: %d of %d photos embedded", n, len(photos))
        try:
            faces = engine.faces(read_image_limited(Path(path))[0])
        except ImageError as err:
            kept.refused[path] = str(err)
            continue
        main = engine.main_face(faces)
        if main is None or not main.quality.ok:
            kept.refused[path] = "; ".join(main.quality.problems) if main else "no face found"
            continue
        good = [main]
        kept.people.append(person)
        kept.paths.append(path)
        for m in names:
            rows[m].append(good[0].embeddings[m])
    kept.vectors = {m: np.array(v, dtype=np.float32).reshape(len(kept.paths), -1) for m, v in rows.items()}
    return kept


def _save(path: Path, data: EmbeddedSet) -> None:
    arrays: dict[str, npt.NDArray[np.generic]] = {
        "people": np.array(data.people, dtype=str),
        "paths": np.array(data.paths, dtype=str),
        "refused_paths": np.array(list(data.refused), dtype=str),
        "refused_reasons": np.array(list(data.refused.values()), dtype=str),
        "models": np.array([f"{m}\t{data.metrics[m]}\t{data.sha256[m]}" for m in data.vectors], dtype=str),
    }
    arrays |= {f"vectors_{i}": v for i, v in enumerate(data.vectors.values())}
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp.npz")
    np.savez(tmp, **arrays)  # type: ignore[arg-type]
    tmp.replace(path)


def _load(path: Path) -> EmbeddedSet:
    with np.load(path, allow_pickle=False) as raw:
        models = [str(x).split("\t") for x in raw["models"]]
        return EmbeddedSet(
            [str(x) for x in raw["people"]],
            [str(x) for x in raw["paths"]],
            {m: np.asarray(raw[f"vectors_{i}"], dtype=np.float32) for i, (m, _, _) in enumerate(models)},
            {m: metric for m, metric, _ in models},
            {m: sha for m, _, sha in models},
            dict(zip((str(x) for x in raw["refused_paths"]), (str(x) for x in raw["refused_reasons"]), strict=True)),
        )


def _concatenate(parts: list[EmbeddedSet]) -> EmbeddedSet:
    first = parts[0]
    return EmbeddedSet(
        [p for part in parts for p in part.people],
        [p for part in parts for p in part.paths],
        {m: np.concatenate([part.vectors[m] for part in parts]) for m in first.vectors},
        dict(first.metrics),
        dict(first.sha256),
        {k: v for part in parts for k, v in part.refused.items()},
    )


def embed_set(root: Path, config: VisionConfig, cache: Path | None = None) -> EmbeddedSet:
    """Embed every photo under ``root`` (a folder-per-person tree) with every installed model;
    people are named ``<root folder name>/<person folder name>``.

    Args:
        cache: folder for reusable results (outside the repository); None = always embed.

    Raises:
        ModelError: a model or detector is missing or altered.
    """
    folder = config.models_folder()
    photos = _photos([root])
    target = cache / f"embeddings-{_fingerprint(folder, config, photos)[:32]}.npz" if cache is not None else None
    if target is not None and target.is_file():
        try:
            found = _load(target)
        except (OSError, ValueError, KeyError) as err:
            log.warning("calibration: cache %s unreadable (%s); embedding again", target, err)
        else:
            log.info("calibration: %d embedded photos of %s from cache %s", len(found.paths), root, target)
            return found
    data = _embed_all(_engine(folder, config), photos)
    if target is not None:
        _save(target, data)
    return data


def embed_sets(roots: list[Path], config: VisionConfig, cache: Path | None = None) -> EmbeddedSet:
    """:func:`embed_set` of every root, pooled (each root is cached on its own).

    Raises:
        ModelError: a model or detector is missing or altered.
    """
    return _concatenate([embed_set(root, config, cache) for root in roots])

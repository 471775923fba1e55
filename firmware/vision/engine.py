"""The vision pipeline: detect, assess, align and embed every face in an image.

:class:`FaceEngine` owns the detector and the embedding models named in the config, loaded once
(about 0.1-0.2 s) and reused for every frame. It does no matching and touches no storage; the
recognition layer combines it with the gallery.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from pathlib import Path

from firmware.config import VisionConfig
from firmware.domain import Detection, Image
from firmware.errors import ModelError
from firmware.vision.align import ENROL_224, SFACE_112, align, chip_transform
from firmware.vision.detect import FaceDetector
from firmware.vision.doorpoint import DoorRule
from firmware.vision.embed import Embedder, Vector
from firmware.vision.farcurve import DoorCalibration, load_door_calibration
from firmware.vision.gallery import Fusion
from firmware.vision.landmarks import MODEL_FILE as LANDMARK_FILE
from firmware.vision.landmarks import FaceMesh, LandmarkModel
from firmware.vision.manifest import Calibration, load_manifests, verify_beside
from firmware.vision.pose import keypoint_pose, mesh_pose
from firmware.vision.quality import Quality, QualityLimits, assess, with_pose
from firmware.vision.runtime import TfliteModel

log = logging.getLogger(__name__)


@dataclass
class Face:
    """One detected face with its quality, its embeddings (one per model) and stage timings (ms)."""

    detection: Detection
    quality: Quality
    embeddings: dict[str, Vector] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)
    mesh: FaceMesh | None = None

    @property
    def area(self) -> float:
        """Box area in square pixels."""
        return self.detection.width * self.detection.height


def fusion_for(models_dir: Path, embedders: list[Embedder], threshold: float = 0.0, margin: float = 0.05) -> Fusion:
    """The fusion rule for ``embedders`` alone, for callers outside the door's decision: the
    calibrations of ``fusion.json`` and its one-to-one threshold (one comparison at the default
    stranger-accept target, 0.001) unless ``threshold`` (> 0) overrides it.

    Raises:
        ModelError: ``fusion.json`` is missing, corrupt or made for other model files.
    """
    fusion, rule = door_fusion(models_dir, embedders, VisionConfig(threshold=threshold, margin=margin))
    if rule.calibration.problem is not None:
        raise ModelError(rule.calibration.problem)
    return fusion


def door_fusion(models_dir: Path, embedders: list[Embedder], config: VisionConfig) -> tuple[Fusion, DoorRule]:
    """The fusion rule for ``embedders`` and the door's rule for naming people.

    Per-model calibrations and the false-accept curves come from ``fusion.json`` beside the
    models, matched to the model files by sha256. When that file is missing, corrupt or made for
    other model files, the returned :class:`DoorRule` carries the reason and the door names
    nobody; scores are still computed (with the manifests' statistics, else a neutral scale) so
    ``occur identify`` can show them. ``Fusion.threshold`` is the one-to-one threshold (one
    user, one sample, at the stranger-accept target) or the fixed ``[vision] threshold``; the
    door's threshold follows the gallery (see :mod:`firmware.vision.doorpoint`).
    """
    shas = {e.name: e.manifest.sha256 for e in embedders}
    calibration = load_door_calibration(models_dir, shas)
    calibrations = dict(calibration.calibrations)
    if calibration.problem is not None:
        log.error("vision: the door names nobody: %s", calibration.problem)
        calibrations = {e.name: e.manifest.calibration or Calibration(0.0, 1.0) for e in embedders}
    rule = DoorRule(calibration, config.stranger_accept_rate, config.threshold, config.min_people)
    one_to_one = rule.one_to_one(1)
    threshold = config.threshold if config.threshold > 0 else (0.0 if one_to_one is None else one_to_one)
    metrics = {e.name: e.manifest.metric for e in embedders}
    return Fusion(metrics, calibrations, threshold, config.margin), rule


def load_detectors(folder: Path, variant: str, threads: int) -> tuple[FaceDetector, FaceDetector | None]:
    """The primary detector and, for ``auto``, the full-range fallback used when the short-range
    model finds no face (faces under about a tenth of the frame width).

    Raises:
        ModelError: unknown variant or missing model.
    """
    variants = ("short_range", "full_range") if variant == "auto" else (variant,)
    for name in variants:
        verify_beside(folder / f"blazeface_{name}.tflite")
    loaded = [FaceDetector.load(folder, name, threads) for name in variants]
    return loaded[0], (loaded[1] if len(loaded) > 1 else None)


def load_landmarks(folder: Path, threads: int = 1) -> LandmarkModel | None:
    """The face mesh model when the models folder has it (set-up builds it), else None.

    Raises:
        ModelError: the file is there but altered or unusable.
    """
    path = folder / LANDMARK_FILE
    if not path.is_file():
        log.warning("vision: no %s in %s; head pose falls back to the detector's keypoints", LANDMARK_FILE, folder)
        return None
    verify_beside(path)
    return LandmarkModel.load(folder, threads)


class FaceEngine:
    """Detector + embedding models + quality limits. Use :meth:`load`."""

    def __init__(
        self,
        detector: FaceDetector,
        embedders: list[Embedder],
        limits: QualityLimits,
        fusion: Fusion,
        mirror: bool = False,
        load_ms: float = 0.0,
        fallback: FaceDetector | None = None,
        landmarks: LandmarkModel | None = None,
        rule: DoorRule | None = None,
    ) -> None:
        self.detector = detector
        self.rule = rule or DoorRule(DoorCalibration({}, None, "no door calibration loaded"))
        self.landmarks = landmarks
        self.fallback = fallback
        self.embedders = embedders
        self.limits = limits
        self.fusion = fusion
        self.mirror = mirror
        self.load_ms = load_ms

    @classmethod
    def load(cls, config: VisionConfig, fused: bool = True) -> FaceEngine:
        """Load the configured detector and models, checking each file against its manifest.

        Args:
            fused: False for tools that only embed (``occur embed``): a model without
                calibration is then accepted and the fusion rule is a neutral placeholder.

        Raises:
            ModelError: a model is missing, altered or unknown (a bad calibration file is not an
                error here: the door rule carries it and names nobody).
        """
        started = time.perf_counter()
        folder = config.models_folder()
        manifests = load_manifests(folder) if folder.is_dir() else {}
        unknown = [m for m in config.models if m not in manifests]
        if unknown or not config.models:
            raise ModelError(
                f"embedding model(s) {', '.join(unknown) or '(none)'} not found in {folder}; "
                f"installed: {', '.join(sorted(manifests)) or 'none (run ./setup.sh)'}"
            )
        # Largest model first, detectors last: while XNNPACK packs a model's weights, its mapped
        # file is resident too (about twice the model for a moment), so that peak should come
        # while little else is loaded. Measured: peak RSS 168 -> 15x MiB for SFace + dlib.
        by_size = sorted(config.models, key=lambda m: manifests[m].path.stat().st_size, reverse=True)
        loaded = {m: Embedder.load(manifests[m], config.threads) for m in by_size}
        embedders = [loaded[m] for m in config.models]
        detector, fallback = load_detectors(folder, config.detector, config.threads)
        landmarks = load_landmarks(folder)
        rule = DoorRule(DoorCalibration({}, None, "embedding only: no door rule loaded"))
        meshed = [e.name for e in embedders if e.needs_mesh]
        if meshed and landmarks is None:
            raise ModelError(f"model(s) {', '.join(meshed)} align from the face mesh: {LANDMARK_FILE} is missing")
        if fused:
            fusion, rule = door_fusion(folder, embedders, config)
        else:
            neutral = {e.name: Calibration(0.0, 1.0) for e in embedders}
            fusion = Fusion({e.name: e.manifest.metric for e in embedders}, neutral, 0.0, config.margin)
        limits = QualityLimits.of(config)
        load_ms = (time.perf_counter() - started) * 1000
        log.info("vision: %s + %s loaded in %.0f ms", config.detector, "+".join(config.models), load_ms)
        return cls(detector, embedders, limits, fusion, config.mirror, load_ms, fallback, landmarks, rule)

    def faces(self, image: Image, embed: bool = True, pose: bool = True) -> list[Face]:
        """Every face in ``image``, largest first, each assessed and (if ``embed``) embedded.

        Faces that fail a quality gate are still embedded: callers decide what to do with them.
        With ``pose=False`` only the first quality stage runs (the door loop runs
        :meth:`check` itself, only for faces it will embed); such faces are not ``ok`` yet.
        """
        started = time.perf_counter()
        detections = self.detector.detect(image)
        if self.fallback is not None and not any(d.score >= self.limits.min_score for d in detections):
            detections = self.fallback.detect(image)
        detect_ms = (time.perf_counter() - started) * 1000
        faces = []
        for det in sorted(detections, key=lambda d: d.width * d.height, reverse=True):
            try:
                chip_transform(det, SFACE_112)
            except ValueError:
                continue
            face = Face(det, assess(det, image, self.limits))
            face.timings["detect"] = detect_ms
            if pose or embed:
                self.check(image, face)
            if embed:
                self.embed(image, face)
            faces.append(face)
        return faces

    def check(self, image: Image, face: Face) -> Quality:
        """Complete ``face.quality`` with the second stage (head pose from the face mesh, or from
        the keypoints when no landmark model is installed, and the mesh's face confidence);
        computed once per face."""
        if face.quality.pose is not None:
            return face.quality
        try:
            mesh = self.mesh(image, face)
            pose = mesh_pose(mesh.points) if mesh is not None else keypoint_pose(face.detection)
            presence = mesh.presence if mesh is not None else None
        except ValueError:  # a degenerate box or mesh: nothing face-like to measure
            pose, presence = keypoint_pose(face.detection), 0.0
        face.quality = with_pose(face.quality, pose, presence, self.limits)
        return face.quality

    def main_face(self, faces: list[Face]) -> Face | None:
        """The face a photo is about: the largest confident detection that the landmark model
        confirms is a face. (A large false detection, such as a logo behind a person, is no
        longer preferred to the person's face.)"""
        for face in faces:
            if face.detection.score >= self.limits.min_score and "not_a_face" not in face.quality.codes:
                return face
        return None

    def embed(self, image: Image, face: Face) -> None:
        """Fill ``face.embeddings`` (and its timings) with every model's embedding.

        Raises:
            ValueError: a model aligns from the face mesh and this engine has no landmark model
                (:meth:`load` refuses that; only a hand-built engine can get here).
        """
        needs_mesh = any(e.needs_mesh for e in self.embedders)
        mesh = self.mesh(image, face) if needs_mesh else None
        for embedder in self.embedders:
            t0 = time.perf_counter()
            chip = embedder.chip(image, face.detection, mesh.points if mesh is not None else None)
            t1 = time.perf_counter()
            face.embeddings[embedder.name] = embedder.embed(chip, self.mirror)
            face.timings[f"align_{embedder.name}"] = (t1 - t0) * 1000
            face.timings[f"embed_{embedder.name}"] = (time.perf_counter() - t1) * 1000

    def mesh(self, image: Image, face: Face) -> FaceMesh | None:
        """The face's 468 landmarks, computed once per face and kept in ``face.mesh``; None when
        no landmark model is installed (a hand-made models folder)."""
        if face.mesh is None and self.landmarks is not None:
            t0 = time.perf_counter()
            face.mesh = self.landmarks.mesh(image, face.detection)
            face.timings["landmarks"] = (time.perf_counter() - t0) * 1000
        return face.mesh

    def enrolment_chip(self, image: Image, face: Face) -> Image:
        """The wide aligned chip kept with an enrolment sample (see ``ENROL_224``)."""
        return align(image, face.detection, ENROL_224)

    def _models(self) -> list[TfliteModel]:
        models = [self.detector.model, *(e.model for e in self.embedders)]
        if self.fallback is not None:
            models.append(self.fallback.model)
        if self.landmarks is not None:
            models.append(self.landmarks.model)
        return models

    def inference_s(self) -> float:
        """Seconds spent inside the TFLite models' ``invoke`` since loading."""
        return sum(m.busy_s for m in self._models())

    def close(self) -> None:
        """Free every model's interpreter (a Zero 2 W cannot hold two model sets); the engine
        refuses to run afterwards (ModelError), so a door left with it stays locked."""
        for model in self._models():
            model.close()

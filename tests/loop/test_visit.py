"""One decision per visit: the visit accumulator, and the door loop on replayed visits."""

from __future__ import annotations

import shutil
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from firmware import service
from firmware.config import Config, LoopConfig
from firmware.domain import Detection
from firmware.loop.visit import Visit, frame_weight
from firmware.vision.engine import Face, FaceEngine
from firmware.vision.pose import Pose
from firmware.vision.quality import Quality
from tests.conftest import query
from tests.loop.test_run_e2e import FACES, NOFACE, enrol_people, make_config, photo

METRICS = {"sface": "cosine", "dlib": "euclidean"}


def face(vectors: dict[str, list[float]], score: float = 0.9, yaw: float = 0.0) -> Face:
    quality = Quality(100.0, score, 100.0, (), (), Pose(yaw, 0.0, 0.0, "mesh"), 1.0)
    embeddings = {m: np.asarray(v, dtype=np.float32) for m, v in vectors.items()}
    return Face(Detection((0, 0, 100, 100), ((30, 40),) * 6, score), quality, embeddings)


def test_a_visit_is_ready_once_and_then_takes_nothing_more() -> None:
    visit = Visit(1, frames_needed=3)
    f = face({"sface": [1, 0], "dlib": [0.5, 0.5]})
    assert [visit.add(i, f) for i in range(3)] == [False, False, True]
    visit.decided = True
    assert not visit.ready and not visit.add(3, f) and len(visit.frames) == 3


def test_the_frames_weights_and_the_strangers_portrait() -> None:
    """The frames go to one search with their weights; the weighted mean embedding is what the
    stranger memory keeps."""
    visit = Visit(1, frames_needed=2)
    frontal = face({"sface": [1, 0], "dlib": [1.0, 0.0]}, score=0.9)
    turned = face({"sface": [0, 1], "dlib": [0.0, 1.0]}, score=0.9, yaw=60.0)  # counts half
    visit.add(0, frontal)
    visit.add(1, turned)
    combined = visit.combined(METRICS)
    assert frame_weight(turned) == pytest.approx(frame_weight(frontal) / 2)
    assert combined["dlib"] == pytest.approx([2 / 3, 1 / 3])
    assert float(np.linalg.norm(combined["sface"])) == pytest.approx(1.0)  # cosine: back to unit length
    assert combined["sface"][0] == pytest.approx(2 / np.sqrt(5))
    assert visit.best().face is frontal
    assert visit.embeddings() == [frontal.embeddings, turned.embeddings]
    assert visit.weights() == pytest.approx([frame_weight(frontal), frame_weight(turned)])


def test_a_visit_without_frames_or_models_is_an_error() -> None:
    with pytest.raises(ValueError, match="no frames"):
        Visit(7, 1).combined(METRICS)
    visit = Visit(7, 1)
    visit.add(0, face({"sface": [1, 0]}))
    with pytest.raises(ValueError, match="lacks a dlib embedding"):
        visit.combined(METRICS)


@pytest.fixture(scope="module")
def engine() -> FaceEngine:
    return FaceEngine.load(Config().vision)


def replay(folder: Path, frames: list[Path], gap: int = 8) -> None:
    folder.mkdir()
    for n, path in enumerate([*frames, *([NOFACE[0]] * gap)]):
        shutil.copy(path, folder / f"{n:05d}{path.suffix}")


@pytest.mark.parametrize("length", [3, 30, 120])
def test_a_stranger_standing_longer_gets_exactly_one_decision(tmp_path: Path, engine: FaceEngine, length: int) -> None:
    config = make_config(tmp_path)
    config = replace(config, camera=replace(config.camera, fps=0.0))
    enrol_people(config, engine, {"amy": None, "sheldon": None})
    replay(tmp_path / "replay", [photo("howard", 0)] * length)
    report = service.run(config, f"replay:{tmp_path / 'replay'}", gpio="mock", until_end=True)
    assert [(d.name, d.kind, d.granted, d.frame) for d in report.decisions] == [(None, "unknown", False, 2)]
    assert query(config.paths, "SELECT count(*) FROM face_events") == [(1,)]


def test_a_visit_whose_frames_disagree_still_ends_in_one_decision(tmp_path: Path, engine: FaceEngine) -> None:
    """Frames alternating between an enrolled person's photo and another man's: per-frame votes
    never agreed three times in a row, so such a visit used to end without any decision."""
    config = replace(make_config(tmp_path), loop=LoopConfig(cooldown_s=0.0, agree_frames=3))
    config = replace(config, camera=replace(config.camera, fps=0.0))
    enrol_people(config, engine, {"john_savage": None})
    frames = [photo("john_savage", 0), photo("john_salley", 0)] * 10
    replay(tmp_path / "replay", frames)
    report = service.run(config, f"replay:{tmp_path / 'replay'}", gpio="mock", until_end=True)
    assert len(report.decisions) == 1 and report.decisions[0].frame == 2


def test_enrolment_and_the_door_refuse_a_turned_face_alike(tmp_path: Path, engine: FaceEngine) -> None:
    """One set of gates: the photo enrolment refuses as turned away gives the door no good
    frame, so its visit ends without a decision (and without a stranger record)."""
    from firmware.imaging.image import read_image
    from firmware.recognition.enrol import usable_face

    turned = FACES / "compreface_e2e_h" / "personH-img1.jpg"  # head turned about 40 degrees
    config = replace(make_config(tmp_path), camera=replace(make_config(tmp_path).camera, fps=0.0))
    face, reasons = usable_face(FaceEngine.load(config.vision.for_photos()), read_image(turned))
    assert face is None and any(r.startswith("face turned away") for r in reasons), reasons
    replay(tmp_path / "replay", [turned] * 12)
    report = service.run(config, f"replay:{tmp_path / 'replay'}", gpio="mock", until_end=True)
    assert report.decisions == []
    assert query(config.paths, "SELECT count(*) FROM unknown_faces") == [(0,)]

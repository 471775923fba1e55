"""Liveness cues with the real landmark model on real photos and frames made from them:
flat pictures never pass for a head, still photos are never called attacks, bad input is never
live. Synthetic frames come from ``occur_dev.bench.padattacks`` (seeded, so each case is fixed)."""

from __future__ import annotations

import numpy as np
import pytest

from firmware.config import VisionConfig
from firmware.config.liveness import LivenessConfig
from firmware.imaging.image import read_image, resize
from firmware.padcapture.stats import clopper_pearson_upper
from firmware.policy.liveness import limits_for
from firmware.vision.engine import FaceEngine
from firmware.vision.liveness import geometry, screen
from firmware.vision.liveness.track import LivenessTrack, Sample, observe, sample_frame
from firmware.vision.liveness.verdict import Verdict
from occur_dev.bench.padattacks import Source, camera_effects, glare, live_render, sequence
from occur_dev.bench.padbench import candidate_photos, load_source
from occur_dev.bench.padscene import Camera, Pose
from tests.conftest import SHARED

FACES = SHARED / "data" / "faces"
LIMITS = limits_for(LivenessConfig())
FPS = 15.0


@pytest.fixture(scope="module")
def engine() -> FaceEngine:
    return FaceEngine.load(VisionConfig(models=("sface",)), fused=False)


@pytest.fixture(scope="module")
def source(engine: FaceEngine) -> Source:
    found = load_source(engine, sorted((FACES / "amy").glob("*.jpg"))[0])
    assert found is not None
    return found


def verdicts(engine: FaceEngine, frames: list[np.ndarray], fps: float = FPS) -> list[Verdict]:
    track = LivenessTrack(LIMITS)
    out = []
    for i, frame in enumerate(frames):
        sample = sample_frame(engine, frame, i / fps, LIMITS)
        if sample is not None:
            track.add(sample)
            out.append(track.verdict(i / fps))
    return out


def test_fits_recover_exact_transforms() -> None:
    rng = np.random.default_rng(1)
    src = rng.uniform(0, 100, (40, 2))
    h = np.array([[1.1, 0.05, 3.0], [-0.02, 0.95, -4.0], [1e-4, -2e-4, 1.0]])
    assert np.allclose(geometry.fit_homography(src, geometry.apply_homography(h, src)), h, atol=1e-6)
    s = np.array([[0.8, -0.6, 10.0], [0.6, 0.8, -5.0]])
    assert np.allclose(geometry.fit_similarity(src, geometry.apply_affine(s, src)), s, atol=1e-9)


def test_clopper_pearson_bounds() -> None:
    assert clopper_pearson_upper(0, 300) == pytest.approx(1 - 0.05 ** (1 / 300), rel=1e-6)
    assert clopper_pearson_upper(300, 300) == 1.0
    assert 0.0157 < clopper_pearson_upper(1, 300) < 0.0158
    with pytest.raises(ValueError, match="errors <= trials"):
        clopper_pearson_upper(4, 3)


def test_flat_prints_moving_in_3d_never_pass_for_a_head(engine: FaceEngine, source: Source) -> None:
    """None is ever live; some are caught (the planar test is strict, so mostly by the paper's
    edges: see the README and occur bench pad for how often)."""
    scenes = [read_image(p) for p in sorted((FACES / "noface").glob("*.jpg"))]
    finals = []
    for seed in range(6):
        frames = list(sequence("print", source, np.random.default_rng(seed), Camera(), 56, FPS, scenes))
        found = verdicts(engine, frames)
        assert all(v.state != "live" for v in found), seed
        finals.append(found[-1].cue)
    assert any(cue in ("planar_motion", "screen_bezel", "glare", "moire") for cue in finals), finals


def test_a_head_turning_is_live(engine: FaceEngine, source: Source) -> None:
    frames = list(live_render(source, np.random.default_rng(4), Camera(), 56, FPS))
    found = [v for v in verdicts(engine, frames) if v.state == "live"]
    assert found and found[0].cue == "parallax"
    assert any(kind == "turn" for kind, _ in found[-1].events)


def test_a_low_frame_rate_is_never_live(engine: FaceEngine, source: Source) -> None:
    frames = list(live_render(source, np.random.default_rng(4), Camera(), 56, FPS))
    states = [v for v in verdicts(engine, frames[::4], fps=FPS / 4)]
    assert states and all(v.state != "live" for v in states)
    assert "frame rate 3.8 fps below 8" in states[-1].cue


def test_no_landmarks_and_small_faces_are_not_proven(engine: FaceEngine, source: Source) -> None:
    frame = source.head.render(Pose(z=0.5), Camera())
    face = engine.faces(frame, embed=False)[0]
    missing = observe(frame, face.detection, None, 0.0, LIMITS)
    assert missing.points is None and missing.problem == "no face landmarks"
    small = resize(frame, 160, 120)
    tiny = engine.faces(small, embed=False)[0]
    sample = observe(small, tiny.detection, engine.mesh(small, tiny), 0.0, LIMITS)
    assert sample.points is None and sample.problem.startswith("face too small for the landmark model")
    assert sample.found and sample.screen is not None and sample.cues == ()  # still screened, nothing fired
    track = LivenessTrack(LIMITS)
    for i in range(10):
        track.add(Sample(i / FPS, problem=sample.problem))
    verdict = track.verdict(9 / FPS)
    assert verdict.state == "not_proven" and verdict.cue == sample.problem


def test_still_photos_of_the_dev_set_are_never_attacks(engine: FaceEngine) -> None:
    """What the replay tests show the door: each photo, slightly shifted and noised, six times."""
    rng = np.random.default_rng(7)
    checked = recognisable = 0
    for photo in candidate_photos([FACES]):
        image = read_image(photo)
        if max(image.shape[:2]) > 1400:
            image = resize(image, image.shape[1] // 2, image.shape[0] // 2)
        frames = []
        for _ in range(6):
            dx, dy = (int(v) for v in rng.integers(-4, 5, 2))
            shifted = np.roll(np.roll(image, dy, axis=0), dx, axis=1)
            frames.append(camera_effects(shifted, rng, 0.0, 2.0, 92))
        found = verdicts(engine, frames)
        if not found:
            continue
        checked += 1
        assert all(v.state == "not_proven" for v in found), (photo, found[-1])
        if engine.faces(image, embed=False)[0].quality.ok:  # the door can recognise the face
            recognisable += 1
            assert found[-1].checked, (photo, found[-1])  # so deny_attacks lets them in
    assert checked >= 80 and recognisable >= 80


def test_screen_cues(engine: FaceEngine, source: Source) -> None:
    camera = Camera()
    frame = source.head.render(Pose(z=0.5), camera)
    face = engine.faces(frame, embed=False)[0]
    points = engine.mesh(frame, face)
    assert points is not None
    clean = screen.measure(frame, face.detection.box, points.points.astype(np.float64))
    assert clean.fired() == ()
    eye = points.points[33, :2]
    shiny = glare(frame, (float(eye[0]), float(eye[1])), 0.25 * geometry.iod(points.points.astype(np.float64)), 300)
    assert screen.glare_fraction(shiny, face.detection.box, points.points.astype(np.float64)) >= screen.GLARE_FRACTION
    scenes = [read_image(p) for p in sorted((FACES / "noface").glob("*.jpg"))]
    bezels = []
    for seed in range(6):
        still = list(sequence("print_still", source, np.random.default_rng(seed), camera, 3, FPS, scenes))[1]
        found = engine.faces(still, embed=False)
        bezels.append(screen.bezel_sides(still, found[0].detection.box) if found else 0)
    assert max(bezels) >= screen.BEZEL_SIDES  # a sheet held up in full shows its edges

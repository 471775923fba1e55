"""The accumulator on synthetic landmark tracks (no model): the same frames judged twice give
the same verdict, however often they were judged before; a still face's landmark noise is never
taken for a head turn."""

from __future__ import annotations

import random
from dataclasses import replace

import numpy as np

from firmware.config.liveness import LivenessConfig
from firmware.policy.liveness import decide_recorded, limits_for
from firmware.vision.liveness.geometry import LEFT_EYE, NOSE, RIGHT_EYE
from firmware.vision.liveness.screen import ScreenCues
from firmware.vision.liveness.track import LivenessTrack, Sample
from firmware.vision.liveness.verdict import Thresholds


def face_points(rng: np.random.Generator) -> np.ndarray:
    """468 random points with depth, the eyes' corners pulled apart about 80 px."""
    base = rng.uniform(-60, 60, (468, 3))
    base[list(RIGHT_EYE), 0] -= 40
    base[list(LEFT_EYE), 0] += 40
    return base


def moving_face(frames: int, seed: int) -> list[Sample]:
    """468 points with depth, turning up to 20 degrees and back, with landmark jitter."""
    rng = np.random.default_rng(seed)
    base = face_points(rng)
    out = []
    for i in range(frames):
        yaw = np.radians(20 * np.sin(i / frames * 2 * np.pi))
        rot = np.array([[np.cos(yaw), 0, np.sin(yaw)], [0, 1, 0], [-np.sin(yaw), 0, np.cos(yaw)]])
        points = base @ rot.T + np.array([320, 240, 0]) + rng.normal(0, 0.4, (468, 3))
        out.append(Sample(i / 15.0, points, ear=0.3, iod_px=80.0))
    return out


def still_face(frames: int, seed: int) -> list[Sample]:
    """The same 468 points every frame with heavy landmark noise, the nose's noise shared by
    its points (as a landmark model's shift of the whole nose is): a still face or a print held
    still, seen through a noisy model."""
    rng = np.random.default_rng(seed)
    base = face_points(rng)
    out = []
    for i in range(frames):
        points = base + np.array([320, 240, 0]) + rng.normal(0, 2.5, (468, 3))
        points[list(NOSE), :2] += rng.normal(0, 3.0, 2)
        out.append(Sample(i / 15.0, points, ear=0.3, iod_px=80.0))
    return out


def ever_live(samples: list[Sample], limits: Thresholds) -> bool:
    track = LivenessTrack(limits)
    found = False
    for sample in samples:
        track.add(sample)
        found |= track.verdict(sample.t).state == "live"
    return found


def test_a_still_face_whose_noise_passes_the_floor_is_never_live() -> None:
    """The noise floor lets a still face's largest noise pairs through; their ratios are noise
    over noise and can look like parallax. Only a visit where most pairs moved may be live (a
    turning head still is: ``test_cues.py::test_a_head_turning_is_live``)."""
    limits = limits_for(LivenessConfig())
    assert not any(ever_live(still_face(56, seed), limits) for seed in range(10))
    unguarded = replace(limits, min_motion_share=0.0)
    assert sum(ever_live(still_face(56, seed), unguarded) for seed in range(10)) >= 5


def test_judging_the_same_frames_again_gives_the_same_verdict() -> None:
    samples = moving_face(45, 3)
    limits = limits_for(LivenessConfig())
    first = decide_recorded(samples, "require_live", LivenessConfig(), limits, random.Random(1))
    for _ in range(3):
        again = decide_recorded(samples, "require_live", LivenessConfig(), limits, random.Random(1))
        assert again.verdict.cues == first.verdict.cues
        assert (again.verdict.state, again.after_s) == (first.verdict.state, first.after_s)


def test_pairs_are_counted_once_per_frame() -> None:
    samples = moving_face(30, 4)
    track = LivenessTrack(limits_for(LivenessConfig()))
    for sample in samples:
        track.add(sample)
    counts = [len(s.pairs) for s in samples]
    for sample in samples:
        LivenessTrack(limits_for(LivenessConfig())).add(sample)  # judged elsewhere too
    track2 = LivenessTrack(limits_for(LivenessConfig()))
    for sample in samples:
        track2.add(sample)
    assert [len(s.pairs) for s in samples] == counts and max(counts) <= 4


def screened(sample: Sample, bezel: int = 0) -> Sample:
    """The sample with its screen cues measured (``bezel`` sides found)."""
    cues = ScreenCues(bezel, 0.0, 0.0)
    return replace(sample, screen=cues, cues=cues.fired())


def test_a_visit_is_checked_only_when_the_landmark_model_found_the_face_in_most_frames() -> None:
    seen = [screened(s) for s in moving_face(16, 1)]
    unseen = [Sample(s.t, problem="no face landmarks") for s in seen]
    for frames, checked in (
        (seen, True),
        (unseen, False),
        (seen[:8] + unseen[8:], True),
        (seen[:7] + unseen[7:], False),
    ):
        track = LivenessTrack(limits_for(LivenessConfig()))
        for sample in frames:
            track.add(sample)
        verdict = track.verdict(frames[-1].t)
        assert verdict.checked is checked, (len(frames), verdict.cues)
        assert verdict.cues["found"] == sum(s.points is not None for s in frames)


def test_faces_too_small_for_the_motion_test_are_still_screened() -> None:
    """A small picture with a sheet's edges around it is an attack, not merely unproven."""
    small = "face too small for the landmark model (eyes 30 px apart, need 36)"
    track = LivenessTrack(limits_for(LivenessConfig()))
    for i in range(6):
        track.add(screened(Sample(i / 15.0, problem=small, iod_px=30.0), bezel=4))
    verdict = track.verdict(5 / 15.0)
    assert (verdict.state, verdict.cue, verdict.checked) == ("attack", "screen_bezel", True)
    plain = LivenessTrack(limits_for(LivenessConfig()))
    for i in range(6):
        plain.add(screened(Sample(i / 15.0, problem=small, iod_px=30.0)))
    verdict = plain.verdict(5 / 15.0)
    assert (verdict.state, verdict.cue, verdict.checked) == ("not_proven", small, True)


def test_deny_attacks_refuses_a_recognised_face_the_landmark_model_never_found() -> None:
    """Synthetic screens the landmark model cannot see through the display showed no attack
    cue, since nothing was measured, and deny_attacks let them in."""
    frames = [Sample(i / 15.0, problem="no face landmarks") for i in range(56)]
    outcome = decide_recorded(frames, "deny_attacks", LivenessConfig(), limits_for(LivenessConfig()), random.Random(1))
    assert not outcome.judgement.allowed
    assert outcome.judgement.reason.startswith("liveness not checked: the landmark model found the face in 0 of")
    assert outcome.after_s >= LivenessConfig().max_wait_s  # it waited for the face to be seen

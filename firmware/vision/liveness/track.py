"""The liveness accumulator of one visit: samples in, a verdict out.

Each frame of a track becomes a :class:`Sample` (:func:`observe`): the landmarks, or why they
cannot be used; the eye aspect ratio; the screen cues; the operator model's score. The track
compares each usable sample with a few earlier ones (about 0.25, 0.5, 1 and 2 s back) for the
planar-motion test, and reads blinks from the eye aspect ratio. :meth:`LivenessTrack.verdict`
weighs it all at a moment, over the last ``window_s`` seconds:

1. no usable landmarks: ``not_proven`` (no landmarks, or a face too small for the model);
2. a screen cue or the operator model in enough frames: ``attack``;
3. a frame rate under ``min_fps``: ``not_proven`` (motion and blinks are not trusted);
4. enough out-of-plane motion with the nose following the plane: ``attack``
   (``planar_motion``), see :class:`~firmware.vision.liveness.verdict.Thresholds`;
5. the nose leaving the plane as a head's does, in a visit where most pairs moved over the
   noise floor, or a blink: ``live``;
6. otherwise ``not_proven``: no head turn or blink yet.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field, replace

import numpy as np

from firmware.domain import Detection, Image
from firmware.vision.engine import FaceEngine
from firmware.vision.landmarks import FaceMesh
from firmware.vision.liveness import screen
from firmware.vision.liveness.blink import blinks
from firmware.vision.liveness.geometry import Array, eye_aspect_ratio, iod
from firmware.vision.liveness.motion import compare
from firmware.vision.liveness.pad_model import PadModel
from firmware.vision.liveness.verdict import Thresholds, Verdict

REFERENCE_LAGS_S = (0.25, 0.5, 1.0, 2.0)
MIN_PRESENCE = 0.5
SCREEN_EVERY_S = 0.1
MARGIN = 2.0  # standard errors (doubled) a slope must clear its limit by


@dataclass
class Sample:
    """One frame of a track: time (s), landmarks (None when unusable, with ``problem``)."""

    t: float
    points: Array | None = None
    problem: str = ""
    ear: float = 0.0
    iod_px: float = 0.0
    cues: tuple[str, ...] = ()
    screen: screen.ScreenCues | None = None
    pad: float | None = None
    pairs: list[tuple[float, float]] = field(default_factory=list)  # (parallax, plane) against references
    jitter: float | None = None  # plane motion since the previous usable frame: the landmark noise

    @property
    def found(self) -> bool:
        """The landmark model found the face: usable points, or a face measured too small."""
        return self.points is not None or self.iod_px > 0


def observe(
    image: Image,
    face: Detection,
    mesh: FaceMesh | None,
    t: float,
    limits: Thresholds,
    pad: float | None = None,
    screen_cues: bool = True,
) -> Sample:
    """The sample of one frame. ``pad`` is the operator model's live score, if any; the screen
    cues (a few ms) are measured only when ``screen_cues``: every other frame is enough for
    cues that must hold in a quarter of them. A face too small for the motion and blink tests
    is still screened: none of the 197 dev and calibration photos whose eyes are under
    ``min_iod_px`` apart fired a cue (bezel sides at most 1, moiré peak at most 63)."""
    if mesh is None or mesh.presence < MIN_PRESENCE:
        return Sample(t, problem="no face landmarks", pad=pad)
    points = mesh.points.astype(np.float64)
    size = iod(points)
    measured = screen.measure(image, face.box, points) if screen_cues else None
    fired = measured.fired() if measured is not None else ()
    if size < limits.min_iod_px:
        problem = f"face too small for the landmark model (eyes {size:.0f} px apart, need {limits.min_iod_px:.0f})"
        return Sample(t, problem=problem, iod_px=size, cues=fired, screen=measured, pad=pad)
    return Sample(t, points, ear=eye_aspect_ratio(points), iod_px=size, cues=fired, screen=measured, pad=pad)


@dataclass
class LivenessTrack:
    """Samples of one visit (the last ``keep_s`` seconds) and the verdict they support."""

    limits: Thresholds = field(default_factory=Thresholds)
    window_s: float = 5.0
    samples: deque[Sample] = field(default_factory=deque)
    started: float | None = None

    def add(self, sample: Sample) -> None:
        """Add the next frame's sample (times must not go back)."""
        if self.started is None:
            self.started = sample.t
        if sample.points is not None:
            self._motion(sample)
        self.samples.append(sample)
        keep = self.window_s + max(REFERENCE_LAGS_S)
        while self.samples and self.samples[0].t < sample.t - keep:
            self.samples.popleft()

    def screen_due(self, t: float) -> bool:
        """Whether the frame at ``t`` should measure the screen cues (about every other frame
        at 15 fps: the last measurement is at least 0.1 s old)."""
        last = next((s.t for s in reversed(self.samples) if s.screen is not None), None)
        return last is None or t - last >= SCREEN_EVERY_S

    def _motion(self, sample: Sample) -> None:
        assert sample.points is not None
        sample.pairs, sample.jitter = [], None  # a sample replayed into another track starts afresh
        usable = [s for s in self.samples if s.points is not None]
        if not usable:
            return
        previous = usable[-1]
        assert previous.points is not None
        sample.jitter = compare(previous.points, sample.points).plane
        refs: list[Sample] = []
        for lag in REFERENCE_LAGS_S:
            older = [s for s in usable if s.t <= sample.t - lag + 1e-6]
            if older and older[-1] not in refs:
                refs.append(older[-1])
        for ref in refs:
            assert ref.points is not None
            pair = compare(ref.points, sample.points)
            sample.pairs.append((pair.parallax, pair.plane))

    def verdict(self, now: float) -> Verdict:
        """The verdict over the samples of the last ``window_s`` seconds up to ``now``.

        ``checked`` says whether the cues could look at all: the landmark model found the face
        in ``min_found_share`` of the frames. It found the face on every one of the 3 282 dev
        and calibration photos whose face passes the quality gates, while synthetic screens,
        prints and replays hid it from the model in most frames of some visits (seed-7 bench
        sequences: 23 of 148 screens, 17 of 150 replays), where no cue was measured: a visit
        the cues could not see is not one that showed no attack."""
        limits = self.limits
        recent = [s for s in self.samples if now - self.window_s <= s.t <= now]
        found = [s for s in recent if s.found]
        usable = [s for s in found if s.points is not None]
        measured = [s for s in found if s.screen is not None]
        checked = bool(recent) and len(found) >= limits.min_found_share * len(recent)
        cues: dict[str, object] = {"frames": len(recent), "found": len(found), "usable": len(usable)}
        for name in screen.CUES:
            hits = sum(name in s.cues for s in measured)
            cues[name] = hits
            if hits >= limits.cue_frames and hits >= limits.cue_fraction * len(measured):
                return Verdict("attack", name, now, cues=cues, checked=True)
        scores = [s.pad for s in recent if s.pad is not None]
        if scores:
            cues["pad_model"] = round(float(np.mean(scores)), 3)
            if len(scores) >= limits.cue_frames and float(np.mean(scores)) < limits.pad_threshold:
                return Verdict("attack", "pad_model", now, cues=cues, checked=True)
        if not usable:
            problem = next((s.problem for s in reversed(recent) if s.problem), "no face landmarks")
            return Verdict("not_proven", problem, now, cues=cues, checked=checked)
        fps = (
            (len(recent) - 1) / (recent[-1].t - recent[0].t) if len(recent) > 1 and recent[-1].t > recent[0].t else 0.0
        )
        cues["fps"] = round(fps, 1)
        if len(recent) < 3:
            return Verdict("not_proven", "too few frames yet", now, cues=cues, checked=checked)
        if fps < limits.min_fps:
            reason = f"frame rate {fps:.1f} fps below {limits.min_fps:g}"
            return Verdict("not_proven", reason, now, cues=cues, checked=checked)
        return replace(self._temporal(usable, now, cues), checked=checked)

    def _temporal(self, usable: list[Sample], now: float, cues: dict[str, object]) -> Verdict:
        limits = self.limits
        jitter = [s.jitter for s in usable if s.jitter is not None]
        floor = max(limits.min_plane_motion, limits.noise_factor * float(np.median(jitter))) if jitter else 1.0
        every = [(s.t, p, q) for s in usable for p, q in s.pairs]
        informative = [x for x in every if x[2] >= floor]
        found = blinks([(s.t, s.ear) for s in usable], limits.blink_ratio, limits.blink_max_s)
        share = len(informative) / len(every) if every else 0.0
        cues.update(pairs=len(informative), plane_floor=round(floor, 4), motion_share=round(share, 2))
        cues.update(blinks=len(found))
        turns: list[float] = []
        if len(informative) >= limits.min_pairs:
            p = np.array([x[1] for x in informative])
            q = np.array([x[2] for x in informative])
            # the median ratio, so that a few pairs spoiled by one bad frame cannot carry it; its
            # spread from the median absolute deviation, doubled because pairs share frames
            ratios = p / q
            slope = float(np.median(ratios))
            spread = 2.0 * 1.4826 * float(np.median(np.abs(ratios - slope))) / float(np.sqrt(len(ratios)))
            cues.update(slope=round(slope, 3), slope_error=round(spread, 3), parallax=round(float(np.median(p)), 4))
            if slope + MARGIN * spread <= limits.flat_slope:
                return Verdict("attack", "planar_motion", now, cues=cues)
            if (
                share >= limits.min_motion_share
                and slope - MARGIN * spread >= limits.live_slope
                and float(np.median(p)) >= limits.live_parallax
            ):
                turns = sorted(
                    {t for t, pp, qq in informative if pp >= limits.live_slope * qq and pp >= limits.live_parallax}
                )
        events = sorted([("turn", t) for t in turns] + [("blink", t) for t in found], key=lambda e: e[1])
        if events:
            return Verdict("live", "parallax" if events[0][0] == "turn" else "blink", now, tuple(events), cues)
        return Verdict("not_proven", "no head turn or blink yet", now, cues=cues)


def sample_frame(
    engine: FaceEngine,
    image: Image,
    t: float,
    limits: Thresholds,
    pad: PadModel | None = None,
    screen_cues: bool = True,
) -> Sample | None:
    """The sample of the largest face in a frame, as the door takes it; None when no face is
    found. For recorded sessions and the bench (the door loop samples every tracked face)."""
    faces = engine.faces(image, embed=False)
    if not faces:
        return None
    face = faces[0]
    mesh = engine.mesh(image, face)
    score = pad.score(image, face.detection) if pad is not None else None
    return observe(image, face.detection, mesh, t, limits, score, screen_cues)

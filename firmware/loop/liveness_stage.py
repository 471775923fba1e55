"""The door loop's liveness stage: per-track accumulators, visits waiting for evidence, and the
challenge shown on the LEDs.

The loop hands every tracked face of every frame to :meth:`LivenessStage.observe` (turned
heads too: a turn is evidence, though it fails the recognition quality gates), tells the stage
when a track is recognised, and asks :meth:`LivenessStage.judge` each frame until the policy's
judgement is final. A track that ends first is judged on what it showed. Challenges are timed
with the operating system's random source, so an attacker cannot predict them.
"""

from __future__ import annotations

import logging
import random
from dataclasses import dataclass, replace
from typing import Any

from firmware.config import Config
from firmware.domain import Frame, Image, LivenessVerdict
from firmware.errors import ModelError
from firmware.loop.tracker import Track
from firmware.policy.liveness import Judgement, LivenessRules, Visit, limits_for
from firmware.recognition.recogniser import Identified
from firmware.vision.engine import Face, FaceEngine
from firmware.vision.liveness.pad_model import PadModel
from firmware.vision.liveness.track import LivenessTrack, observe

log = logging.getLogger(__name__)
Held = tuple[Frame, Face, Track, Identified]
"""A decided visit waiting for its liveness judgement: the frame, face, track and recognition."""


@dataclass(frozen=True)
class LivenessResult:
    """A final judgement with the verdict it rests on, as recorded with the decision."""

    policy: str
    allowed: bool
    reason: str
    state: LivenessVerdict | None  # None: not checked (policy off)
    record: dict[str, Any]


class LivenessStage:
    """Liveness for one door.

    Raises:
        ConfigError: a bad ``[liveness] roles`` line.
        ModelError: the configured presentation-attack model is missing or unusable.
    """

    def __init__(self, config: Config, engine: FaceEngine) -> None:
        self.config = config.liveness
        self.rules = LivenessRules.from_config(config.liveness)
        self.engine = engine
        self.pad = self._load_pad(config)
        self.limits = limits_for(config.liveness, self.pad.manifest.threshold if self.pad else 0.5)
        self.tracks: dict[int, LivenessTrack] = {}
        self.visits: dict[int, Visit] = {}
        self.held: dict[int, Held] = {}
        self.rng = random.SystemRandom()

    def _load_pad(self, config: Config) -> PadModel | None:
        if not config.liveness.pad_model:
            return None
        vision = config.active_vision()
        folder = vision.models_folder()
        return PadModel.load(folder, config.liveness.pad_model)

    def use_engine(self, config: Config, engine: FaceEngine) -> None:
        """New models (an update or a rollback): tracks restart with the loop's; the
        presentation-attack model is reloaded from the new folder, or kept if it fails there."""
        self.engine = engine
        self.tracks.clear()
        self.visits.clear()
        self.held.clear()
        try:
            self.pad = self._load_pad(config)
        except ModelError as err:
            log.error("liveness: keeping the previous presentation-attack model: %s", err)

    def observe(self, image: Image, t: float, face: Face, track: int) -> None:
        """Add one frame's face to its track's accumulator (nothing when every policy is off)."""
        if not self.rules.needed:
            return
        mesh = self.engine.mesh(image, face)
        score = self.pad.score(image, face.detection) if self.pad is not None else None
        accumulator = self.tracks.setdefault(track, LivenessTrack(self.limits, self.config.window_s))
        accumulator.add(observe(image, face.detection, mesh, t, self.limits, score, accumulator.screen_due(t)))

    def hold(self, held: Held, role: str | None, admitted: bool) -> None:
        """Keep a decided visit (frame, face, track, recognition) until :meth:`release` lets it
        go. Only a person the access policy would admit waits for liveness evidence, under their
        role's policy; strangers and refused people are released at the next frame."""
        frame, _face, track, _found = held
        self.held[track.id] = held
        if admitted:
            self.recognised(track.id, frame.captured_at, role)

    def release(self, frame: Frame, ended: set[int]) -> list[tuple[Held, LivenessResult]]:
        """The held visits whose judgement is final at ``frame`` (or whose track ended), each
        with its frame's time and index moved to ``frame``; ended tracks are forgotten."""
        out = []
        for track_id in list(self.held):
            gone = track_id in ended
            result = self.judge(track_id, frame.captured_at, ended=gone)
            if result is None and track_id in self.visits and not gone:
                continue
            held_frame, face, track, found = self.held.pop(track_id)
            result = result or self._unjudged(track_id, frame.captured_at)
            out.append(
                ((replace(held_frame, captured_at=frame.captured_at, index=frame.index), face, track, found), result)
            )
        for track_id in ended:
            self.forget(track_id)
        return out

    def _unjudged(self, track: int, now: float) -> LivenessResult:
        """The verdict so far, for decisions that need no liveness (strangers, people the
        access policy refuses anyway)."""
        if not self.rules.needed:
            return LivenessResult("off", True, "", None, {"policy": "off", "verdict": None})
        accumulator = self.tracks.get(track) or LivenessTrack(self.limits, self.config.window_s)
        verdict = accumulator.verdict(now)
        return LivenessResult(self.rules.default, True, "", verdict.state, verdict.record(self.rules.default))

    def recognised(self, track: int, t: float, role: str | None) -> None:
        """The track's person was recognised at ``t``; their role picks the policy."""
        accumulator = self.tracks.get(track)
        started = accumulator.started if accumulator is not None and accumulator.started is not None else t
        visit = Visit(self.rules.policy_for(role), self.config, started, self.rng)
        visit.recognised(t)
        self.visits[track] = visit

    def judge(self, track: int, now: float, ended: bool = False) -> LivenessResult | None:
        """The final result for a recognised track, or None while it must wait."""
        visit = self.visits.get(track)
        if visit is None:
            return None
        accumulator = self.tracks.get(track) or LivenessTrack(self.limits, self.config.window_s)
        verdict = accumulator.verdict(now)
        judgement: Judgement = visit.end(verdict) if ended else visit.step(verdict)
        if not judgement.final:
            return None
        del self.visits[track]
        if visit.policy == "off":
            return LivenessResult("off", True, judgement.reason, None, {"policy": "off", "verdict": None})
        record = verdict.record(visit.policy)
        if visit.challenge is not None:
            record["challenge"] = {"kind": visit.challenge.kind, "shown_at": round(visit.challenge.shown_at, 3)}
        record["reason"] = judgement.reason
        return LivenessResult(visit.policy, judgement.allowed, judgement.reason, verdict.state, record)

    def forget(self, track: int) -> None:
        """The track ended."""
        self.tracks.pop(track, None)
        self.visits.pop(track, None)
        self.held.pop(track, None)

    def led(self) -> str | None:
        """The LED pattern of a challenge waiting for its answer, if any."""
        for visit in self.visits.values():
            pattern = visit.led()
            if pattern is not None:
                return pattern
        return None

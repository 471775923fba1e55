"""What a liveness verdict allows at the door: a pure function of the policy, the verdict and
how long the visit has been watched.

``off`` never looks. ``deny_attacks`` refuses a proven attack and otherwise grants once the
visit has been watched ``observe_s`` (or at once on live evidence), provided the cues could look
at the face (:attr:`Verdict.checked`); a visit they cannot see is held up to ``max_wait_s``
after recognition and then refused, since the attacks the landmark model cannot see would
otherwise walk through. A visit where a screen or print cue fired in a frame, too few to prove
an attack, is watched up to ``max_wait_s`` too, and granted if the cue does not come back: a
phone or a sheet moved about shows its edges now and then, while none of the dev and
calibration photos fired a cue even once, nor did any synthetic render of a head. ``require_live`` grants only
on live evidence (head-motion parallax or a blink within ``window_s``) and waits up to
``max_wait_s`` after recognition for it. ``challenge`` grants only on the evidence the LEDs asked
for, after they asked. No policy grants on ``attack``. Per-role policies override the default.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass

from firmware.config.liveness import LivenessConfig
from firmware.errors import ConfigError
from firmware.vision.liveness import screen
from firmware.vision.liveness.track import LivenessTrack, Sample
from firmware.vision.liveness.verdict import Thresholds, Verdict

POLICIES = ("off", "deny_attacks", "require_live", "challenge")


@dataclass(frozen=True)
class Judgement:
    """The policy's answer: ``final`` False means wait for more frames; ``allowed`` is only
    meaningful when final."""

    final: bool
    allowed: bool
    reason: str


@dataclass(frozen=True)
class Challenge:
    """A request shown on the LEDs: ``turn`` or ``blink``, from ``shown_at`` (s)."""

    kind: str
    shown_at: float


WAIT = Judgement(False, False, "waiting for liveness evidence")
REACTION_S = 0.2
"""Evidence earlier than this after a challenge is shown cannot be an answer to it."""


def parse_roles(lines: tuple[str, ...]) -> dict[str, str]:
    """``'ROLE POLICY'`` lines to a role -> policy map.

    Raises:
        ConfigError: a malformed line or an unknown policy, naming it.
    """
    roles: dict[str, str] = {}
    for line in lines:
        parts = line.split()
        if len(parts) != 2 or parts[1] not in POLICIES:
            raise ConfigError([("liveness.roles", f"{line!r}: expected 'ROLE POLICY', POLICY one of {POLICIES}")])
        roles[parts[0]] = parts[1]
    return roles


@dataclass(frozen=True)
class LivenessRules:
    """The default policy and the per-role ones."""

    default: str
    roles: dict[str, str]
    config: LivenessConfig

    @classmethod
    def from_config(cls, config: LivenessConfig) -> LivenessRules:
        """Build from ``[liveness]``; raises ConfigError for a bad role line."""
        return cls(config.policy, parse_roles(config.roles), config)

    def policy_for(self, role: str | None) -> str:
        """The policy of ``role`` (the default for no role or an unlisted one)."""
        return self.roles.get(role or "", self.default)

    @property
    def needed(self) -> bool:
        """False when every policy is ``off``: the door need not compute any cue."""
        return any(p != "off" for p in (self.default, *self.roles.values()))


def judge(
    policy: str,
    verdict: Verdict,
    watched_s: float,
    waited_s: float,
    config: LivenessConfig,
    challenge: Challenge | None = None,
) -> Judgement:
    """Whether ``verdict`` lets a recognised, otherwise allowed person in under ``policy``.

    Args:
        watched_s: time since the visit's first frame.
        waited_s: time since the person was recognised.
        challenge: the challenge shown for this visit (``challenge`` policy), if shown yet.
    """
    if policy == "off":
        return Judgement(True, True, "liveness not checked (policy off)")
    if verdict.state == "attack":
        return Judgement(True, False, f"presentation attack: {verdict.cue}")
    timed_out = waited_s >= config.max_wait_s
    if policy == "deny_attacks":
        return _deny_attacks(verdict, watched_s >= config.observe_s, timed_out)
    if policy == "require_live":
        if verdict.state == "live":
            return Judgement(True, True, f"live ({verdict.cue})")
        return Judgement(True, False, f"liveness not proven: {verdict.cue}") if timed_out else WAIT
    if challenge is None:
        return Judgement(True, False, f"challenge not shown: {verdict.cue}") if timed_out else WAIT
    answered = [t for kind, t in verdict.events if kind == challenge.kind and t >= challenge.shown_at + REACTION_S]
    if answered and answered[0] <= challenge.shown_at + config.challenge_response_s:
        return Judgement(True, True, f"live: {challenge.kind} on request")
    if verdict.now > challenge.shown_at + config.challenge_response_s:
        return Judgement(
            True, False, f"challenge not answered: no {challenge.kind} within {config.challenge_response_s:g} s"
        )
    return WAIT


def _deny_attacks(verdict: Verdict, watched: bool, timed_out: bool) -> Judgement:
    """deny_attacks on a verdict that is not an attack: ``watched`` for ``observe_s``,
    ``timed_out`` after ``max_wait_s`` from recognition."""
    if verdict.state == "live":
        return Judgement(True, True, f"live ({verdict.cue})")
    if not watched or (not timed_out and (suspected(verdict) or not verdict.checked)):
        return WAIT
    if not verdict.checked:
        return Judgement(True, False, unchecked(verdict))
    return Judgement(True, True, f"no attack cue; liveness not proven ({verdict.cue})")


def suspected(verdict: Verdict) -> bool:
    """A screen or print cue fired in some frame, too few to prove an attack yet."""
    return any(int(verdict.cues.get(name, 0)) > 0 for name in screen.CUES)


def unchecked(verdict: Verdict) -> str:
    """Why deny_attacks refuses a visit the cues could not look at."""
    frames, found = verdict.cues.get("frames", 0), verdict.cues.get("found", 0)
    return f"liveness not checked: the landmark model found the face in {found} of {frames} frames ({verdict.cue})"


QUIET_S = 1.0
"""A challenge asks for what the face has not done in the last second (a video that blinks or
turns all the time cannot answer at the right moment)."""
KINDS = ("turn", "blink")


class Visit:
    """One visit under one policy: when the door may decide, and what the LEDs should ask.

    Pure apart from ``rng`` (which picks the challenge's moment and kind): the door loop, the
    bench and ``occur pad report`` drive it alike. Times are the frames' clock, seconds.
    """

    def __init__(
        self,
        policy: str,
        config: LivenessConfig,
        started_at: float,
        rng: random.Random,
        planned: Challenge | None = None,
    ) -> None:
        self.planned = planned  # a recorded session's challenge, shown when its time comes
        self.policy = policy
        self.config = config
        self.started_at = started_at
        self.rng = rng
        self.recognised_at: float | None = None
        self.challenge: Challenge | None = None
        self._show_at: float | None = None

    def recognised(self, t: float) -> None:
        """The person was recognised at ``t``; a challenge is scheduled at a random moment."""
        if self.recognised_at is None:
            self.recognised_at = t
            if self.policy == "challenge":
                self._show_at = t + self.rng.uniform(0.3, self.config.challenge_delay_s)

    def step(self, verdict: Verdict) -> Judgement:
        """The judgement at ``verdict.now`` (after :meth:`recognised`)."""
        assert self.recognised_at is not None
        now = verdict.now
        if self.policy == "challenge" and self.challenge is None and verdict.state != "attack":
            self._maybe_show(verdict)
        return judge(self.policy, verdict, now - self.started_at, now - self.recognised_at, self.config, self.challenge)

    def end(self, verdict: Verdict) -> Judgement:
        """The face left before a final judgement: decide on what was seen."""
        judgement = self.step(verdict)
        if judgement.final:
            return judgement
        if self.policy == "deny_attacks":
            why = f"no attack cue; liveness not proven ({verdict.cue})" if verdict.checked else unchecked(verdict)
            return Judgement(True, verdict.checked, f"{why}; visit ended")
        return Judgement(True, False, f"liveness not proven before the visit ended: {verdict.cue}")

    def _maybe_show(self, verdict: Verdict) -> None:
        assert self.recognised_at is not None and self._show_at is not None
        now = verdict.now
        if self.planned is not None:
            if now >= self.planned.shown_at:
                self.challenge = self.planned
            return
        if now < self._show_at or now - self.recognised_at >= self.config.max_wait_s:
            return
        recent = {kind for kind, t in verdict.events if t >= now - QUIET_S}
        kinds = [k for k in KINDS if k not in recent]
        if not kinds:
            self._show_at = now + self.rng.uniform(0.3, self.config.challenge_delay_s)
            return
        self.challenge = Challenge(self.rng.choice(kinds), now)

    def led(self) -> str | None:
        """The LED pattern a shown, unanswered challenge needs: ``challenge_turn`` or
        ``challenge_blink``; None otherwise."""
        return None if self.challenge is None else f"challenge_{self.challenge.kind}"


def limits_for(config: LivenessConfig, pad_threshold: float = 0.5) -> Thresholds:
    """The cue thresholds with the ``[liveness]`` overrides."""
    return Thresholds(
        blink_ratio=config.blink_ratio,
        min_fps=config.min_fps,
        min_iod_px=config.min_iod_px,
        pad_threshold=pad_threshold,
    )


@dataclass(frozen=True)
class Outcome:
    """How a recorded visit ends under one policy: the judgement, the verdict it rests on and
    the time from recognition to the judgement (s)."""

    judgement: Judgement
    verdict: Verdict
    after_s: float


def decide_recorded(
    samples: Sequence[Sample],
    policy: str,
    config: LivenessConfig,
    limits: Thresholds,
    rng: random.Random,
    recognised_index: int = 2,
    planned: Challenge | None = None,
) -> Outcome:
    """Replay a visit's samples through the accumulator and the policy as the door does, the
    person recognised at sample ``recognised_index``; a visit that ends first is judged on
    what it showed. For the bench and ``occur pad report``. Raises ValueError on no samples."""
    if not samples:
        raise ValueError("a visit needs at least one frame")
    track = LivenessTrack(limits, config.window_s)
    visit = Visit(policy, config, samples[0].t, rng, planned)
    at = min(recognised_index, len(samples) - 1)
    for i, sample in enumerate(samples):
        track.add(sample)
        if i == at:
            visit.recognised(sample.t)
        if i >= at:
            verdict = track.verdict(sample.t)
            judgement = visit.step(verdict)
            if judgement.final:
                return Outcome(judgement, verdict, sample.t - samples[at].t)
    verdict = track.verdict(samples[-1].t)
    return Outcome(visit.end(verdict), verdict, samples[-1].t - samples[at].t)

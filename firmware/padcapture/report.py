"""``occur pad report``: APCER per attack species and BPCER from the recorded sessions.

Each session is one presentation. Its frames go through the door's detector, landmark model
and liveness cues with their recorded timing, and each policy judges it as the door would,
the person taken as recognised at the third frame with a face. As ISO/IEC 30107-3 defines them:

- APCER of a species: attack presentations of that species the door would have accepted, over
  that species' attack presentations; the system's APCER is the worst species';
- BPCER: bona fide presentations the door would have refused, over bona fide presentations.

A session whose face is found in fewer than three frames is a failure to acquire, counted
apart. The ``challenge`` policy is judged only on sessions recorded with a challenge. Each rate
comes with its one-sided 95 % Clopper-Pearson upper bound: with few sessions it is wide, and it
says so.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field

from firmware.config import Config
from firmware.padcapture.sessions import frames, sessions
from firmware.padcapture.stats import clopper_pearson_upper
from firmware.policy.liveness import POLICIES, Challenge, decide_recorded, limits_for
from firmware.store.pad_sessions import Session
from firmware.store.store import Store
from firmware.vision.engine import FaceEngine
from firmware.vision.liveness.pad_model import PadModel
from firmware.vision.liveness.track import Sample, sample_frame
from firmware.vision.liveness.verdict import Thresholds


@dataclass
class Rate:
    """Errors over presentations, with the upper bound."""

    errors: int = 0
    presentations: int = 0

    @property
    def value(self) -> float | None:
        """The error rate; None with no presentation."""
        return self.errors / self.presentations if self.presentations else None

    @property
    def upper(self) -> float | None:
        """One-sided 95 % Clopper-Pearson upper bound; None with no presentation."""
        return clopper_pearson_upper(self.errors, self.presentations) if self.presentations else None


@dataclass
class PolicyResult:
    """One policy's figures: APCER per species, the worst of them, and BPCER."""

    policy: str
    apcer: dict[str, Rate] = field(default_factory=dict)
    bpcer: Rate = field(default_factory=Rate)

    @property
    def worst(self) -> tuple[str, Rate] | None:
        """The species with the highest APCER (ties: the smaller sample, the wider bound)."""
        measured = [(s, r) for s, r in self.apcer.items() if r.presentations]
        if not measured:
            return None
        return max(measured, key=lambda item: (item[1].value or 0.0, item[1].upper or 0.0))


@dataclass
class PadReport:
    """Every policy's result and the sessions that could not be acquired."""

    results: dict[str, PolicyResult] = field(default_factory=dict)
    sessions: int = 0
    not_acquired: list[int] = field(default_factory=list)
    decisions: list[tuple[int, str, str, bool, str]] = field(default_factory=list)  # id, species, policy, ok, why


def evaluate(
    config: Config,
    store: Store,
    engine: FaceEngine,
    pad: PadModel | None = None,
    progress: Callable[[str], None] | None = None,
) -> PadReport:
    """Judge every recorded session under every policy other than ``off``."""
    limits = limits_for(config.liveness, pad.manifest.threshold if pad is not None else 0.5)
    report = PadReport()
    for session in sessions(store):
        report.sessions += 1
        samples = _samples(config, store, engine, session, limits, pad)
        if progress is not None:
            progress(f"session {session.id} ({session.species}): {len(samples)} frames with a face")
        if len(samples) < 3:
            report.not_acquired.append(session.id)
            continue
        planned = (
            Challenge(session.challenge["kind"], float(session.challenge["shown_at"])) if session.challenge else None
        )
        for policy in POLICIES[1:]:
            if policy == "challenge" and planned is None:
                continue
            rng = random.Random(session.id)  # noqa: S311 - only the recorded challenge is used
            outcome = decide_recorded(samples, policy, config.liveness, limits, rng, planned=planned)
            result = report.results.setdefault(policy, PolicyResult(policy))
            accepted = outcome.judgement.allowed
            if session.attack:
                rate = result.apcer.setdefault(session.species, Rate())
                rate.presentations += 1
                rate.errors += int(accepted)
            else:
                result.bpcer.presentations += 1
                result.bpcer.errors += int(not accepted)
            correct = accepted != session.attack
            report.decisions.append((session.id, session.species, policy, correct, outcome.judgement.reason))
    return report


def _samples(
    config: Config, store: Store, engine: FaceEngine, session: Session, limits: Thresholds, pad: PadModel | None
) -> list[Sample]:
    found: list[Sample] = []
    last = None
    for t, image in frames(config, store, session):
        due = last is None or t - last >= 0.1  # as the door measures the screen cues
        sample = sample_frame(engine, image, t, limits, pad, screen_cues=due)
        last = t if due else last
        if sample is not None:
            found.append(sample)
    return found

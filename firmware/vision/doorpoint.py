"""The door's operating point: the threshold for a stranger-accept rate at the current gallery.

A door compares each visitor with every enrolled user, so the chance that a stranger is named
as someone grows with the gallery. The target is per visit (``[vision] stranger_accept_rate``,
default 0.001): the threshold is the largest one whose bound on stranger accepts, summed over the
enrolled users with their sample counts and multiplied by the transfer margin, stays at or under
it (see :meth:`firmware.vision.farcurve.CurveSet.threshold_for`). It is recomputed whenever the
gallery changes. A fixed ``[vision] threshold`` overrides it, with a warning when the curve says
it lets in more strangers than the target.

The door names nobody (``closed`` says why) when there is no usable calibration or the gallery
holds fewer than ``[vision] min_people`` people (default :data:`MIN_PEOPLE`): with one person
there is no second-best user, so the margin rule, the door's defence against look-alikes and
against a stranger who resembles someone, cannot work. An installer who accepts that (a door for
one person) sets ``min_people = 1``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

from firmware.vision.farcurve import CurveSet, DoorCalibration

MIN_PEOPLE = 2


@dataclass(frozen=True)
class DoorPoint:
    """What the door decides with, for ``occur status``, the retained MQTT status and consoles.

    ``threshold`` is the fused score under which the best user may be named (None when closed);
    ``expected_rate`` the predicted share of stranger visits named as someone, with the transfer
    margin (``calibration_rate``: on the calibration photos); ``source`` is ``curve`` or
    ``override``; ``closed`` the reason nobody is named, if so; ``warnings`` what an installer
    should know (an override above the target, a target below what the curve can promise).
    """

    people: int
    samples: int
    target_rate: float
    threshold: float | None
    expected_rate: float | None
    calibration_rate: float | None
    source: str
    closed: str | None = None
    warnings: tuple[str, ...] = field(default_factory=tuple)
    too_few_people: bool = False  # closed only because enrolment has not reached min_people yet

    def status_fields(self) -> dict[str, object]:
        """Flat keys for the status document."""
        return {
            "gallery_people": self.people,
            "gallery_samples": self.samples,
            "door_threshold": None if self.threshold is None else round(self.threshold, 4),
            "threshold_source": self.source,
            "stranger_accept_target": self.target_rate,
            "stranger_accept_expected": None if self.expected_rate is None else float(f"{self.expected_rate:.3g}"),
            "recognition": "names nobody: " + self.closed if self.closed else "ok",
            "recognition_warnings": list(self.warnings),
        }


def door_point(
    curves: CurveSet | None,
    problem: str | None,
    samples: Sequence[int],
    target: float,
    override: float = 0.0,
    min_people: int = MIN_PEOPLE,
) -> DoorPoint:
    """The operating point for a gallery whose users hold ``samples`` samples each.

    Args:
        curves: the calibration for the loaded models, None when unusable (``problem`` says why).
        target: stranger visits named as someone, at most (per visit).
        override: a fixed threshold (``[vision] threshold``), 0 = derive from the curve.
        min_people: fewer enrolled people than this and nobody is named.
    """
    people, total = len(samples), int(sum(samples))
    source = "override" if override > 0 else "curve"
    if curves is None or problem:
        return DoorPoint(people, total, target, None, None, None, source, problem or "no calibration")
    if not (math.isfinite(target) and 0 < target < 1) or not math.isfinite(override):
        return DoorPoint(people, total, target, None, None, None, source, "the stranger-accept target is not usable")
    if people < max(min_people, 1):
        reason = (
            f"the gallery holds {people} {'person' if people == 1 else 'people'}; at least {max(min_people, 1)} "
            "are needed ([vision] min_people; the margin rule needs a second-best): enrol another person"
        )
        return DoorPoint(people, total, target, None, None, None, source, reason, too_few_people=True)
    warnings: list[str] = []
    threshold = override if override > 0 else curves.threshold_for(target, samples)
    calibration_rate, expected = curves.stranger_rate(threshold, samples)
    if override > 0 and expected > target:
        warnings.append(
            f"the fixed threshold {override:.4f} lets in about {expected:.2g} of stranger visits at {people} people, "
            f"more than the target {target:g} (the curve gives {curves.threshold_for(target, samples):.4f})"
        )
    elif expected > target:
        warnings.append(
            f"even the lowest calibrated threshold lets in about {expected:.2g} of stranger visits at {people} people, "
            f"more than the target {target:g}"
        )
    return DoorPoint(people, total, target, threshold, expected, calibration_rate, source, None, tuple(warnings))


@dataclass(frozen=True)
class DoorRule:
    """The calibration and the settings the door derives its operating point from."""

    calibration: DoorCalibration
    target: float = 0.001
    override: float = 0.0
    min_people: int = MIN_PEOPLE

    def point(self, samples: Sequence[int]) -> DoorPoint:
        """The operating point for a gallery whose users hold ``samples`` samples each."""
        curves, problem = self.calibration.curves, self.calibration.problem
        return door_point(curves, problem, samples, self.target, self.override, self.min_people)

    def one_to_one(self, samples: int) -> float | None:
        """Threshold for checking one claimed identity (``occur verify``, ``eval-pairs``): one
        comparison with a user of ``samples`` samples may accept a stranger at most ``target``
        of the time. None when the calibration is unusable."""
        curves = self.calibration.curves
        if curves is None or self.calibration.problem:
            return None
        return self.override if self.override > 0 else curves.threshold_for(self.target, [max(samples, 1)])

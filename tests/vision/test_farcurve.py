"""The door's calibration file and operating point: validation, monotone curves, a threshold that
falls as the gallery grows, fail-closed on bad files and small galleries, the override warning.

Curves here are synthetic (an exponential tail); the shipped file is checked in
tests/recognition/test_door_point.py."""

from __future__ import annotations

import itertools
import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from firmware.vision.doorpoint import MIN_PEOPLE, DoorRule, door_point
from firmware.vision.farcurve import FORMAT, CurveSet, FarCurve, load_door_calibration, parse
from occur_dev.bench.tailfit import fit_gpd, fit_lower_tail

MODELS = {"sface": "a" * 64, "dlib": "b" * 64}


def curve_entry(samples: int = 1, scale: float = 0.1, shas: list[str] | None = None) -> dict[str, Any]:
    """FAR(t) = 0.5 exp((t - 1.5) / scale) for k = 1, k times that for k samples."""
    far = [10.0**e for e in np.arange(-9.0, -0.3, 0.25)]
    return {
        "models": ["dlib", "sface"],
        "sha256": shas or [MODELS["dlib"], MODELS["sface"]],
        "weights": [0.3, 0.7],
        "samples": samples,
        "measured_floor": 1e-3,
        "threshold": [1.5 + scale * math.log(min(f / samples, 1.0) / 0.5) for f in far],
        "far": far,
    }


def document(**changes: Any) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "format": FORMAT,
        "transfer": [[1e-5, 2.0], [1e-4, 1.4]],
        "models": [
            {"name": "sface", "sha256": MODELS["sface"], "genuine_mean": 0.36, "impostor_mean": 0.96},
            {"name": "dlib", "sha256": MODELS["dlib"], "genuine_mean": 0.42, "impostor_mean": 0.86},
        ],
        "curves": [curve_entry(1), curve_entry(3)],
    }
    doc.update(changes)
    return doc


def curves() -> CurveSet:
    return parse(document(), MODELS)[1]


def test_the_curve_is_monotone_and_its_inverse_agrees() -> None:
    curve = curves().curves[1]
    ts = np.linspace(curve.thresholds[0], curve.thresholds[-1], 200)
    fars = [curve.far_at(float(t)) for t in ts]
    assert all(b >= a for a, b in itertools.pairwise(fars))
    for far in (1e-3, 1e-5, 1e-7):
        assert curve.far_at(curve.threshold_at(far)) == pytest.approx(far, rel=1e-6)
    assert curve.far_at(curve.thresholds[-1] + 1) == 1.0 and curve.far_at(math.nan) == 1.0


def test_the_threshold_falls_as_the_gallery_grows() -> None:
    cs = curves()
    thresholds = [cs.threshold_for(0.001, [1] * n) for n in (2, 10, 100, 1000, 10000)]
    assert all(b < a for a, b in itertools.pairwise(thresholds))
    for n, t in zip((2, 10, 100, 1000, 10000), thresholds, strict=True):
        raw, expected = cs.stranger_rate(t, [1] * n)
        assert expected <= 0.001 * (1 + 1e-6) and raw < expected  # the transfer margin is applied


def test_more_samples_per_person_lower_the_threshold() -> None:
    cs = curves()
    assert cs.threshold_for(0.001, [3] * 100) < cs.threshold_for(0.001, [1] * 100)
    # counts without a curve use the next larger one, beyond the largest scale it
    assert cs.per_user_far(0.5, 2) == cs.curves[3].far_at(0.5)
    assert cs.per_user_far(0.5, 6) == pytest.approx(2 * cs.curves[3].far_at(0.5))


def test_the_transfer_margin_follows_the_measured_points() -> None:
    cs = curves()
    assert cs.transfer_factor(1e-3) == 1.4 and cs.transfer_factor(1e-7) == 2.0
    assert 1.4 < cs.transfer_factor(3e-5) < 2.0


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"format": 1}, "format 1"),
        ({"models": "x"}, "must be lists"),
        ({"curves": [{**curve_entry(), "far": list(reversed(curve_entry()["far"]))}]}, "not increasing"),
        ({"curves": [{**curve_entry(), "threshold": [math.nan] * 35}]}, "finite"),
        ({"curves": [{**curve_entry(), "weights": [0.5, 0.6]}]}, "add up to 1"),
        ({"curves": [curve_entry(shas=["c" * 64, MODELS["sface"]])]}, "made for other model files: no curve"),
        ({"models": [{"name": "sface", "sha256": "c" * 64, "genuine_mean": 0.3, "impostor_mean": 0.9}]}, "nothing for"),
    ],
)
def test_a_bad_calibration_is_refused_naming_why(changes: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse(document(**changes), MODELS)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "is missing"),
        ("{not json", "is corrupt"),
        (json.dumps(document(format=1)), "is corrupt: format 1"),
        (json.dumps(document()).replace(str(MODELS["sface"]), "d" * 64), "made for other model files"),
    ],
)
def test_a_missing_corrupt_or_foreign_file_closes_the_door(tmp_path: Path, content: str | None, message: str) -> None:
    if content is not None:
        (tmp_path / "fusion.json").write_text(content)
    calibration = load_door_calibration(tmp_path, MODELS)
    assert calibration.curves is None and calibration.problem is not None and message in calibration.problem
    point = DoorRule(calibration).point([1] * 50)
    assert point.threshold is None and point.closed == calibration.problem
    assert DoorRule(calibration, override=0.4).point([1] * 50).threshold is None  # an override does not reopen it
    assert DoorRule(calibration).one_to_one(1) is None


def test_the_weights_reach_the_door_through_the_calibrations() -> None:
    """The door averages standardised distances; the file's weights (0.7 SFace, 0.3 dlib) make
    that average the weighted sum the curves were made for."""
    calibrations, _ = parse(document(), MODELS)
    strangers = [
        c.genuine_mean + 1.0 * (m["impostor_mean"] - m["genuine_mean"])
        for c, m in zip((calibrations["sface"], calibrations["dlib"]), document()["models"], strict=True)
    ]
    fused = np.mean([calibrations[n].standardise(d) for n, d in zip(("sface", "dlib"), strangers, strict=True)])
    assert fused == pytest.approx(1.0)
    sface_only = np.mean([calibrations["sface"].standardise(strangers[0]), calibrations["dlib"].standardise(0.42)])
    assert sface_only == pytest.approx(0.7)


@pytest.mark.parametrize("people", range(MIN_PEOPLE))
def test_a_gallery_of_fewer_than_two_people_names_nobody(people: int) -> None:
    point = door_point(curves(), None, [1] * people, 0.001)
    assert point.threshold is None and point.closed is not None and f"holds {people}" in point.closed
    assert point.status_fields()["recognition"].startswith("names nobody")


def test_two_people_get_a_threshold_and_status_fields() -> None:
    point = door_point(curves(), None, [1, 3], 0.001)
    assert point.closed is None and point.threshold is not None and point.warnings == ()
    fields = point.status_fields()
    assert fields["gallery_people"] == 2 and fields["gallery_samples"] == 4 and fields["recognition"] == "ok"
    assert fields["door_threshold"] == round(point.threshold, 4) and 0 < fields["stranger_accept_expected"] <= 0.001


def test_a_fixed_threshold_is_used_and_warned_about_when_it_lets_in_more_than_the_target() -> None:
    cs = curves()
    derived = cs.threshold_for(0.001, [1] * 100)
    loose = door_point(cs, None, [1] * 100, 0.001, override=derived + 0.1)
    assert loose.threshold == derived + 0.1 and loose.source == "override"
    assert loose.expected_rate is not None and loose.expected_rate > 0.001
    assert len(loose.warnings) == 1 and "more than the target" in loose.warnings[0]
    strict = door_point(cs, None, [1] * 100, 0.001, override=derived - 0.1)
    assert strict.threshold == derived - 0.1 and strict.warnings == ()


@pytest.mark.parametrize("target", [math.nan, math.inf, 0.0, 1.0])
def test_an_unusable_target_closes_the_door(target: float) -> None:
    assert door_point(curves(), None, [1] * 10, target).threshold is None


def test_a_target_the_curve_cannot_promise_is_warned_about() -> None:
    point = door_point(curves(), None, [1] * 10**7, 1e-6)
    assert point.threshold is not None and any("lowest calibrated threshold" in w for w in point.warnings)


def test_far_curve_interpolation_stays_inside_the_points() -> None:
    curve = FarCurve(1, (0.0, 1.0), (1e-6, 1e-2), 1e-3)
    assert curve.far_at(0.5) == pytest.approx(1e-4)
    assert curve.far_at(-5.0) == 1e-6 and curve.threshold_at(1e-9) == 0.0


def test_the_gpd_fit_recovers_known_parameters() -> None:
    rng = np.random.default_rng(3)
    for xi, sigma in ((-0.2, 1.0), (0.25, 0.5)):
        y = sigma * ((1 - rng.uniform(size=20000)) ** (-xi) - 1) / xi
        got_xi, got_sigma = fit_gpd(y)
        assert got_xi == pytest.approx(xi, abs=0.03) and got_sigma == pytest.approx(sigma, rel=0.05)


def test_the_lower_tail_predicts_held_out_scores() -> None:
    """A logistic distribution's lower tail is exponential (xi = 0): fitted on one sample, the
    thresholds it gives for 1e-4 and 1e-5 hold on another within sampling error."""
    rng = np.random.default_rng(4)
    fit, held_out = rng.logistic(size=2_000_000), rng.logistic(size=4_000_000)
    tail = fit_lower_tail(fit, 1e-3)
    for far in (1e-4, 1e-5):
        observed = np.mean(held_out < tail.threshold(far))
        assert observed == pytest.approx(far, rel=0.35)
    with pytest.raises(ValueError, match="need 50"):
        fit_lower_tail(fit[:1000], 1e-3)

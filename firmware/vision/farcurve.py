"""The door's calibration: per-model fusion statistics and false-accept curves, read at start.

``occur bench calibrate`` writes ``models/fusion.toml``; set-up ships it as ``fusion.json``
beside the models (and updates carry it in their bundles). For every model file (by sha256) it
holds the genuine and impostor mean distances that put the models on one scale, and for every
model combination its models' weights and, per number of gallery samples per user ``k``, a
curve FAR(t): the fraction of
comparisons of a stranger's face with one enrolled user (``k`` samples) whose fused score is
below ``t``. The curve is empirical down to about 1e-5 and a fitted tail below (see
:mod:`occur_dev.bench.tailfit`). ``transfer`` gives, per FAR level, how much higher the rate was
measured on wilder photos than on the calibration set; the door multiplies by it.

Everything is validated when read. A missing, corrupt or foreign file (made for other model
files) is never guessed around: :func:`load_door_calibration` returns the reason, and the door
names nobody until it is fixed.
"""

from __future__ import annotations

import json
import math
from bisect import bisect_left
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from itertools import pairwise
from pathlib import Path
from typing import Any

from firmware.vision.manifest import Calibration

FORMAT = 2
FILE = "fusion.json"


@dataclass(frozen=True)
class FarCurve:
    """FAR(t) for galleries with ``samples`` samples per user: ``far[i]`` of stranger-to-user
    comparisons score below ``thresholds[i]``. Both ascending; between points log(FAR) is linear
    in t. ``measured_floor`` is the lowest FAR the calibration pairs resolve; below it the values
    come from the fitted tail."""

    samples: int
    thresholds: tuple[float, ...]
    far: tuple[float, ...]
    measured_floor: float

    def far_at(self, t: float) -> float:
        """False-accept rate at threshold ``t``; the curve's ends are not extrapolated: under its
        first point the first FAR is returned, over its last point 1.0 (both overestimates)."""
        if not math.isfinite(t) or t > self.thresholds[-1]:
            return 1.0
        i = bisect_left(self.thresholds, t)
        if i == 0:
            return self.far[0]
        t0, t1 = self.thresholds[i - 1], self.thresholds[i]
        w = (t - t0) / (t1 - t0)
        return math.exp((1 - w) * math.log(self.far[i - 1]) + w * math.log(self.far[i]))

    def threshold_at(self, far: float) -> float:
        """The largest threshold whose FAR is at most ``far`` (the first point's threshold when
        ``far`` is below the curve: the caller must check :meth:`far_at` there)."""
        if far <= self.far[0]:
            return self.thresholds[0]
        if far >= self.far[-1]:
            return self.thresholds[-1]
        i = bisect_left(self.far, far)
        f0, f1 = math.log(self.far[i - 1]), math.log(self.far[i])
        w = (math.log(far) - f0) / (f1 - f0)
        return self.thresholds[i - 1] + w * (self.thresholds[i] - self.thresholds[i - 1])


@dataclass(frozen=True)
class CurveSet:
    """The curves of one model combination, by samples per user, and the transfer margin."""

    models: tuple[str, ...]
    curves: Mapping[int, FarCurve]
    transfer: tuple[tuple[float, float], ...]

    def per_user_far(self, t: float, samples: int) -> float:
        """FAR of one comparison with a user holding ``samples`` samples. Counts without their
        own curve use the next larger calibrated count, and counts beyond the largest scale its
        FAR by ``samples / largest`` (more samples, more chances for a stranger)."""
        counts = sorted(self.curves)
        above = [k for k in counts if k >= max(samples, 1)]
        if above:
            return self.curves[above[0]].far_at(t)
        return min(1.0, self.curves[counts[-1]].far_at(t) * samples / counts[-1])

    def transfer_factor(self, far: float) -> float:
        """How many times higher a pair FAR of ``far`` is expected on wilder photos (log-log
        interpolation between the measured points, held constant beyond them)."""
        points = sorted(self.transfer)
        if not points or far <= 0:
            return points[0][1] if points else 1.0
        if far <= points[0][0]:
            return points[0][1]
        if far >= points[-1][0]:
            return points[-1][1]
        i = bisect_left([p for p, _ in points], far)
        (f0, m0), (f1, m1) = points[i - 1], points[i]
        w = (math.log(far) - math.log(f0)) / (math.log(f1) - math.log(f0))
        return math.exp((1 - w) * math.log(m0) + w * math.log(m1))

    def stranger_rate(self, t: float, samples: Sequence[int]) -> tuple[float, float]:
        """Upper bound on the share of stranger visits named as someone at threshold ``t`` for a
        gallery whose users hold ``samples`` samples each: (on the calibration photos, with the
        transfer margin). The bound is the sum of per-user FARs (Boole's inequality: it holds
        whatever the correlation between users); the margin rule only removes accepts."""
        raw = sum(n * self.per_user_far(t, k) for k, n in Counter(samples).items())
        factor = self.transfer_factor(self.per_user_far(t, 1))
        return min(1.0, raw), min(1.0, raw * factor)

    def threshold_for(self, target: float, samples: Sequence[int]) -> float:
        """The largest threshold whose stranger-accept bound, with the transfer margin, is at most
        ``target``; the lowest calibrated threshold when even that exceeds it (check with
        :meth:`stranger_rate`)."""
        low = min(c.thresholds[0] for c in self.curves.values())
        high = max(c.thresholds[-1] for c in self.curves.values())
        if self.stranger_rate(low, samples)[1] > target:
            return low
        for _ in range(64):
            mid = (low + high) / 2
            if self.stranger_rate(mid, samples)[1] <= target:
                low = mid
            else:
                high = mid
        return low


@dataclass(frozen=True)
class DoorCalibration:
    """The calibration for the loaded models: ``curves`` and per-model ``calibrations``, or the
    reason there is none (``problem``), in which case the door names nobody. The calibrations
    carry the combination's weights: the door's mean of standardised distances is then the
    weighted sum ``sum(w * (d - genuine) / (impostor - genuine))`` the curves were made for."""

    calibrations: Mapping[str, Calibration]
    curves: CurveSet | None
    problem: str | None = None
    source: str = ""


class _BadError(ValueError):
    pass


def _number(raw: Mapping[str, Any], key: str, low: float = -math.inf, high: float = math.inf) -> float:
    value = raw.get(key)
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise _BadError(f"{key} is missing or not a finite number")
    if not low <= value <= high:
        raise _BadError(f"{key} = {value} is outside {low}..{high}")
    return float(value)


def _curve(raw: Mapping[str, Any]) -> FarCurve:
    samples = raw.get("samples")
    thresholds, far = raw.get("threshold"), raw.get("far")
    if isinstance(samples, bool) or not isinstance(samples, int) or not 1 <= samples <= 1000:
        raise _BadError("a curve's samples must be an integer 1..1000")
    if not isinstance(thresholds, list) or not isinstance(far, list) or len(thresholds) != len(far) or len(far) < 2:
        raise _BadError("a curve needs threshold and far lists of one length (2 or more)")
    t = tuple(_number({"t": v}, "t") for v in thresholds)
    f = tuple(_number({"far": v}, "far", 0.0, 1.0) for v in far)
    if any(b <= a for a, b in pairwise(t)) or any(b < a for a, b in pairwise(f)):
        raise _BadError(f"curve for {samples} sample(s) is not increasing")
    if f[0] <= 0:
        raise _BadError(f"curve for {samples} sample(s) starts at FAR 0")
    return FarCurve(samples, t, f, _number(raw, "measured_floor", 0.0, 1.0))


def _model_entries(entries: list[Any]) -> dict[str, Calibration]:
    by_sha: dict[str, Calibration] = {}
    for entry in entries:
        if not isinstance(entry, dict) or not isinstance(entry.get("sha256"), str):
            raise _BadError("every models entry needs a sha256")
        genuine, impostor = _number(entry, "genuine_mean"), _number(entry, "impostor_mean")
        if not impostor > genuine:
            raise _BadError(f"model {entry.get('name')}: impostor_mean must exceed genuine_mean")
        by_sha[entry["sha256"]] = Calibration(genuine, impostor, str(entry.get("pairs", "")))
    return by_sha


def parse(raw: Any, models: Mapping[str, str]) -> tuple[dict[str, Calibration], CurveSet]:
    """Validate a decoded calibration file for ``models`` (name -> model file sha256).

    Raises:
        ValueError: naming what is wrong (corrupt, older format, or made for other models).
    """
    if not isinstance(raw, dict):
        raise _BadError("not a JSON object")
    if raw.get("format") != FORMAT:
        raise _BadError(
            f"format {raw.get('format')!r}, expected {FORMAT}: run occur bench calibrate (see models/README)"
        )
    entries, curves, transfer = raw.get("models"), raw.get("curves"), raw.get("transfer", [])
    if not isinstance(entries, list) or not isinstance(curves, list) or not isinstance(transfer, list):
        raise _BadError("models, curves and transfer must be lists")
    by_sha = _model_entries(entries)
    missing = [f"{name} ({sha[:12]}…)" for name, sha in sorted(models.items()) if sha not in by_sha]
    if missing:
        raise _BadError(f"made for other model files: nothing for {', '.join(missing)}")
    found, weights = _combination(curves, models)
    calibrations = {}
    for name, sha in models.items():
        mean = by_sha[sha]
        scale = (mean.impostor_mean - mean.genuine_mean) / (len(models) * weights[sha])
        calibrations[name] = Calibration(mean.genuine_mean, mean.genuine_mean + scale, mean.pairs)
    return calibrations, CurveSet(tuple(sorted(models)), found, _transfer(transfer))


def _combination(curves: list[Any], models: Mapping[str, str]) -> tuple[dict[int, FarCurve], dict[str, float]]:
    """The curves of this model combination by sample count, and each model file's weight."""
    wanted = sorted(models.values())
    found: dict[int, FarCurve] = {}
    weights: dict[str, float] = {}
    for entry in curves:
        if not isinstance(entry, dict) or not isinstance(entry.get("sha256"), list):
            raise _BadError("every curve needs a sha256 list")
        if sorted(entry["sha256"]) != wanted:
            continue
        curve = _curve(entry)
        found[curve.samples] = curve
        given = entry.get("weights")
        if not isinstance(given, list) or len(given) != len(wanted):
            raise _BadError("every curve needs one weight per model")
        weights = {sha: _number({"w": w}, "w", 1e-3, 1.0) for sha, w in zip(entry["sha256"], given, strict=True)}
        if abs(sum(weights.values()) - 1.0) > 1e-6:
            raise _BadError("a curve's weights must add up to 1")
    if 1 not in found:
        raise _BadError(f"made for other model files: no curve for the combination {'+'.join(sorted(models))}")
    return found, weights


def _transfer(transfer: list[Any]) -> tuple[tuple[float, float], ...]:
    points = []
    for point in transfer:
        if not isinstance(point, list) or len(point) != 2:
            raise _BadError("transfer points must be [far, factor] pairs")
        points.append((_number({"f": point[0]}, "f", 0.0, 1.0), _number({"m": point[1]}, "m", 1.0, 1000.0)))
    return tuple(points)


def load_door_calibration(folder: Path, models: Mapping[str, str]) -> DoorCalibration:
    """Read ``fusion.json`` in ``folder`` for ``models`` (name -> sha256). Never raises: a bad
    file gives a :class:`DoorCalibration` with the reason and no curves."""
    path = folder / FILE
    try:
        text = path.read_text()
    except FileNotFoundError:
        return DoorCalibration({}, None, f"calibration file {path} is missing (run ./setup.sh)", str(path))
    except OSError as err:
        return DoorCalibration({}, None, f"calibration file {path} is unreadable ({err.strerror})", str(path))
    try:
        calibrations, curves = parse(json.loads(text), models)
    except ValueError as err:
        kind = "" if str(err).startswith("made for") else "is corrupt: "
        return DoorCalibration({}, None, f"calibration file {path} {kind}{err}", str(path))
    return DoorCalibration(calibrations, curves, None, str(path))

"""``occur bench calibrate``: the procedure behind ``models/fusion.toml``.

Given folder-per-person photo sets (the calibration set and the dev faces), it embeds every photo
with every installed model (:mod:`occur_dev.bench.embedset`), then, with the statistics of
:mod:`occur_dev.bench.calstats`, produces each model's calibration, the fused FAR curves for
every model combination and gallery sample count, and a held-out check of the tail fit. The
file it writes is exactly what is committed: deterministic given the model files and photos.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import numpy.typing as npt

from firmware.config import VisionConfig
from firmware.vision.farcurve import FORMAT
from occur_dev.bench import calstats
from occur_dev.bench.embedset import EmbeddedSet, embed_sets

# Measured by the calibration set's curator (../shared/data/calibration/SOURCES.md): pair FAR on
# a much larger set of wilder photos at this set's thresholds for 1e-4 and 1e-5.
TRANSFER = ((1e-5, 2.0), (1e-4, 1.4))
CHECK_COMBO = ("dlib", "sface")
PROCEDURE = "occur bench calibrate ../shared/data/calibration ../shared/data/faces --write models/fusion.toml"


@dataclass
class CalibrationReport:
    """Everything the procedure produced; ``text`` is the ``fusion.toml`` to commit."""

    sets: list[str]
    photos: int
    people: int
    refused: dict[str, str]
    models: dict[str, dict[str, float | int | str]]
    curves: list[calstats.Curve]
    checks: list[calstats.CheckRow] = field(default_factory=list)
    merged: list[tuple[str, str, float]] = field(default_factory=list)
    text: str = ""


def _describe(data: EmbeddedSet, roots: list[Path]) -> list[str]:
    out = []
    for root in roots:
        people = {p for p in data.people if p.split("/")[0] == root.name}
        photos = sum(1 for p in data.people if p.split("/")[0] == root.name)
        refused = sum(1 for p in data.refused if Path(p).parent.parent.name == root.name)
        out.append(f"{root.name}: {photos} photos of {len(people)} people used, {refused} without a usable face")
    return out


def _standardise(
    data: EmbeddedSet, who: npt.NDArray[np.intp], report: CalibrationReport
) -> dict[str, npt.NDArray[np.float32]]:
    standardised = {}
    for name in sorted(data.vectors):
        d = calstats.distance_matrix(data.vectors[name], data.metrics[name])
        genuine, impostor, n_same, n_diff = calstats.model_calibration(d, who)
        report.models[name] = {
            "sha256": data.sha256[name],
            "metric": data.metrics[name],
            "genuine_mean": genuine,
            "impostor_mean": impostor,
            "genuine_pairs": n_same,
            "impostor_pairs": n_diff,
        }
        standardised[name] = ((d - genuine) / (impostor - genuine)).astype(np.float32)
    return standardised


def statistics(data: EmbeddedSet, sets: list[str], check: bool = True) -> CalibrationReport:
    """Calibrations, curves and the held-out check from embeddings (no models needed)."""
    report = CalibrationReport(sets, len(data.paths), 0, dict(data.refused), {}, [])
    who, report.merged = calstats.merged_identities(data)
    report.people = int(np.unique(who).size)
    standardised = _standardise(data, who, report)
    for combo in calstats.combinations(sorted(data.vectors)):
        chosen = {m: standardised[m] for m in combo}
        weights = calstats.best_weights(chosen, who)
        for k in calstats.SAMPLE_COUNTS:
            impostor_scores, genuine_scores = calstats.user_scores(chosen, who, k, weights=weights)
            if k > 1 and impostor_scores.size < calstats.MIN_COMPARISONS:
                continue  # too few people with k photos: the door scales the next smaller curve
            report.curves.append(calstats.fit_curve(impostor_scores, genuine_scores, combo, k, weights))
        if check and "-" not in "".join(combo):  # full-precision combinations (f16 gives the same)
            names = sorted(set(data.people))
            report.checks += calstats.held_out_check(chosen, who, calstats.folds(who, names), weights)
    report.text = render(report)
    return report


def calibrate(roots: list[Path], config: VisionConfig, cache: Path | None = None) -> CalibrationReport:
    """Run the whole procedure on photo sets ``roots``.

    Raises:
        ModelError: a model or detector is missing or altered.
        ValueError: too few photos for the tail fits.
    """
    data = embed_sets(roots, config, cache)
    return statistics(data, _describe(data, roots))


def _floats(values: tuple[float, ...] | list[float]) -> str:
    return "[" + ", ".join(repr(v) for v in values) + "]"


def render(report: CalibrationReport) -> str:
    """The ``fusion.toml`` text: comments that say how it was made, then the data."""
    pairs = next((c for c in report.curves if c.models == CHECK_COMBO and c.samples == 1), report.curves[0])
    lines = [
        "# Door calibration, GENERATED by `occur bench calibrate` (occur_dev/bench/calibrate.py); do not edit.",
        "# Regenerate after any change to a model, the detector, alignment or the quality gates:",
        "#   .venv/bin/occur bench calibrate ../shared/data/calibration ../shared/data/faces \\",
        "#       --write models/fusion.toml --no-cache",
        "# Set-up (models/build.py) ships it as models/build/fusion.json; the door reads it at start and",
        "# names nobody when it is missing, corrupt or made for other model files. Method: models/CALIBRATION.md.",
        "#",
        *[f"# {s}" for s in report.sets],
        f"# {report.photos} photos of {report.people} people; {pairs.impostor} different-person pairs.",
        *[f"# Counted as one person (identity audit, median fused score {m}): {a} = {b}" for a, b, m in report.merged],
        "# Curves: FAR(t) per stranger-to-user comparison for users with `samples` samples; empirical",
        f"# above FAR {pairs.tail.p_u:.3g} (measured_floor), a generalised Pareto tail fitted to the scores below it.",
        "# transfer: pair FAR measured on wilder photos over FAR here (SOURCES.md of the calibration set).",
        "",
        f"format = {FORMAT}",
        f'procedure = "{PROCEDURE}"',
        f"transfer = [{', '.join(f'[{f!r}, {m!r}]' for f, m in TRANSFER)}]",
    ]
    for name, stats in report.models.items():
        lines += [
            "",
            "[[models]]",
            f'name = "{name}"',
            f'sha256 = "{stats["sha256"]}"',
            f'metric = "{stats["metric"]}"',
            f"genuine_mean = {stats['genuine_mean']!r}",
            f"impostor_mean = {stats['impostor_mean']!r}",
            f'pairs = "{stats["genuine_pairs"]} same-person / {stats["impostor_pairs"]} different-person pairs"',
        ]
    for curve in report.curves:
        tail = curve.tail
        lines += [
            "",
            "[[curves]]",
            f"models = [{', '.join(f'{m!r}' for m in curve.models)}]".replace("'", '"'),
            f"sha256 = [{', '.join(repr(str(report.models[m]['sha256'])) for m in curve.models)}]".replace("'", '"'),
            f"weights = {_floats(curve.weights)}",
            f"samples = {curve.samples}",
            f"comparisons = {curve.impostor}",
            f"measured_floor = {tail.p_u!r}",
            f"tail = {{ u = {round(tail.u, 6)!r}, xi = {round(tail.xi, 6)!r}, sigma = {round(tail.sigma, 6)!r}, "
            f"exceedances = {tail.exceedances} }}",
            f"threshold = {_floats(curve.thresholds)}",
            f"far = {_floats(curve.far)}",
        ]
    return "\n".join(lines) + "\n"

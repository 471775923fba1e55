"""``occur bench calibrate|openset``: the door's decision statistics on labelled photos."""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import Any

from firmware.cli.common import Context, ExitStatus, add_json_flag
from firmware.errors import InvalidInputError

DEFAULT_SIZES = (10, 50, 100, 200, 300, 1000, 10000)


def register(bsub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the decision benchmarks to ``bench``."""
    c = bsub.add_parser(
        "calibrate", help="per-model calibration and fused FAR curves from labelled photos (models/fusion.toml)"
    )
    c.add_argument("faces", type=Path, nargs="+", help="folders with one sub-folder of photos per person")
    c.add_argument("--write", type=Path, metavar="FILE", help="write the calibration file (models/fusion.toml)")
    _cache_flags(c)
    add_json_flag(c)
    c.set_defaults(handler=bench_calibrate)

    o = bsub.add_parser("openset", help="rank-1, strangers named and enrolled not named at N enrolled people")
    o.add_argument("faces", type=Path, nargs="+", help="folders with one sub-folder of photos per person (pooled)")
    o.add_argument("--enrolled", type=int, nargs="+", default=list(DEFAULT_SIZES), metavar="N", help="gallery sizes")
    o.add_argument("--strangers", type=float, default=0.25, help="share of people held aside as strangers")
    o.add_argument("--rounds", type=int, default=5, help="draws of who is enrolled and who is a stranger")
    o.add_argument("--samples", type=int, default=1, help="photos enrolled per person (default 1, the first)")
    o.add_argument(
        "--normalisation",
        type=int,
        metavar="N",
        help="also compare score normalisation methods at N enrolled, at equal stranger rates (fused models)",
    )
    _cache_flags(o)
    add_json_flag(o)
    o.set_defaults(handler=bench_openset)


def _cache_flags(parser: argparse.ArgumentParser) -> None:
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "occur-calibrate"
    parser.add_argument("--cache", type=Path, default=base, help=f"embedding cache folder (default {base})")
    parser.add_argument("--no-cache", action="store_true", help="embed every photo again, keep nothing")


def _folders(args: argparse.Namespace) -> tuple[list[Path], Path | None]:
    bad = [str(f) for f in args.faces if not f.is_dir()]
    if bad:
        raise InvalidInputError(f"not a folder: {', '.join(bad)}")
    return list(args.faces), None if args.no_cache else args.cache


def bench_calibrate(ctx: Context, args: argparse.Namespace) -> int:
    """Run the calibration procedure; print its figures and write the file if asked."""
    from firmware.platform.fileio import write_private
    from occur_dev.bench.calibrate import calibrate

    folders, cache = _folders(args)
    report = calibrate(folders, ctx.config.vision, cache)
    if args.write:
        write_private(args.write, report.text.encode())
        args.write.chmod(0o644)
    if ctx.json:
        ctx.emit_json({k: v for k, v in report.__dict__.items() if k != "text"})
        return ExitStatus.SUCCESS
    for line in report.sets:
        ctx.out(line)
    ctx.out(f"{report.photos} photos of {report.people} people")
    for a, b, median in report.merged:
        ctx.out(f"identity audit: {a} and {b} are one person (median fused score {median})")
    ctx.table(
        ["model", "genuine mean", "impostor mean", "pairs (same / different)"],
        [
            (m, s["genuine_mean"], s["impostor_mean"], f"{s['genuine_pairs']} / {s['impostor_pairs']}")
            for m, s in report.models.items()
        ],
    )
    ctx.out("pair FAR curves (one sample per user): threshold / share of same-person pairs over it")
    rows: list[list[Any]] = []
    for curve in report.curves:
        if curve.samples == 1 or "-" not in "".join(curve.models):
            tail = curve.tail
            cells = [f"{_threshold(curve, f):.4f} / {curve.frr[f]:.3f}" for f in sorted(curve.frr, reverse=True)]
            rows.append(
                ["+".join(curve.models), curve.samples, "/".join(map(str, curve.weights)), *cells, f"{tail.xi:.3f}"]
            )
    ctx.table(["models", "k", "weights", "FAR 1e-3", "1e-4", "1e-5", "1e-6", "tail xi"], rows)
    if report.checks:
        ctx.out("held-out check: thresholds fitted on one half of the people, pairs of the other half counted")
        ctx.table(
            ["models", "fold", "FAR", "threshold", "empirical", "held-out pairs", "expected", "observed"],
            [
                (
                    r.models,
                    r.fold,
                    f"{r.level:g}",
                    f"{r.threshold:.4f}",
                    None if r.empirical_threshold is None else f"{r.empirical_threshold:.4f}",
                    r.held_out_pairs,
                    f"{r.expected:.1f}",
                    r.observed,
                )
                for r in report.checks
            ],
        )
    if args.write:
        ctx.out(f"wrote {args.write}")
    return ExitStatus.SUCCESS


def _threshold(curve: Any, far: float) -> float:
    from firmware.vision.farcurve import FarCurve

    return FarCurve(curve.samples, curve.thresholds, curve.far, 0.0).threshold_at(far)


def _door_models(ctx: Context) -> list[Any]:
    from firmware.errors import ModelError
    from firmware.vision.farcurve import load_door_calibration
    from firmware.vision.manifest import load_manifests
    from occur_dev.bench.openset import DoorModels

    vision = ctx.config.active_vision()
    folder = vision.models_folder()
    manifests = load_manifests(folder)
    combos = [(m,) for m in vision.models] + ([tuple(vision.models)] if len(vision.models) > 1 else [])
    out = []
    for combo in combos:
        shas = {m: manifests[m].sha256 for m in combo if m in manifests}
        calibration = load_door_calibration(folder, shas)
        if calibration.curves is None or len(shas) != len(combo):
            raise ModelError(f"models {'+'.join(combo)}: {calibration.problem or 'not installed'}")
        out.append(DoorModels("+".join(combo), dict(calibration.calibrations), calibration.curves))
    return out


def bench_openset(ctx: Context, args: argparse.Namespace) -> int:
    """Print the open-set table, measured where the set has the people and predicted beyond."""
    from occur_dev.bench import openset
    from occur_dev.bench.embedset import embed_sets

    if not 0 <= args.strangers < 1 or args.rounds < 1 or args.samples < 1 or any(n < 2 for n in args.enrolled):
        raise InvalidInputError("--strangers must be in [0, 1), --rounds and --samples >= 1, every --enrolled N >= 2")
    folders, cache = _folders(args)
    vision = ctx.config.vision
    data = embed_sets(folders, vision, cache)
    measured, predicted = [], []
    sizes = sorted(set(args.enrolled))
    for door in _door_models(ctx):
        measured += openset.run_openset(
            data, door, sizes, vision.stranger_accept_rate, vision.margin, args.strangers, args.rounds, args.samples
        )
        genuine = openset.genuine_scores(data, door, args.samples)
        target, margin = vision.stranger_accept_rate, vision.margin
        predicted += [openset.predict(genuine, door, n, target, margin, args.samples) for n in sizes]
    norm = _normalisation(ctx, data, args.normalisation) if args.normalisation else []
    if ctx.json:
        ctx.emit_json({"measured": measured, "predicted": predicted, "normalisation": norm})
        return ExitStatus.SUCCESS
    ctx.out(
        f"{len(data.paths)} photos from {', '.join(str(f) for f in folders)}; target {vision.stranger_accept_rate:g} "
        f"of stranger visits, margin {vision.margin}; {args.rounds} rounds, {args.strangers:.0%} of people strangers"
    )
    ctx.out(f"MEASURED (first {args.samples} photo(s) enrolled, other photos visits):")
    ctx.table(
        ["N", "models", "threshold", "rank-1", "strangers named", "95% upper", "not named", "named wrongly"],
        [
            (
                r.n,
                r.models,
                f"{r.threshold:.4f}",
                f"{r.rank1 / max(r.visits, 1):.2%}",
                f"{r.strangers_named}/{r.stranger_visits} = {r.strangers_named / max(r.stranger_visits, 1):.3%}",
                f"{openset.wilson_upper(r.strangers_named, r.stranger_visits):.3%}",
                f"{r.not_named / max(r.visits, 1):.2%}",
                r.misnamed,
            )
            for r in measured
        ],
    )
    ctx.out("PREDICTED by the fitted curve (not measured): stranger bound with the transfer margin")
    ctx.table(
        ["N", "models", "threshold", "strangers named (bound)", "on calibration photos", "not named"],
        [
            (
                p.n,
                p.models,
                f"{p.threshold:.4f}",
                f"{p.expected_rate:.3%}",
                f"{p.calibration_rate:.3%}",
                f"{p.not_named:.2%}",
            )
            for p in predicted
        ],
    )
    if norm:
        from occur_dev.bench.normbench import LEVELS

        ctx.out(
            f"NORMALISATION at {args.normalisation} enrolled (one photo each), {norm[0].visits} enrolled and "
            f"{norm[0].stranger_visits} stranger visits; each method's own threshold for the same stranger rate:"
        )
        ctx.table(
            ["method", "rank-1", *(f"not named at {level:.1%} strangers" for level in LEVELS)],
            [(r.method, f"{r.rank1:.2%}", *(f"{r.not_named[level]:.2%}" for level in LEVELS)) for r in norm],
        )
    return ExitStatus.SUCCESS


def _normalisation(ctx: Context, data: Any, n: int) -> list[Any]:
    from occur_dev.bench.normbench import compare

    door = _door_models(ctx)[-1]
    try:
        return compare(data, door, n)
    except ValueError as err:
        raise InvalidInputError(str(err)) from err

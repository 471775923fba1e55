"""``occur bench pairs|gates|visits``: the recognition front end measured on labelled photos."""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from firmware.cli.common import Context, ExitStatus, add_json_flag
from firmware.errors import InvalidInputError


def register(bsub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the front-end benchmarks to ``bench``."""
    p = bsub.add_parser("pairs", help="10-fold verification accuracy per model and fused on labelled photos")
    p.add_argument("faces", type=Path, help="folder with one sub-folder of photos per person")
    p.add_argument("--pairs", type=int, default=3000, help="same-person pairs, and as many others (default 3000)")
    p.add_argument("--pad", type=float, default=0.0, help="black margin for tight crops, share of the side (0.5)")
    p.add_argument("--seed", type=int, default=13)
    add_json_flag(p)
    p.set_defaults(handler=bench_pairs)

    g = bsub.add_parser("gates", help="photos the quality gates refuse, per reason")
    g.add_argument("faces", type=Path, help="folder with one sub-folder of photos per person")
    g.add_argument("--pad", type=float, default=0.0, help="black margin for tight crops, share of the side")
    g.add_argument("--rotate", type=float, default=0.0, help="turn every photo by this many degrees first")
    add_json_flag(g)
    g.set_defaults(handler=bench_gates)

    v = bsub.add_parser("visits", help="decisions per visit through the whole door loop")
    v.add_argument("faces", type=Path, help="folder with one sub-folder of photos per person")
    v.add_argument("--enrolled", type=int, default=40, help="people enrolled with their first photo (default 40)")
    v.add_argument("--strangers", type=int, default=40, help="visits of people not enrolled (default 40)")
    v.add_argument("--photos", type=int, default=4, help="photos per visit (default 4)")
    v.add_argument("--frames", type=int, default=3, help="frames per photo (default 3)")
    v.add_argument("--tilt", type=float, default=20.0, help="largest head tilt per photo, degrees (default 20)")
    v.add_argument("--pad", type=float, default=0.5, help="black margin for tight crops (default 0.5)")
    v.add_argument("--dir", type=Path, help="scratch data folder (default: a new temporary one)")
    add_json_flag(v)
    v.set_defaults(handler=bench_visits)


def _faces(path: Path) -> Path:
    if not path.is_dir():
        raise InvalidInputError(f"{path} is not a folder with one sub-folder of photos per person")
    return path


def bench_pairs(ctx: Context, args: argparse.Namespace) -> int:
    """Print the 10-fold accuracy, FRR at FAR 0.1 % and the photos without a face."""
    from occur_dev.bench import pairs

    if args.pairs < 10 or not 0 <= args.pad <= 2:
        raise InvalidInputError("--pairs must be at least 10 and --pad within 0..2")
    report = pairs.run(_faces(args.faces), ctx.config.vision, args.pairs, args.pad, args.seed)
    if ctx.json:
        ctx.emit_json(report)
        return ExitStatus.SUCCESS
    ctx.out(
        f"{report.genuine} same-person and {report.impostor} different-person pairs of {report.photos} photos "
        f"(pad {args.pad}); {len(report.no_face)} photos without a face; {report.ms_per_photo:.1f} ms per photo"
    )
    ctx.table(
        ["model", "10-fold accuracy", "std", "FRR at FAR 0.1 %"],
        [
            (m, f"{a * 100:.2f} %", f"{s * 100:.2f}", f"{report.frr_at_far_001[m] * 100:.1f} %")
            for m, (a, s) in report.accuracy.items()
        ],
    )
    return ExitStatus.SUCCESS


def bench_gates(ctx: Context, args: argparse.Namespace) -> int:
    """Print the refusal rate and each reason's count."""
    from occur_dev.bench import gates

    report = gates.run(_faces(args.faces), ctx.config.vision, args.pad, args.rotate)
    if ctx.json:
        ctx.emit_json({**report.__dict__, "refused_share": report.refused_share})
        return ExitStatus.SUCCESS
    ctx.out(
        f"{report.photos} photos (pad {args.pad}, turned {args.rotate:g} degrees): {report.refused} refused, "
        f"{report.no_face} without a face: {report.refused_share * 100:.2f} %"
    )
    ctx.table(
        ["reason", "photos", "share", "example"],
        [
            (code, n, f"{n / max(report.photos, 1) * 100:.2f} %", report.examples[code])
            for code, n in report.reasons.most_common()
        ],
    )
    return ExitStatus.SUCCESS


def bench_visits(ctx: Context, args: argparse.Namespace) -> int:
    """Print each visit kind's outcomes and the loop's time per frame."""
    from occur_dev.bench import visits

    if min(args.enrolled, args.photos, args.frames) < 1 or args.strangers < 0:
        raise InvalidInputError("--enrolled, --photos and --frames must be positive")
    folder = args.dir or Path(tempfile.mkdtemp(prefix="occur-bench-visits-"))
    report = visits.run(
        _faces(args.faces), ctx.config, folder, args.enrolled, args.strangers, args.photos, args.frames, args.tilt,
        args.pad,
    )  # fmt: skip
    if ctx.json:
        ctx.emit_json({**vars(report), "outcomes": {kind: dict(counts) for kind, counts in report.outcomes.items()}})
        return ExitStatus.SUCCESS
    ctx.out(
        f"{report.visits['enrolled']} visits of enrolled people, {report.visits['stranger']} of strangers, "
        f"{report.frames} frames; per frame {report.frame_ms[0]:.1f} ms median, {report.frame_ms[1]:.1f} ms p95"
    )
    rows = [(kind, outcome, n) for kind, counts in report.outcomes.items() for outcome, n in sorted(counts.items())]
    ctx.table(["visits of", "outcome", "visits"], rows)
    for line in report.skipped:
        ctx.out(f"not enrolled: {line}")
    return ExitStatus.SUCCESS

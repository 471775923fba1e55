"""``occur bench db|import``, plus vision, match, loop and mqtt from :mod:`bench_vision`,
commands from :mod:`bench_comms`, calibrate and openset from :mod:`bench_decide`, and pairs,
gates and visits from :mod:`bench_frontend`.

Benchmarks print figures; tests never assert timings.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from firmware.cli.common import Context, ExitStatus, add_json_flag
from occur_dev.cli import bench_comms, bench_decide, bench_frontend, bench_pad, bench_vision


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``bench`` and its subcommands."""
    p = sub.add_parser("bench", help="measure performance", description="Benchmarks; they print figures.")
    bsub = p.add_subparsers(dest="bench_command", metavar="WHAT", required=True)

    db = bsub.add_parser("db", help="event logging: this firmware against the original design")
    db.add_argument("--events", type=int, default=20000, help="events per measurement (default 20000)")
    db.add_argument(
        "--callers",
        default="1,16,64",
        help="comma-separated numbers of concurrent callers (default 1,16,64)",
    )
    db.add_argument("--dir", type=Path, help="scratch folder (default: the data folder, i.e. the data disk)")
    add_json_flag(db)
    db.set_defaults(handler=bench_db)

    imp = bsub.add_parser("import", help="resident memory added by importing the firmware")
    add_json_flag(imp)
    imp.set_defaults(handler=bench_import)

    bench_vision.register(bsub)
    bench_pad.register(bsub)
    bench_comms.register(bsub)
    bench_decide.register(bsub)
    bench_frontend.register(bsub)


def bench_db(ctx: Context, args: argparse.Namespace) -> int:
    """Print events/s for both designs, the ratios, and the peak RSS."""
    from firmware.errors import InvalidInputError
    from occur_dev.bench import dbbench

    try:
        callers = tuple(int(c) for c in str(args.callers).split(","))
    except ValueError as err:
        raise InvalidInputError(f"--callers must be numbers separated by commas, got {args.callers!r}") from err
    if args.events < 1 or any(c < 1 for c in callers):
        raise InvalidInputError("--events and --callers must be positive")
    folder = args.dir or ctx.config.data_dir
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    report = dbbench.run(folder, args.events, callers)
    if ctx.json:
        ctx.emit_json(
            {
                "folder": report.folder,
                "runs": [
                    {
                        **{k: getattr(r, k) for k in ("design", "callers", "events", "seconds", "errors", "commits")},
                        "events_per_s": r.events_per_s,
                    }
                    for r in report.runs
                ],
                "ratios": {str(c): report.ratio(c) for c in callers},
                "peak_rss_kib": report.peak_rss_kib,
            }
        )
        return ExitStatus.SUCCESS
    ctx.out(f"log_face_event, {args.events} events per run, scratch folder {folder}")
    ctx.out("original: new sqlite3 connection + CREATE IF NOT EXISTS + insert + commit + close per event,")
    ctx.out(f"          rollback journal, synchronous=FULL (SQLite {report.sqlite_original})")
    ctx.out("firmware: one connection, WAL, synchronous=FULL, group commit")
    rows = []
    for c in callers:
        orig = next(r for r in report.runs if r.design == "original" and r.callers == c)
        ours = next(r for r in report.runs if r.design == "firmware" and r.callers == c)
        rows.append(
            (
                c,
                f"{orig.events_per_s:.0f}",
                f"{ours.events_per_s:.0f}",
                f"{report.ratio(c):.1f}x",
                f"{ours.events / max(ours.commits, 1):.1f}",
                orig.errors,
                ours.errors,
            )
        )
    ctx.table(
        [
            "callers",
            "original ev/s",
            "firmware ev/s",
            "speed-up",
            "events/commit",
            "original failed",
            "firmware failed",
        ],
        rows,
    )
    ctx.out(f"peak RSS of this process: {report.peak_rss_kib / 1024:.1f} MiB")
    return ExitStatus.SUCCESS


def bench_import(ctx: Context, args: argparse.Namespace) -> int:
    """Print the import-time RSS of the firmware's entry modules."""
    from occur_dev.bench import importrss

    result = importrss.run()
    if ctx.json:
        ctx.emit_json(result)
        return ExitStatus.SUCCESS
    ctx.out(f"bare interpreter: {result.baseline_kib / 1024:.1f} MiB peak RSS")
    ctx.table(["module", "extra RSS (MiB)"], [(m, f"{k / 1024:.1f}") for m, k in result.extra_kib.items()])
    return ExitStatus.SUCCESS

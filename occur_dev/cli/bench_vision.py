"""``occur bench vision|match|loop|mqtt``."""

from __future__ import annotations

import argparse
from pathlib import Path

from firmware.cli.common import Context, ExitStatus, add_json_flag
from firmware.errors import InvalidInputError

_SHARED_FACES = Path(__file__).resolve().parents[3] / "shared" / "data" / "faces"


def register(bsub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the vision benchmarks to ``bench``."""
    v = bsub.add_parser("vision", help="ms per stage of detect/align/embed/match on a folder of photos")
    v.add_argument("--images", type=Path, help=f"folder of photos, searched recursively (default {_SHARED_FACES})")
    v.add_argument("--threads", type=int, default=1, help="threads per model (default 1)")
    v.add_argument("--limit", type=int, default=500, help="most images used (default 500)")
    add_json_flag(v)
    v.set_defaults(handler=bench_vision)

    m = bsub.add_parser("match", help="1:N search latency at N enrolled users")
    m.add_argument("--users", type=int, default=100_000, help="enrolled users (default 100000)")
    add_json_flag(m)
    m.set_defaults(handler=bench_match)

    lp = bsub.add_parser("loop", help="the whole door loop on a replay: frames/s, stages, overhead, RSS")
    lp.add_argument("--source", required=True, metavar="replay:DIR", help="a replay source")
    lp.add_argument("--models", help="comma-separated embedding models (default: [vision] models)")
    lp.add_argument("--dir", type=Path, help="scratch data folder (default: a new temporary one)")
    add_json_flag(lp)
    lp.set_defaults(handler=bench_loop)

    mq = bsub.add_parser("mqtt", help="events/s through the outbox to the broker, and commit-to-delivery latency")
    mq.add_argument("--events", type=int, default=5000, help="events for the throughput run (default 5000)")
    mq.add_argument("--paced", type=int, default=500, help="events for the latency run, 100/s (default 500)")
    mq.add_argument("--dir", type=Path, help="scratch data folder (default: a new temporary one)")
    add_json_flag(mq)
    mq.set_defaults(handler=bench_mqtt)


def _folder(path: Path | None) -> Path:
    folder = path or _SHARED_FACES
    if not folder.is_dir():
        raise InvalidInputError(f"{folder} is not a folder of photos; pass --images DIR")
    return folder


def bench_vision(ctx: Context, args: argparse.Namespace) -> int:
    """Print per-stage medians and p95s, throughput, load time and peak RSS."""
    from occur_dev.bench.visionbench import percentiles, run_vision

    if args.threads < 1 or args.limit < 1:
        raise InvalidInputError("--threads and --limit must be positive")
    report = run_vision(ctx.config.vision, _folder(args.images), args.threads, args.limit)
    stats = {k: percentiles(v) for k, v in report.stages.items()}
    per_s = report.images / report.wall_s if report.wall_s else 0.0
    if ctx.json:
        ctx.emit_json(
            {
                "images": report.images,
                "faces": report.faces,
                "load_ms": report.load_ms,
                "images_per_s": per_s,
                "peak_rss_mib": report.peak_rss_mib,
                "load_peak_rss_mib": report.load_rss_mib,
                "stages": {k: {"median_ms": a, "p95_ms": b, "n": len(report.stages[k])} for k, (a, b) in stats.items()},
            }
        )
        return ExitStatus.SUCCESS
    ctx.out(
        f"{report.images} images, {report.faces} faces, models {'+'.join(ctx.config.vision.models)}, "
        f"{args.threads} thread(s) per model"
    )
    ctx.table(
        ["stage", "median ms", "p95 ms", "n"],
        [(k, f"{a:.2f}", f"{b:.2f}", len(report.stages[k])) for k, (a, b) in stats.items()],
    )
    ctx.out(
        f"{per_s:.1f} images/s; models loaded in {report.load_ms:.0f} ms; peak RSS "
        f"{report.load_rss_mib:.0f} MiB after loading, {report.peak_rss_mib:.0f} MiB over the run"
    )
    return ExitStatus.SUCCESS


def bench_match(ctx: Context, args: argparse.Namespace) -> int:
    """Print the 1:N search latency."""
    from occur_dev.bench.visionbench import run_match

    if not 1 <= args.users <= 1_000_000:
        raise InvalidInputError("--users must be 1..1000000")
    result = run_match(ctx.config.vision, args.users)
    if ctx.json:
        ctx.emit_json(result)
    else:
        ctx.out(
            f"1:N fused search over {args.users} users x {result['models']} models: median "
            f"{result['median_ms']:.2f} ms, p95 {result['p95_ms']:.2f} ms; peak RSS {result['peak_rss_mib']:.0f} MiB"
        )
    return ExitStatus.SUCCESS


def bench_loop(ctx: Context, args: argparse.Namespace) -> int:
    """Print the loop's figures. Enrols nobody: every face goes the stranger path."""
    import tempfile

    from occur_dev.bench import loopbench

    if not str(args.source).startswith("replay:"):
        raise InvalidInputError("--source must be replay:PATH")
    folder = args.dir or Path(tempfile.mkdtemp(prefix="occur-bench-loop-"))
    models = tuple(m for m in str(args.models).split(",") if m) if args.models else None
    result = loopbench.run(ctx.config, args.source, folder, models)
    if ctx.json:
        ctx.emit_json({**result.__dict__, "fps": result.fps, "overhead_ratio": result.overhead_ratio})
        return ExitStatus.SUCCESS
    ctx.out(f"{result.frames} frames, {result.decisions} decisions in {result.loop_s:.2f} s: {result.fps:.1f} frames/s")
    ctx.table(["stage", "median ms", "p95 ms"], [(k, f"{a:.2f}", f"{b:.2f}") for k, (a, b) in result.stages.items()])
    n = max(result.frames, 1)
    per_frame, camera = 1000 * result.loop_s / n, 1000 * result.camera_s / n
    inference = 1000 * result.inference_s / n
    ctx.out(f"per frame: {per_frame:.2f} ms end to end, of which {camera:.2f} ms reading the replay (decode);")
    ctx.out(
        f"{per_frame - camera:.2f} ms processing, {inference:.2f} ms inside the models: "
        f"ratio {result.overhead_ratio:.2f}"
    )
    first = "-" if result.first_decision_s is None else f"{result.first_decision_s:.2f} s"
    ctx.out(
        f"models loaded in {result.load_s:.2f} s; start to first decision {first}; "
        f"peak RSS {result.peak_rss_mib:.1f} MiB"
    )
    ctx.out(f"resident at the end: {result.anon_rss_mib:.1f} MiB anonymous, {result.file_rss_mib:.1f} MiB file-backed")
    return ExitStatus.SUCCESS


def bench_mqtt(ctx: Context, args: argparse.Namespace) -> int:
    """Print MQTT throughput and latency against the configured broker."""
    import tempfile

    from occur_dev.bench import mqttbench

    if not ctx.config.mqtt.host:
        raise InvalidInputError("bench mqtt needs a broker: set [mqtt] host (and port) in the config")
    if args.events < 1 or args.paced < 1:
        raise InvalidInputError("--events and --paced must be positive")
    folder = args.dir or Path(tempfile.mkdtemp(prefix="occur-bench-mqtt-"))
    result = mqttbench.run(ctx.config, folder, args.events, args.paced)
    if ctx.json:
        ctx.emit_json(result)
        return ExitStatus.SUCCESS
    ctx.out(
        f"{result.events} events through the outbox to {ctx.config.mqtt.host}:{ctx.config.mqtt.port} "
        f"and back to a subscriber: {result.events_per_s:.0f} events/s"
    )
    ctx.out(
        f"commit-to-delivery latency at 100 events/s ({result.latency_events} events): "
        f"median {result.latency_median_ms:.2f} ms, p95 {result.latency_p95_ms:.2f} ms"
    )
    return ExitStatus.SUCCESS

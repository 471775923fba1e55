"""``occur run`` and ``occur status``."""

from __future__ import annotations

import argparse
import json
import shutil
import signal
import threading
from datetime import datetime
from typing import Any

from firmware.cli.common import Context, ExitStatus, add_json_flag, running_loop_pid


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``run`` and ``status``."""
    r = sub.add_parser(
        "run",
        help="run the door: camera, recognition, relay, LEDs, records",
        description="Runs until SIGTERM/SIGINT; the relay is locked at start and on every exit.",
    )
    r.add_argument(
        "--source", metavar="SPEC", help="replay:PATH | opencv:INDEX_OR_URL | picamera2 (default: [camera] source)"
    )
    r.add_argument(
        "--gpio", choices=("real", "mock"), default="real", help="mock: gpiozero MockFactory pins (no hardware)"
    )
    r.add_argument("--until-end", action="store_true", help="stop when a replay source ends")
    r.add_argument("--quiet", action="store_true", help="do not print each decision")
    r.add_argument(
        "--no-backoff", action="store_true", help="start at once even after repeated quick failures (see README)"
    )
    r.set_defaults(handler=run)

    s = sub.add_parser("status", help="is the door running: fps, last frame, decisions, disk, database")
    add_json_flag(s)
    s.set_defaults(handler=status)


def _describe(d: Any) -> str:
    who = d.name or (f"stranger #{d.unknown_id}" if d.unknown_id else "stranger")
    score = "-" if d.score is None else f"{d.score:.3f}"
    extra = "" if d.recorded else " (cooldown: not recorded again)"
    return f"frame {d.frame}: {who}: {'GRANTED' if d.granted else 'denied'} ({d.reason}), score {score}{extra}"


def run(ctx: Context, args: argparse.Namespace) -> int:
    """Run until stopped; exit 0 on a clean stop."""
    from firmware import service

    stop = threading.Event()
    previous = {sig: signal.signal(sig, lambda *_: stop.set()) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        if not args.no_backoff and _wait_after_failures(ctx, stop, args.gpio):
            return ExitStatus.INTERRUPTED
        report = service.run(
            ctx.config,
            args.source,
            args.gpio,
            args.until_end,
            stop,
            None if args.quiet else (lambda d: ctx.out(_describe(d))),
        )
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    first = "-" if report.first_decision_s is None else f"{report.first_decision_s:.2f} s"
    ctx.out(
        f"stopped: {report.frames} frames, {len(report.decisions)} decisions in {report.elapsed_s:.1f} s "
        f"(models loaded in {report.load_s:.2f} s; first decision after {first})"
    )
    return ExitStatus.SUCCESS


def _wait_after_failures(ctx: Context, stop: threading.Event, gpio: str) -> bool:
    """The restart back-off (firmware.platform.restart_backoff), with the relay held locked;
    True when stopped while waiting."""
    import time

    from firmware import service
    from firmware.platform import restart_backoff

    run_dir = ctx.config.paths.root / "run"
    if not ctx.config.paths.root.is_dir():
        return False
    wait = restart_backoff.before_start(run_dir, time.time())
    if not wait:
        return False
    ctx.out(f"waiting {wait:.0f} s before starting, relay held locked: the last runs failed quickly (restart back-off)")
    return service.wait_locked(ctx.config, gpio, stop, wait)


def status(ctx: Context, args: argparse.Namespace) -> int:
    """Print the running loop's status; exit 1 when it is not running."""
    paths = ctx.config.paths
    path = paths.root / "run" / "status.json"
    doc: dict[str, Any] = {}
    if path.exists():
        doc = json.loads(path.read_text())
    running = running_loop_pid(paths.root) is not None
    if doc.get("last_frame_at"):
        doc["last_frame_age_s"] = round(
            datetime.now().astimezone().timestamp() - datetime.fromisoformat(doc["last_frame_at"]).timestamp(), 1
        )
    doc["running"] = running
    if not running and doc.get("mqtt_state") not in (None, "off"):
        doc["mqtt_state"] = f"{doc['mqtt_state']} (when the door last ran)"
    doc["disk_free_mb"] = shutil.disk_usage(paths.root if paths.root.exists() else ".").free // 2**20
    doc["database_mb"] = round(paths.database.stat().st_size / 2**20, 2) if paths.database.exists() else None
    if paths.database.exists() and not running:
        doc["outbox_depth"] = _outbox_depth(ctx)
    if ctx.json:
        ctx.emit_json(doc)
    else:
        ctx.table(["key", "value"], sorted(doc.items()))
    return ExitStatus.SUCCESS if running else ExitStatus.ERROR


def _outbox_depth(ctx: Context) -> int | None:
    """Unsent MQTT messages, read from the database (the loop is not running to say it)."""
    from firmware.errors import OccurError
    from firmware.store import outbox
    from firmware.store.db import reading

    try:
        with reading(ctx.config.paths.database, ctx.db_settings) as conn:
            return outbox.depth(conn)
    except OccurError:
        return None

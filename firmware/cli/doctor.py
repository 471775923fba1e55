"""``occur doctor``: is this door ready (see firmware.device.doctor)."""

from __future__ import annotations

import argparse

from firmware.cli.common import Context, ExitStatus, add_json_flag


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``doctor``."""
    p = sub.add_parser(
        "doctor",
        help="is the door ready: camera, pins, models, broker, clock, disk, memory, updates",
        description="One row per check; exit 0 when the door is ready, 7 when a check failed.",
    )
    p.add_argument("--gpio", choices=("real", "mock"), default="real", help="mock: gpiozero MockFactory pins")
    p.add_argument("--frames", type=int, default=10, help="camera frames to read (default 10)")
    add_json_flag(p)
    p.set_defaults(handler=doctor)


def doctor(ctx: Context, args: argparse.Namespace) -> int:
    """Print the checks and whether the door is ready."""
    from firmware.device import doctor as checks_module

    limits = checks_module.Limits(camera_frames=max(1, args.frames))
    checks = checks_module.run_checks(ctx.config, args.gpio, limits)
    ready = checks_module.ready(checks)
    if ctx.json:
        ctx.emit_json({"ready": ready, "checks": checks})
    else:
        ctx.table(["check", "status", "detail"], [(c.name, c.status, c.detail) for c in checks])
        failed = [c.name for c in checks if c.status == "fail"]
        ctx.out("READY" if ready else f"NOT READY: {', '.join(failed)}")
    return ExitStatus.SUCCESS if ready else ExitStatus.CHECK_FAILED

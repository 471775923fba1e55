"""``occur keys rotate [--resume]``."""

from __future__ import annotations

import argparse

from firmware.cli.common import Context, ExitStatus, add_json_flag


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``keys``."""
    p = sub.add_parser("keys", help="the device data key")
    ksub = p.add_subparsers(dest="keys_command", metavar="ACTION", required=True)
    r = ksub.add_parser("rotate", help="re-seal everything under a new data key (stop occur run first)")
    r.add_argument("--resume", action="store_true", help="finish or undo an interrupted rotation")
    add_json_flag(r)
    r.set_defaults(handler=rotate)


def rotate(ctx: Context, args: argparse.Namespace) -> int:
    """Rotate (or resume); the rotation is logged in the secure log."""
    import dataclasses

    from firmware.security import rotate as rotation

    ctx.refuse_if_running("rotating the key")
    with ctx.open_store(during_rotation=args.resume) as store:
        if args.resume:
            ctx.out(rotation.resume(store, ctx.config.paths))
            return ExitStatus.SUCCESS
        report = rotation.rotate(store, ctx.config.paths, ctx.config.device.id)
    if ctx.json:
        ctx.emit_json(dataclasses.asdict(report))
    else:
        ctx.out(
            f"new data key {report.fingerprint}: {report.user_keys} user keys re-wrapped, "
            f"{report.stranger_templates} stranger templates, {report.log_entries} secure log entries and "
            f"{report.pictures} pictures re-sealed"
        )
    return ExitStatus.SUCCESS

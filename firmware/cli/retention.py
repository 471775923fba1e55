"""``occur retention run``: apply the retention policies now."""

from __future__ import annotations

import argparse

from firmware.cli.common import Context, ExitStatus, add_json_flag


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``retention``."""
    p = sub.add_parser("retention", help="delete what is past its retention policy")
    rsub = p.add_subparsers(dest="retention_command", metavar="ACTION", required=True)
    r = rsub.add_parser("run", help="apply [retention] and [snapshots] keep_days now")
    add_json_flag(r)
    r.set_defaults(handler=run)


def run(ctx: Context, args: argparse.Namespace) -> int:
    """Print what was removed."""
    from firmware.records import retention
    from firmware.security.audit import secure_log

    with ctx.open_store() as store:
        report = retention.run(store, ctx.config, secure_log(ctx.config.paths, ctx.config.device.id))
    if ctx.json:
        ctx.emit_json(report.removed)
    elif report.total:
        ctx.out("removed: " + ", ".join(f"{k} {v}" for k, v in report.removed.items()))
    else:
        ctx.out("nothing is past its retention policy")
    return ExitStatus.SUCCESS

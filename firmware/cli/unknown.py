"""``occur unknown ...``: the strangers the door has seen."""

from __future__ import annotations

import argparse

from firmware.cli.common import Context, ExitStatus, actor, add_json_flag


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``unknown``."""
    u = sub.add_parser("unknown", help="strangers the door has seen")
    usub = u.add_subparsers(dest="unknown_command", metavar="ACTION", required=True)
    ul = usub.add_parser("list", help="strangers, most recent first")
    ul.add_argument("--limit", type=int, default=100)
    add_json_flag(ul)
    ul.set_defaults(handler=unknown_list)
    up = usub.add_parser("promote", help="enrol a stranger from the picture that was kept")
    up.add_argument("id", type=int)
    up.add_argument("name")
    up.add_argument("--role")
    up.add_argument("--email")
    up.add_argument("--consent-by", metavar="WHO", help="who recorded the person's consent")
    up.set_defaults(handler=unknown_promote)


def unknown_list(ctx: Context, args: argparse.Namespace) -> int:
    """Print strangers."""
    from firmware.store.door_records import list_unknown

    with ctx.open_store() as store, store.reader() as conn:
        rows = list_unknown(conn, args.limit)
    if ctx.json:
        ctx.emit_json(rows)
    else:
        ctx.table(
            ["id", "first_seen", "last_seen", "seen", "picture"],
            [(r.id, r.first_seen, r.last_seen, r.seen_count, r.snapshot_path) for r in rows],
        )
    return ExitStatus.SUCCESS


def unknown_promote(ctx: Context, args: argparse.Namespace) -> int:
    """Enrol the stranger's kept picture as a new user, then forget the stranger."""
    from firmware.actions.strangers import promote
    from firmware.vision.engine import FaceEngine

    engine = FaceEngine.load(ctx.config.active_vision().for_photos())
    with ctx.open_store() as store:
        report = promote(store, ctx.config, engine, args.id, args.name, actor(), args.role, args.email, args.consent_by)
    ctx.out(f"stranger {args.id} enrolled as user {report.user_id} ({report.name})")
    for warning in report.warnings:
        ctx.stderr.write(f"warning: {warning}\n")
    return ExitStatus.SUCCESS

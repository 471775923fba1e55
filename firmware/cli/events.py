"""``occur events``: the face and system event log."""

from __future__ import annotations

import argparse

from firmware.cli.common import Context, ExitStatus, add_json_flag, parse_when
from firmware.store.db import reading
from firmware.store.events import list_events


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the command."""
    p = sub.add_parser(
        "events", help="list recent face and system events", description="List recent events, oldest first."
    )
    p.add_argument("--kind", choices=["face", "system"], help="only one kind")
    p.add_argument(
        "--since", metavar="ISO", help="events at or after this time: ISO 8601 with offset, or a date (UTC midnight)"
    )
    p.add_argument("--limit", type=int, default=50, metavar="N", help="newest N events (default 50)")
    add_json_flag(p)
    p.set_defaults(handler=show_events)


def show_events(ctx: Context, args: argparse.Namespace) -> int:
    """Print the newest events."""
    since = parse_when(args.since, "--since")
    with reading(ctx.config.paths.database, ctx.db_settings) as conn:
        rows = list_events(conn, args.kind, since, args.limit)
    if ctx.json:
        ctx.emit_json(rows)
        return ExitStatus.SUCCESS
    ctx.table(
        ["timestamp", "kind", "id", "type", "details"],
        [(e.timestamp, e.kind, e.id, e.event_type, e.detail) for e in rows],
    )
    return ExitStatus.SUCCESS

"""``occur attendance ...``: attendance records."""

from __future__ import annotations

import argparse
from pathlib import Path

from firmware.cli.common import Context, ExitStatus, actor, add_json_flag, parse_when
from firmware.platform.clock import now_iso


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``attendance``."""
    a = sub.add_parser("attendance", help="attendance records: list, mark, correct, export")
    asub = a.add_subparsers(dest="attendance_command", metavar="ACTION", required=True)
    ls = asub.add_parser("list", help="records in a period")
    _period(ls)
    ls.add_argument("--user", help="numeric id or exact name")
    add_json_flag(ls)
    ls.set_defaults(handler=attendance_list)
    mk = asub.add_parser("mark", help="mark a user present by hand (status manual)")
    mk.add_argument("user", help="numeric id or exact name")
    mk.add_argument("--at", metavar="ISO", help="when (default now)")
    mk.set_defaults(handler=attendance_mark)
    co = asub.add_parser("correct", help="fix a record's user or time (status corrected; old values kept in the log)")
    co.add_argument("id", type=int)
    co.add_argument("--user", help="the right user")
    co.add_argument("--at", metavar="ISO", help="the right time")
    co.set_defaults(handler=attendance_correct)
    ex = asub.add_parser("export", help="records in a period as CSV")
    _period(ex)
    ex.add_argument("--csv", type=Path, metavar="FILE", help="write to FILE (default stdout)")
    ex.set_defaults(handler=attendance_export)


def _period(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--from", dest="since", metavar="ISO", help="from (inclusive); a date means its UTC midnight")
    parser.add_argument("--to", dest="until", metavar="ISO", help="to (exclusive)")


def _user_id(conn: object, ref: str | None) -> int | None:
    from firmware.store import users

    return None if ref is None else users.find_user(conn, ref).id  # type: ignore[arg-type]


def attendance_list(ctx: Context, args: argparse.Namespace) -> int:
    """Print records."""
    from firmware.store.attendance import list_attendance

    since, until = parse_when(args.since, "--from"), parse_when(args.until, "--to")
    with ctx.open_store() as store, store.reader() as conn:
        rows = list_attendance(conn, since, until, _user_id(conn, args.user))
    if ctx.json:
        ctx.emit_json(rows)
    else:
        ctx.table(
            ["id", "timestamp", "user", "name", "status", "snapshot"],
            [(r.id, r.timestamp, r.user_id, r.name, r.status, r.snapshot_path) for r in rows],
        )
    return ExitStatus.SUCCESS


def attendance_mark(ctx: Context, args: argparse.Namespace) -> int:
    """Add a manual record."""
    from firmware.actions.attendance import mark_present

    when = parse_when(args.at, "--at") or now_iso()
    with ctx.open_store() as store:
        with store.reader() as conn:
            user_id = _user_id(conn, args.user)
        assert user_id is not None
        row = mark_present(store, ctx.config, user_id, when, actor())
    ctx.out(f"marked user {user_id} present at {when} (record {row}, status manual)")
    return ExitStatus.SUCCESS


def attendance_correct(ctx: Context, args: argparse.Namespace) -> int:
    """Correct a record."""
    from firmware.actions.attendance import correct_record

    when = parse_when(args.at, "--at")
    with ctx.open_store() as store:
        with store.reader() as conn:
            user_id = _user_id(conn, args.user)
        row = correct_record(store, ctx.config, args.id, user_id, when, actor())
    ctx.out(f"record {row.id}: user {row.user_id} ({row.name}) at {row.timestamp}, status {row.status}")
    return ExitStatus.SUCCESS


def attendance_export(ctx: Context, args: argparse.Namespace) -> int:
    """Write CSV (header: id,timestamp,user_id,name,status,snapshot_path)."""
    from firmware.actions.attendance import csv_text, exported
    from firmware.store.attendance import list_attendance

    since, until = parse_when(args.since, "--from"), parse_when(args.until, "--to")
    with ctx.open_store() as store:
        with store.reader() as conn:
            rows = list_attendance(conn, since, until)
        exported(store, ctx.config, len(rows), since, until, actor())
    text = csv_text(rows)
    if args.csv:
        args.csv.write_text(text, encoding="utf-8")
        ctx.out(f"wrote {len(rows)} records to {args.csv}")
    else:
        ctx.stdout.write(text)
    return ExitStatus.SUCCESS

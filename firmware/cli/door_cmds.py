"""``occur attendance ...`` and ``occur unknown ...``."""

from __future__ import annotations

import argparse
import csv
import io
import json
from pathlib import Path

from firmware.cli.common import Context, ExitStatus, add_json_flag, parse_when
from firmware.clock import now_iso
from firmware.errors import NotFoundError


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``attendance`` and ``unknown``."""
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
    from firmware.store.attendance import mark

    when = parse_when(args.at, "--at") or now_iso()
    with ctx.open_store() as store:
        with store.reader() as conn:
            user_id = _user_id(conn, args.user)
        assert user_id is not None
        row = store.write(lambda c: mark(c, user_id, when))
    ctx.out(f"marked user {user_id} present at {when} (record {row}, status manual)")
    return ExitStatus.SUCCESS


def attendance_correct(ctx: Context, args: argparse.Namespace) -> int:
    """Correct a record."""
    from firmware.store.attendance import correct

    when = parse_when(args.at, "--at")
    with ctx.open_store() as store:
        with store.reader() as conn:
            user_id = _user_id(conn, args.user)
        row = store.write(lambda c: correct(c, args.id, now_iso(), user_id, when))
    ctx.out(f"record {row.id}: user {row.user_id} ({row.name}) at {row.timestamp}, status {row.status}")
    return ExitStatus.SUCCESS


def attendance_export(ctx: Context, args: argparse.Namespace) -> int:
    """Write CSV (header: id,timestamp,user_id,name,status,snapshot_path)."""
    from firmware.store.attendance import list_attendance

    since, until = parse_when(args.since, "--from"), parse_when(args.until, "--to")
    with ctx.open_store() as store, store.reader() as conn:
        rows = list_attendance(conn, since, until)
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["id", "timestamp", "user_id", "name", "status", "snapshot_path"])
    writer.writerows([r.id, r.timestamp, r.user_id, r.name, r.status, r.snapshot_path] for r in rows)
    if args.csv:
        args.csv.write_text(buffer.getvalue(), encoding="utf-8")
        ctx.out(f"wrote {len(rows)} records to {args.csv}")
    else:
        ctx.stdout.write(buffer.getvalue())
    return ExitStatus.SUCCESS


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
    from firmware.cli.face_cmds import record_consent, require_consent
    from firmware.recognition.enrol import enrol
    from firmware.store.door_records import forget_unknown, list_unknown
    from firmware.vision.engine import FaceEngine

    consent = require_consent(ctx, args.consent_by)
    engine = FaceEngine.load(ctx.config.active_vision().for_photos())
    with ctx.open_store() as store:
        with store.reader() as conn:
            found = [u for u in list_unknown(conn, 1_000_000) if u.id == args.id]
        if not found or not found[0].snapshot_path:
            raise NotFoundError(f"no stranger {args.id} with a kept picture")
        from firmware.vision.image import decode_image

        kept = found[0].snapshot_path
        image = decode_image(store.sealer.open_picture("unknown", (ctx.config.paths.root / kept).read_bytes()), kept)
        report = enrol(store, engine, args.name, [(kept, image)], args.email, args.role)
        record_consent(ctx, store, report.user_id, consent)
        details = json.dumps({"unknown_id": args.id, "user_id": report.user_id, "picture": found[0].snapshot_path})
        store.write(lambda c: forget_unknown(c, args.id, now_iso(), details))
    ctx.out(f"stranger {args.id} enrolled as user {report.user_id} ({report.name})")
    for warning in report.warnings:
        ctx.stderr.write(f"warning: {warning}\n")
    return ExitStatus.SUCCESS

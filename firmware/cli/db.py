"""``occur db migrate|check|stats|import-legacy|recover``."""

from __future__ import annotations

import argparse
from pathlib import Path

from firmware.cli.common import Context, ExitStatus, add_json_flag
from firmware.errors import InvalidInputError
from firmware.platform.clock import parse_zone
from firmware.store import inspect
from firmware.store.db import reading


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``db`` and its subcommands."""
    db = sub.add_parser("db", help="database maintenance", description="Database maintenance.")
    dsub = db.add_subparsers(dest="db_command", metavar="ACTION", required=True)

    p = dsub.add_parser("migrate", help="create the database or apply pending migrations (backup first)")
    add_json_flag(p)
    p.set_defaults(handler=migrate)

    p = dsub.add_parser("check", help="integrity, foreign key and schema checks; exit 7 on problems")
    p.add_argument("--full", action="store_true", help="integrity_check instead of quick_check")
    add_json_flag(p)
    p.set_defaults(handler=check)

    p = dsub.add_parser("stats", help="row counts, file sizes, versions")
    add_json_flag(p)
    p.set_defaults(handler=stats)

    p = dsub.add_parser("import-legacy", help="import databases written by the original OCCUR-CALL system")
    p.add_argument("--face-events", type=Path, metavar="FILE", help="the original face_events.db")
    p.add_argument("--main-db", type=Path, metavar="FILE", help="the original main database (users, attendance...)")
    p.add_argument(
        "--legacy-tz",
        default="local",
        metavar="ZONE",
        help="zone of naive ISO timestamps written by the original code (default: this machine's)",
    )
    add_json_flag(p)
    p.set_defaults(handler=import_legacy)

    p = dsub.add_parser("recover", help="copy every readable row of a damaged database into a new one")
    add_json_flag(p)
    p.set_defaults(handler=recover_db)


def migrate(ctx: Context, args: argparse.Namespace) -> int:
    """Create or migrate the database and report what was done."""
    with ctx.open_store(create=True) as store:
        report = store.migration
    if ctx.json:
        ctx.emit_json(report)
    elif not report.applied:
        ctx.out(f"{ctx.config.paths.database}: schema v{report.to_version}, nothing to do")
    else:
        if report.adopted_legacy:
            ctx.out("adopted a database written by the original OCCUR-CALL system")
        if report.backup:
            ctx.out(f"backup before migrating: {report.backup}")
        ctx.out(f"migrated v{report.from_version} -> v{report.to_version}: {', '.join(report.applied)}")
    return ExitStatus.SUCCESS


def check(ctx: Context, args: argparse.Namespace) -> int:
    """Check without migrating or writing anything."""
    with reading(ctx.config.paths.database, ctx.db_settings) as conn:
        report = inspect.check(conn, full=args.full)
    if ctx.json:
        ctx.emit_json({"ok": report.ok, "problems": report.problems, "version": report.version})
    else:
        for problem in report.problems:
            ctx.out(problem)
        ctx.out(f"{ctx.config.paths.database}: {'ok' if report.ok else 'PROBLEMS FOUND'} (schema v{report.version})")
    return ExitStatus.SUCCESS if report.ok else ExitStatus.CHECK_FAILED


def stats(ctx: Context, args: argparse.Namespace) -> int:
    """Print counts and sizes."""
    path = ctx.config.paths.database
    with reading(path, ctx.db_settings) as conn:
        result = inspect.stats(conn, path)
    if ctx.json:
        ctx.emit_json(result)
        return ExitStatus.SUCCESS
    ctx.out(f"database        {result.path}")
    ctx.out(f"sqlite          {result.sqlite_version} (apsw {result.apsw_version}), schema v{result.schema_version}")
    ctx.out(f"size            {result.file_bytes} bytes + WAL {result.wal_bytes} bytes")
    ctx.out(f"pages           {result.page_count} x {result.page_size} bytes, {result.freelist_count} free")
    ctx.table(["table", "rows"], sorted(result.tables.items()))
    return ExitStatus.SUCCESS


def import_legacy(ctx: Context, args: argparse.Namespace) -> int:
    """Import the original system's databases; safe to run again."""
    if args.face_events is None and args.main_db is None:
        raise InvalidInputError("give --face-events FILE, --main-db FILE, or both")
    try:
        zone = parse_zone(args.legacy_tz)
    except ValueError as err:
        raise InvalidInputError(str(err)) from err
    from firmware.store import legacy  # hashlib/OpenSSL: loaded only for this command

    with ctx.open_store(create=True) as store:
        report = legacy.import_legacy(store, face_events=args.face_events, main_db=args.main_db, naive_zone=zone)
    status = ExitStatus.ERROR if report.refused else ExitStatus.SUCCESS
    if ctx.json:
        ctx.emit_json(report)
        return status
    rows = [
        (t.source_file, t.source_table, t.target_table, t.found, t.imported, t.already, len(t.refused))
        for t in report.tables
    ]
    ctx.table(["file", "table", "into", "found", "imported", "already there", "refused"], rows)
    ctx.out(f"imported {report.imported} rows, {report.already} were already imported, {report.refused} refused")
    for table in report.tables:
        for refusal in table.refused:
            print(f"occur: refused {table.source_table} row {refusal.rowid}: {refusal.reason}", file=ctx.stderr)
    return status


def recover_db(ctx: Context, args: argparse.Namespace) -> int:
    """Salvage a damaged database; the damaged file is kept beside it."""
    from firmware.store import recover

    result = recover.recover(ctx.config.paths)
    if ctx.json:
        ctx.emit_json(result)
        return ExitStatus.SUCCESS
    ctx.out(f"damaged file kept as {result.damaged_copy}")
    ctx.table(
        ["table", "rows recovered", "rows lost"],
        [
            (t, r, "unreadable" if t in result.unreadable else result.lost.get(t, 0))
            for t, r in result.recovered.items()
        ],
    )
    for table in result.unreadable:
        print(f"occur: table {table} could not be read at all: its rows are lost", file=ctx.stderr)
    ctx.out(f"new database: {result.database} (integrity ok)")
    return ExitStatus.SUCCESS

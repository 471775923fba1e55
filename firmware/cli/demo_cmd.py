"""``occur demo``: show the appliance's storage system working, on a scratch folder."""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from firmware.cli.common import Context, ExitStatus


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the command."""
    p = sub.add_parser("demo", help="run the storage demo on a scratch data folder", description=__doc__)
    p.add_argument("--into", type=Path, metavar="DIR", help="empty folder to use (default: a new temporary folder)")
    p.set_defaults(handler=demo)


def demo(ctx: Context, args: argparse.Namespace) -> int:
    """Run the demo and print what happened; exit 7 if the final checks fail."""
    from firmware import demo as demo_module

    folder = args.into or Path(tempfile.mkdtemp(prefix="occur-demo-"))
    report = demo_module.run(folder)
    ctx.out(f"OCCUR-CALL storage demo in {report.data_dir}")
    ctx.out("")
    ctx.out("1. Import of the original system's databases (face_events.db + main database):")
    ctx.table(
        ["table", "into", "found", "imported"],
        [(t.source_table, t.target_table, t.found, t.imported) for t in report.first_import.tables],
    )
    ctx.out(
        f"   second run of the same import: {report.second_import.imported} new rows, "
        f"{report.second_import.already} recognised as already imported"
    )
    ctx.out("")
    ctx.out(f"2. {report.events_logged} face events from 4 threads via the store (the path of firmware.compat),")
    ctx.out(f"   each durable before returning: {report.commits} commits (group commit)")
    ctx.out("")
    ctx.out("3. Most recent events:")
    ctx.table(
        ["timestamp", "kind", "type", "details"], [(e.timestamp, e.kind, e.event_type, e.detail) for e in report.recent]
    )
    ctx.out("")
    ctx.out("4. Row counts:")
    ctx.table(["table", "rows"], sorted(report.stats.tables.items()))
    ctx.out("")
    verdict = "ok" if report.check.ok else "FAILED: " + "; ".join(report.check.problems)
    ctx.out(f"5. integrity_check, foreign_key_check, schema check: {verdict}")
    ctx.out("")
    ctx.out(f"Explore it: .venv/bin/occur --data-dir {report.data_dir} events --limit 20")
    return ExitStatus.SUCCESS if report.check.ok else ExitStatus.CHECK_FAILED

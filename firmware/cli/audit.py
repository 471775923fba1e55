"""``occur audit list|verify|checkpoint``: the secure log."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from firmware.cli.common import Context, ExitStatus, add_json_flag, parse_when
from firmware.errors import InvalidInputError
from firmware.store import secure_log as secure_log_rows


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``audit``."""
    p = sub.add_parser("audit", help="the secure log: who did what to personal data, tamper-evident")
    asub = p.add_subparsers(dest="audit_command", metavar="ACTION", required=True)
    ls = asub.add_parser("list", help="decrypted entries (this reading is logged too)")
    ls.add_argument("--user", help="only this user id")
    ls.add_argument("--from", dest="since", metavar="ISO")
    ls.add_argument("--to", dest="until", metavar="ISO")
    add_json_flag(ls)
    ls.set_defaults(handler=audit_list)
    vf = asub.add_parser(
        "verify",
        help="check the chain, every seal, the signed checkpoints, the counter and the head file; exit 7 if not",
    )
    vf.add_argument(
        "--checkpoint",
        type=Path,
        metavar="FILE",
        help="also compare with a checkpoint kept off the device (the JSON published on <prefix>/audit)",
    )
    add_json_flag(vf)
    vf.set_defaults(handler=audit_verify)
    cp = asub.add_parser("checkpoint", help="sign the chain head now (also queued for MQTT)")
    cp.set_defaults(handler=audit_checkpoint)


def audit_list(ctx: Context, args: argparse.Namespace) -> int:
    """Print entries."""
    from firmware.security.audit import audit, secure_log

    since, until = parse_when(args.since, "--from"), parse_when(args.until, "--to")
    with ctx.open_store() as store:
        log = secure_log(ctx.config.paths, ctx.config.device.id)
        with store.reader() as conn:
            entries = log.entries(conn, args.user, since, until)
        audit(
            store,
            ctx.config.paths,
            "audit_read",
            {"user": args.user, "from": since, "to": until, "entries": len(entries)},
        )
    if ctx.json:
        ctx.emit_json(entries)
    else:
        ctx.table(
            ["seq", "timestamp", "type", "user", "data"],
            [(e.seq, e.timestamp, e.event_type, e.user_id, str(e.data)[:80]) for e in entries],
        )
    return ExitStatus.SUCCESS


CANNOT_PROVE = (
    "this cannot prove that the log, its counter and its head file were not rewritten together by someone "
    "holding this device's keys: compare with a checkpoint kept off the device (--checkpoint FILE)"
)


def audit_verify(ctx: Context, args: argparse.Namespace) -> int:
    """Verify; exit 7 naming the first problem."""
    from firmware.security.audit import secure_log

    held = None
    if args.checkpoint is not None:
        try:
            held = json.loads(args.checkpoint.read_text())
        except (OSError, ValueError) as err:
            raise InvalidInputError(f"{args.checkpoint}: not a readable checkpoint: {err}") from err
    with ctx.open_store() as store, store.reader() as conn:
        log = secure_log(ctx.config.paths, ctx.config.device.id)
        problems = log.verify(conn)
        if held is not None:
            problems += log.verify_held(conn, held)
        count = secure_log_rows.count(conn)
    if ctx.json:
        ctx.emit_json({"entries": count, "intact": not problems, "problems": problems, "cannot_prove": CANNOT_PROVE})
    elif problems:
        for problem in problems:
            print(f"occur: audit: {problem}", file=ctx.stderr)
    else:
        compared = f"; it holds the checkpoint given at entry {held['seq']}" if held is not None else ""
        ctx.out(f"secure log intact: {count} entries, chain, checkpoints, counter and head file verified{compared}")
        ctx.out(CANNOT_PROVE)
    return ExitStatus.CHECK_FAILED if problems else ExitStatus.SUCCESS


def audit_checkpoint(ctx: Context, args: argparse.Namespace) -> int:
    """Sign the head."""
    from firmware.security.audit import secure_log

    with ctx.open_store() as store:
        log = secure_log(ctx.config.paths, ctx.config.device.id)
        seq = store.write(log.checkpoint)
    ctx.out("secure log is empty: nothing to sign" if seq is None else f"checkpoint signed at entry {seq}")
    return ExitStatus.SUCCESS

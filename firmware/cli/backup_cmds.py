"""``occur backup create|list|restore``."""

from __future__ import annotations

import argparse
from pathlib import Path

from firmware.cli.common import Context, ExitStatus, add_json_flag
from firmware.errors import InvalidInputError


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``backup``."""
    p = sub.add_parser("backup", help="backups: a local copy for repairs, and archives sealed to the operator")
    bsub = p.add_subparsers(dest="backup_command", metavar="ACTION", required=True)
    c = bsub.add_parser("create", help="back up now (then rotate)")
    add_json_flag(c)
    c.set_defaults(handler=create)
    ls = bsub.add_parser("list", help="backups, newest first")
    add_json_flag(ls)
    ls.set_defaults(handler=list_)
    pu = bsub.add_parser("push", help="PUT the sealed archives not yet confirmed to [backup] push_url")
    add_json_flag(pu)
    pu.set_defaults(handler=push)

    r = bsub.add_parser("restore", help="replace the database and enrolment chips with an archive's (checked first)")
    r.add_argument("archive", type=Path)
    r.add_argument("--key", type=Path, required=True, metavar="FILE", help="the operator's X25519 private key (hex)")
    r.set_defaults(handler=restore)


def create(ctx: Context, args: argparse.Namespace) -> int:
    """Create a backup."""
    from firmware import backup
    from firmware.security.audit import audit

    with ctx.open_store(create=True) as store:
        written = backup.create(store, ctx.config)
        audit(store, ctx.config.paths, "backup", {"files": [p.name for p in written]}, device_id=ctx.config.device.id)
    if ctx.json:
        ctx.emit_json([str(p) for p in written])
    else:
        for path in written:
            ctx.out(f"wrote {path}")
        if len(written) == 1:
            ctx.out("no [backup] operator_public_key_file: only the local copy was made")
    return ExitStatus.SUCCESS


def list_(ctx: Context, args: argparse.Namespace) -> int:
    """List backups."""
    from firmware import backup

    found = backup.list_backups(ctx.config.paths)
    if ctx.json:
        ctx.emit_json(found)
    else:
        ctx.table(["file", "kind", "bytes"], [(b.path.name, b.kind, b.size) for b in found])
    return ExitStatus.SUCCESS


def restore(ctx: Context, args: argparse.Namespace) -> int:
    """Restore an archive; refuses while the door loop runs."""
    from firmware import backup
    from firmware.security.audit import audit
    from firmware.security.keys import IntegrityError

    ctx.refuse_if_running("restoring")
    try:
        key = bytes.fromhex(args.key.read_text().strip())
    except (OSError, ValueError) as err:
        raise InvalidInputError(f"{args.key}: not a readable hex private key") from err
    try:
        result = backup.restore(ctx.config.paths, args.archive, key)
    except IntegrityError as err:
        print(f"occur: error: backup refused, nothing was changed: {err}", file=ctx.stderr)
        return ExitStatus.CHECK_FAILED
    with ctx.open_store() as store:
        audit(
            store, ctx.config.paths, "restore", {"archive": args.archive.name, **result}, device_id=ctx.config.device.id
        )
    ctx.out(f"restored {args.archive.name}: {result['files']} files, {result['keys_carried_over']} user keys kept")
    return ExitStatus.SUCCESS


def push(ctx: Context, args: argparse.Namespace) -> int:
    """Push; exit 1 when an archive could not be delivered (it is kept and retried next time)."""
    from firmware import backup_push

    if not ctx.config.backup.push_url:
        raise InvalidInputError("set [backup] push_url to push backups")
    with ctx.open_store() as store:
        report = backup_push.push(store, ctx.config)
    if ctx.json:
        ctx.emit_json(report)
    else:
        for name in report.pushed:
            ctx.out(f"pushed {name}")
        for name, error in report.failed.items():
            print(f"occur: could not push {name} (kept, retried next time): {error}", file=ctx.stderr)
    return ExitStatus.ERROR if report.failed else ExitStatus.SUCCESS

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

    r = bsub.add_parser(
        "restore",
        help="replace the database and enrolment chips with an archive's or a migration export's (checked first)",
    )
    r.add_argument("archive", type=Path)
    r.add_argument("--key", type=Path, required=True, metavar="FILE", help="the operator's X25519 private key (hex)")
    r.add_argument(
        "--allow-reenrolment",
        action="store_true",
        help="go on although the people named would no longer be recognised (they must enrol again)",
    )
    r.set_defaults(handler=restore)
    m = bsub.add_parser(
        "migration-export",
        help="move this door to new hardware: an archive sealed to the operator that carries the keys (not kept here)",
    )
    m.add_argument("out", type=Path, metavar="FILE", help="where to write it, outside the data folder")
    add_json_flag(m)
    m.set_defaults(handler=migration_export)


def create(ctx: Context, args: argparse.Namespace) -> int:
    """Create a backup."""
    from firmware.backup import archive as backup
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
    from firmware.backup import archive as backup

    found = backup.list_backups(ctx.config.paths)
    if ctx.json:
        ctx.emit_json(found)
    else:
        ctx.table(["file", "kind", "bytes"], [(b.path.name, b.kind, b.size) for b in found])
    return ExitStatus.SUCCESS


def restore(ctx: Context, args: argparse.Namespace) -> int:
    """Restore an archive or a migration export; refuses while the door loop runs, and names
    who would have to enrol again before changing anything."""
    from firmware.backup import migration
    from firmware.crypto.keys import IntegrityError
    from firmware.security.audit import audit

    ctx.refuse_if_running("restoring")
    try:
        key = bytes.fromhex(args.key.read_text().strip())
    except (OSError, ValueError) as err:
        raise InvalidInputError(f"{args.key}: not a readable hex private key") from err
    try:
        plan = migration.restore(ctx.config.paths, args.archive, key, args.allow_reenrolment)
    except (IntegrityError, migration.ReenrolmentNeededError) as err:
        print(f"occur: error: restore refused, nothing was changed: {err}", file=ctx.stderr)
        return ExitStatus.CHECK_FAILED
    entry = {
        "archive": args.archive.name,
        "kind": plan.kind,
        "from_device": plan.source_device,
        "same_device": plan.same_device,
        "files": plan.files,
        "keys_carried_over": plan.keys_carried,
        "must_enrol_again": [uid for uid, _ in plan.reenrol],
        "secure_log_left_in_archive": plan.log_left_behind,
        "old_head": plan.old_head,
    }
    kind = "device_migration" if plan.kind == "migration" else "restore"
    with ctx.open_store() as store:
        audit(store, ctx.config.paths, kind, entry, device_id=ctx.config.device.id)
    if plan.kind == "migration":
        how = f"moved from device {plan.source_device or '?'}; every key re-sealed for this device"
    elif plan.same_device:
        how = f"{plan.keys_carried} user keys kept"
    else:
        how = f"made by another device; its secure log ({plan.log_left_behind} entries) stays in the archive"
    ctx.out(f"restored {args.archive.name}: {plan.files} files, {plan.users} people; {how}")
    if plan.reenrol:
        ctx.out(f"these people must enrol again to be recognised: {plan.names()}")
    return ExitStatus.SUCCESS


def migration_export(ctx: Context, args: argparse.Namespace) -> int:
    """Write the migration export where the operator asks (never into the backups folder)."""
    from firmware.backup import migration
    from firmware.security.audit import audit

    with ctx.open_store() as store:
        result = migration.export(store, ctx.config, args.out)
        note = "carries the user keys: erasures made here later do not reach it; restore it, then delete it"
        audit(
            store,
            ctx.config.paths,
            "migration_export",
            {"file": args.out.name, "users": result["users"], "note": note},
            device_id=ctx.config.device.id,
        )
    if ctx.json:
        ctx.emit_json(result)
    else:
        ctx.out(f"wrote {args.out}: {result['users']} people, sealed to the operator's key")
        ctx.out(f"it {note}")
    return ExitStatus.SUCCESS


def push(ctx: Context, args: argparse.Namespace) -> int:
    """Push; exit 1 when an archive could not be delivered (it is kept and retried next time)."""
    from firmware.backup import push as backup_push

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

"""``occur users add|list|remove``."""

from __future__ import annotations

import argparse
import dataclasses

from firmware.cli.common import Context, ExitStatus, actor, add_json_flag
from firmware.store import users


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``users`` and its subcommands."""
    p = sub.add_parser("users", help="manage users", description="Manage the people the door knows.")
    usub = p.add_subparsers(dest="users_command", metavar="ACTION", required=True)

    a = usub.add_parser("add", help="add a user")
    a.add_argument("name")
    a.add_argument("--email")
    a.add_argument("--role", help="role used by the door's access policy (e.g. staff, visitor)")
    add_json_flag(a)
    a.set_defaults(handler=add)

    ls = usub.add_parser("list", help="list users")
    add_json_flag(ls)
    ls.set_defaults(handler=list_)

    for action in ("enable", "disable"):
        e = usub.add_parser(action, help=f"{action} a user at every door (their records stay)")
        e.add_argument("user", help="numeric id or exact name")
        e.set_defaults(handler=set_active, active=action == "enable")

    f = usub.add_parser(
        "forget", help="erase a person: encodings, chips, snapshots; events pseudonymised; prints a receipt"
    )
    f.add_argument("user", help="numeric id or exact name")
    add_json_flag(f)
    f.set_defaults(handler=forget)

    r = usub.add_parser("remove", help="remove a user (by id or exact name)")
    r.add_argument("user", help="numeric id or exact name")
    r.add_argument("--delete-attendance", action="store_true", help="also delete the user's attendance records")
    add_json_flag(r)
    r.set_defaults(handler=remove)


def add(ctx: Context, args: argparse.Namespace) -> int:
    """Add a user and print its id."""
    users.validate_user(args.name, args.email, args.role)
    with ctx.open_store(create=True) as store:
        user_id = store.write(lambda c: users.add_user(c, args.name, args.email, args.role))
        with store.reader() as conn:
            user = users.find_user(conn, user_id)
    if ctx.json:
        ctx.emit_json(user)
    else:
        ctx.out(f"added user {user.id}: {user.name}")
    return ExitStatus.SUCCESS


def list_(ctx: Context, args: argparse.Namespace) -> int:
    """Print all users."""
    from firmware.store.encodings import encoding_counts

    with ctx.open_store() as store, store.reader() as conn:
        rows = users.list_users(conn)
        counts = encoding_counts(conn)
    if ctx.json:
        ctx.emit_json([{**dataclasses.asdict(u), "encodings": counts.get(u.id, {})} for u in rows])
    else:
        ctx.table(
            ["id", "name", "active", "email", "role", "created_at", "encodings", "legacy encoding"],
            [
                (
                    u.id,
                    u.name,
                    "yes" if u.active else "no",
                    u.email,
                    u.role,
                    u.created_at,
                    " ".join(f"{m}:{n}" for m, n in sorted(counts.get(u.id, {}).items())) or None,
                    "yes" if u.has_face_encoding else "no",
                )
                for u in rows
            ],
        )
    return ExitStatus.SUCCESS


def remove(ctx: Context, args: argparse.Namespace) -> int:
    """Remove a user."""
    from firmware.recognition.enrol import delete_chips

    with ctx.open_store() as store:
        user, history = store.write(lambda c: users.remove_user(c, args.user, args.delete_attendance))
    chips = delete_chips(ctx.config.paths, user.id)
    from firmware.security.audit import audit

    with ctx.open_store() as store:
        audit(
            store,
            ctx.config.paths,
            "user_removed",
            {"name": user.name, "attendance_deleted": history, "face_samples_deleted": chips},
            user.id,
        )
    if ctx.json:
        ctx.emit_json({"removed": user, "attendance_deleted": history, "face_samples_deleted": chips})
    else:
        extra = f" and {history} attendance records" if history else ""
        ctx.out(f"removed user {user.id} ({user.name}){extra}; {chips} face sample image(s) deleted")
    return ExitStatus.SUCCESS


def set_active(ctx: Context, args: argparse.Namespace) -> int:
    """Enable or disable a user."""
    from firmware.actions.people import set_active as change

    with ctx.open_store() as store:
        with store.reader() as conn:
            user_id = users.find_user(conn, args.user).id
        user = change(store, ctx.config, user_id, args.active, actor())
    ctx.out(f"user {user.id} ({user.name}) {'enabled' if args.active else 'disabled'}")
    return ExitStatus.SUCCESS


def forget(ctx: Context, args: argparse.Namespace) -> int:
    """Erase a user and print the receipt (also kept in the secure log)."""
    from firmware.actions.people import forget_person

    with ctx.open_store() as store:
        receipt, seq = forget_person(store, ctx.config, args.user, actor())
    if ctx.json:
        ctx.emit_json({**dataclasses.asdict(receipt), "secure_log_entry": seq})
    else:
        ctx.out(
            f"erased user {receipt.user_id}: {receipt.encodings} encodings, {receipt.samples} samples, "
            f"{receipt.files_deleted} files; {receipt.attendance_detached} attendance records detached, "
            f"{receipt.events_pseudonymised} events now refer to {receipt.pseudonym}; "
            f"receipt in the secure log, entry {seq}"
        )
    return ExitStatus.SUCCESS

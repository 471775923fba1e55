"""``occur web ...``: console accounts, API tokens and the console's TLS certificate.

There is no default account: ``occur web add-admin NAME`` (or provisioning) makes the first.
Passwords are read from ``--password-file``, else asked twice on a terminal, else one line of
standard input; they never appear on the command line.
"""

from __future__ import annotations

import argparse
import getpass
import socket
import sys
from pathlib import Path

from firmware.cli.common import Context, ExitStatus, actor, add_json_flag
from firmware.errors import InvalidInputError


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``web`` and its subcommands."""
    p = sub.add_parser("web", help="web console: accounts, API tokens, certificate")
    wsub = p.add_subparsers(dest="web_command", metavar="ACTION", required=True)
    for name, text, role in (("add-admin", "add an admin account", "admin"), ("add-account", "add an account", None)):
        a = wsub.add_parser(name, help=text)
        a.add_argument("name")
        if role is None:
            a.add_argument("--role", choices=("admin", "viewer"), default="viewer")
        a.add_argument("--password-file", type=Path, metavar="FILE", help="read the password from FILE's first line")
        a.set_defaults(handler=add_account, role=role or "viewer")
    pw = wsub.add_parser("passwd", help="set an account's password (also clears a lock-out)")
    pw.add_argument("name")
    pw.add_argument("--password-file", type=Path, metavar="FILE")
    pw.set_defaults(handler=passwd)
    ls = wsub.add_parser("accounts", help="list accounts")
    add_json_flag(ls)
    ls.set_defaults(handler=list_accounts)
    for name, text, handler in (
        ("unlock-account", "clear an account's lock-out", unlock_account),
        ("remove-account", "remove an account (not the last admin)", remove_account),
        ("revoke-token", "revoke an API token", revoke_token),
    ):
        q = wsub.add_parser(name, help=text)
        q.add_argument("name")
        q.set_defaults(handler=handler)
    t = wsub.add_parser("add-token", help="make an API token (printed once)")
    t.add_argument("name")
    t.add_argument("--scopes", required=True, help="comma-separated: read, unlock, enrol")
    t.set_defaults(handler=add_token)
    tl = wsub.add_parser("tokens", help="list API tokens")
    add_json_flag(tl)
    tl.set_defaults(handler=list_tokens)
    c = wsub.add_parser("cert", help="make the console's self-signed certificate (if missing) and print its pins")
    c.add_argument("--name", action="append", default=[], help="another DNS name or IP address for it (repeatable)")
    c.add_argument("--force", action="store_true", help="replace an existing certificate")
    c.set_defaults(handler=cert)


def read_password(path: Path | None) -> str:
    """The new password, from a file, a terminal (asked twice) or standard input.

    Raises:
        InvalidInputError: unreadable file, or the two entries differ.
    """
    if path is not None:
        try:
            return path.read_text(encoding="utf-8").splitlines()[0] if path.stat().st_size else ""
        except (OSError, IndexError) as err:
            raise InvalidInputError(f"--password-file {path}: cannot read a password ({err})") from err
    if sys.stdin.isatty():
        first = getpass.getpass("New password: ")
        if getpass.getpass("Again: ") != first:
            raise InvalidInputError("the two passwords differ")
        return first
    return sys.stdin.readline().rstrip("\r\n")


def _audit(ctx: Context, store: object, event: str, data: dict[str, object]) -> None:
    from firmware.security.audit import audit

    audit(store, ctx.config.paths, event, {**data, "by": actor()}, device_id=ctx.config.device.id)  # type: ignore[arg-type]


def add_account(ctx: Context, args: argparse.Namespace) -> int:
    """Add an account."""
    from firmware.security import accounts

    password = read_password(args.password_file)
    with ctx.open_store(create=True) as store:
        account = accounts.create(store, args.name, args.role, password, actor())
        _audit(ctx, store, "web_account_added", {"name": account.name, "role": account.role})
    ctx.out(f"added {account.role} account {account.name}")
    return ExitStatus.SUCCESS


def passwd(ctx: Context, args: argparse.Namespace) -> int:
    """Set a password."""
    from firmware.security import accounts

    password = read_password(args.password_file)
    with ctx.open_store() as store:
        accounts.set_password(store, args.name, password)
        _audit(ctx, store, "web_account_password", {"name": args.name})
    ctx.out(f"password of {args.name} changed")
    return ExitStatus.SUCCESS


def list_accounts(ctx: Context, args: argparse.Namespace) -> int:
    """Print accounts."""
    from firmware.store import web_accounts

    with ctx.open_store() as store, store.reader() as conn:
        rows = web_accounts.list_accounts(conn)
    if ctx.json:
        ctx.emit_json(rows)
    else:
        ctx.table(
            ["name", "role", "created_at", "last_login_at", "locked_until"],
            [(a.name, a.role, a.created_at, a.last_login_at, a.locked_until) for a in rows],
        )
    return ExitStatus.SUCCESS


def unlock_account(ctx: Context, args: argparse.Namespace) -> int:
    """Clear a lock-out."""
    from firmware.store import web_accounts

    with ctx.open_store() as store:
        store.write(lambda c: web_accounts.unlock(c, args.name))
        _audit(ctx, store, "web_account_unlock", {"name": args.name})
    ctx.out(f"account {args.name} unlocked")
    return ExitStatus.SUCCESS


def remove_account(ctx: Context, args: argparse.Namespace) -> int:
    """Remove an account."""
    from firmware.security import accounts

    with ctx.open_store() as store:
        store.write(lambda c: accounts.remove(c, args.name))
        _audit(ctx, store, "web_account_remove", {"name": args.name})
    ctx.out(f"account {args.name} removed")
    return ExitStatus.SUCCESS


def add_token(ctx: Context, args: argparse.Namespace) -> int:
    """Make a token and print it (the only time it is shown)."""
    from firmware.security import tokens

    scopes = tokens.parse_scopes(args.scopes)
    with ctx.open_store() as store:
        token, _id = store.write(lambda c: tokens.insert_token(c, args.name, scopes, actor()))
        _audit(ctx, store, "api_token_added", {"name": args.name, "scopes": list(scopes)})
    ctx.out(token)
    return ExitStatus.SUCCESS


def list_tokens(ctx: Context, args: argparse.Namespace) -> int:
    """Print tokens (never their values)."""
    from firmware.store import api_tokens

    with ctx.open_store() as store, store.reader() as conn:
        rows = api_tokens.list_tokens(conn)
    if ctx.json:
        ctx.emit_json(rows)
    else:
        ctx.table(
            ["name", "scopes", "created_at", "created_by", "last_used_at", "revoked_at"],
            [(t.name, ",".join(t.scopes), t.created_at, t.created_by, t.last_used_at, t.revoked_at) for t in rows],
        )
    return ExitStatus.SUCCESS


def revoke_token(ctx: Context, args: argparse.Namespace) -> int:
    """Revoke a token."""
    from firmware.store import api_tokens

    with ctx.open_store() as store:
        store.write(lambda c: api_tokens.revoke(c, args.name))
        _audit(ctx, store, "api_token_revoked", {"name": args.name})
    ctx.out(f"token {args.name} revoked")
    return ExitStatus.SUCCESS


def default_names(device_id: str) -> list[str]:
    """Names a self-signed console certificate covers: the device id, this host, loopback."""
    host = socket.gethostname()
    names = [device_id, f"{device_id}.local", host, f"{host}.local", "localhost", "127.0.0.1", "::1"]
    return list(dict.fromkeys(n for n in names if n))


def cert(ctx: Context, args: argparse.Namespace) -> int:
    """Make the certificate unless one exists; print its SHA-256 fingerprint and SPKI pin."""
    from firmware.crypto.keys import certificate_fingerprint, certificate_spki_sha256, make_tls_certificate
    from firmware.web.routes import certificate_files

    cert_file, key_file = certificate_files(ctx.config)
    if args.force or not cert_file.exists():
        if ctx.config.web.cert_file:
            raise InvalidInputError(f"[web] cert_file is set ({cert_file}): the operator supplies that certificate")
        make_tls_certificate(key_file, cert_file, default_names(ctx.config.device.id) + args.name)
        ctx.out(f"wrote {cert_file} and {key_file}")
    pem = cert_file.read_bytes()
    ctx.out(f"SHA-256 fingerprint: {certificate_fingerprint(pem)}")
    ctx.out(f"public key pin (sha256, base64): {certificate_spki_sha256(pem)}")
    return ExitStatus.SUCCESS

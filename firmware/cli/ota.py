"""``occur ota check|apply|rollback|status``: signed model updates (see ``firmware.ota``)."""

from __future__ import annotations

import argparse
from dataclasses import asdict
from typing import TYPE_CHECKING

from firmware.cli.common import Context, ExitStatus, add_json_flag

if TYPE_CHECKING:
    from firmware.ota.install import Outcome


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``ota``."""
    p = sub.add_parser("ota", help="model updates from the TUF repository in [ota]")
    osub = p.add_subparsers(dest="ota_command", metavar="ACTION", required=True)
    for name, text, handler in (
        ("check", "ask the repository; exit 0 up to date, 10 an update is available", check),
        ("apply", "download, verify, self-test, re-embed and switch to the channel's bundle", apply),
        ("rollback", "return to the previous models", rollback),
        ("status", "installed, previous and offered releases and the last result", status),
    ):
        q = osub.add_parser(name, help=text)
        add_json_flag(q)
        q.set_defaults(handler=handler)


UPDATE_AVAILABLE = 10


def _show(ctx: Context, outcome: Outcome) -> None:
    if ctx.json:
        ctx.emit_json(asdict(outcome))
    else:
        ctx.out(f"{outcome.status}: {outcome.detail or outcome.release}")


def check(ctx: Context, args: argparse.Namespace) -> int:
    """Report whether the channel offers another release than the running one."""
    from firmware.ota.install import Installer

    outcome, _offer = Installer(ctx.config).check()
    _show(ctx, outcome)
    return UPDATE_AVAILABLE if outcome.status == "available" else ExitStatus.SUCCESS


def apply(ctx: Context, args: argparse.Namespace) -> int:
    """Install the channel's bundle; the running door switches to it within seconds."""
    from firmware.ota.install import Installer

    with ctx.open_store(create=True) as store:
        _show(ctx, Installer(ctx.config, store).apply())
    return ExitStatus.SUCCESS


def rollback(ctx: Context, args: argparse.Namespace) -> int:
    """Switch back to the previous release."""
    from firmware.ota.install import Installer

    with ctx.open_store(create=True) as store:
        _show(ctx, Installer(ctx.config, store).rollback())
    return ExitStatus.SUCCESS


def status(ctx: Context, args: argparse.Namespace) -> int:
    """Print the update state."""
    from firmware.ota.install import Installer

    doc = Installer(ctx.config).status()
    if ctx.json:
        ctx.emit_json(doc)
    else:
        for key, value in doc.items():
            ctx.out(f"{key:15} {value if value is not None else '-'}")
    return ExitStatus.SUCCESS

"""``occur provision SETTINGS [--root DIR] [--force]``: first boot (see firmware.device.provision)."""

from __future__ import annotations

import argparse
from pathlib import Path

from firmware.cli.common import Context, ExitStatus


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``provision``."""
    p = sub.add_parser("provision", help="first boot: device identity, keys, config, systemd units")
    p.add_argument("settings", type=Path, help="the settings file on the boot partition")
    p.add_argument("--root", type=Path, default=Path("/"), help="root folder to provision (default /)")
    p.add_argument("--force", action="store_true", help="provision again")
    p.add_argument(
        "--user",
        metavar="NAME",
        help="the service user (occur on an image): owns the data folder, may read /etc/occur (default: no change)",
    )
    p.set_defaults(handler=provision)


def provision(ctx: Context, args: argparse.Namespace) -> int:
    """Provision and print the device id."""
    from firmware.device import provision as provisioning
    from firmware.platform.install import install_dir

    report = provisioning.provision(args.settings, args.root, install_dir(), args.force, args.user)
    ctx.out(f"provisioned device {report.device_id}: {len(report.files)} files written under {args.root}")
    if report.web_fingerprint:
        ctx.out(f"web console certificate SHA-256: {report.web_fingerprint}")
    return ExitStatus.SUCCESS

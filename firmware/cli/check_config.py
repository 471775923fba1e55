"""``occur check-config FILE``: validate a config file and name every bad key, including files
it refers to that are missing or unreadable (secrets, certificates, keys, the OTA root), then say
whether the door can name anyone with it (calibration, gallery size, threshold)."""

from __future__ import annotations

import argparse
from pathlib import Path

from firmware import config as config_module
from firmware.cli.common import Context, ExitStatus
from firmware.errors import ConfigError


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the command."""
    parser = sub.add_parser("check-config", help="validate a config file", description=__doc__)
    parser.add_argument("file", type=Path, help="the TOML file to check")
    parser.set_defaults(handler=check_config)


def check_config(ctx: Context, args: argparse.Namespace) -> int:
    """Exit 0 when the file is valid, 3 (CONFIG) with one line per offending key otherwise."""
    from firmware.config import files

    try:
        config = config_module.load(args.file, environ={})
        problems = files.check(config)
        if problems:
            raise ConfigError(problems, str(args.file))
    except ConfigError as err:
        ctx.stderr.write(f"occur: error: {args.file} is invalid\n")
        for key, message in err.problems:
            ctx.stderr.write(f"  {key}: {message}\n")
        return ExitStatus.CONFIG
    ctx.out(f"{args.file}: ok (data_dir {config.data_dir}, device {config.device.id})")
    _report_door(ctx, config)
    return ExitStatus.SUCCESS


def _report_door(ctx: Context, config: config_module.Config) -> None:
    """The door's operating point with this config: reported, not an error of the file."""
    from firmware.recognition.doorstate import offline_point

    point = offline_point(config)
    if point.closed:
        ctx.out(f"door: names nobody: {point.closed}")
    else:
        ctx.out(
            f"door: {point.people} people enrolled, threshold {point.threshold:.4f} ({point.source}), "
            f"stranger visits named about {point.expected_rate:.2g} (target {point.target_rate:g})"
        )
    for warning in point.warnings:
        ctx.out(f"door: warning: {warning}")

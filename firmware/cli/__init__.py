"""The ``occur`` command line: argparse subcommands that return exit statuses.

This package is the only code that prints. Errors become one line, ``occur: error: ...``, and an
exit status from :class:`~firmware.cli.common.ExitStatus`; ``--traceback`` (or ``OCCUR_DEBUG=1``)
shows the stack instead.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from firmware import __version__
from firmware.cli import (
    audit_cmds,
    backup_cmds,
    bench_cmds,
    config_cmds,
    db_cmds,
    demo_cmd,
    doctor_cmds,
    door_cmds,
    eval_cmds,
    events_cmds,
    face_cmds,
    keys_cmds,
    ota_cmds,
    provision_cmds,
    retention_cmds,
    run_cmds,
    snapshot_cmds,
    users_cmds,
)
from firmware.cli.common import Context, ExitStatus
from firmware.errors import (
    AmbiguousError,
    ConfigError,
    DatabaseCorruptError,
    InvalidInputError,
    NotFoundError,
    OccurError,
    StoreError,
)

_ERROR_STATUS: tuple[tuple[type[BaseException], ExitStatus], ...] = (
    (ConfigError, ExitStatus.CONFIG),
    (DatabaseCorruptError, ExitStatus.CORRUPT),
    ((NotFoundError), ExitStatus.NOT_FOUND),
    (AmbiguousError, ExitStatus.USAGE),
    (InvalidInputError, ExitStatus.USAGE),
    (StoreError, ExitStatus.STORAGE),
    (OccurError, ExitStatus.ERROR),
)


def build_parser() -> argparse.ArgumentParser:
    """The full argument parser (also used by the test that every command has help)."""
    parser = argparse.ArgumentParser(
        prog="occur",
        description="OCCUR-CALL face-recognition door appliance.",
    )
    parser.add_argument("--version", action="version", version=f"occur {__version__}")
    parser.add_argument("--config", type=Path, metavar="FILE", help="TOML config file (default: $OCCUR_CONFIG)")
    parser.add_argument("--data-dir", metavar="DIR", help="data folder (overrides $OCCUR_DATA_DIR and the config)")
    parser.add_argument("--traceback", action="store_true", help="show the stack trace of an error")
    parser.add_argument(
        "-v", "--verbose", action="count", default=0, help="log progress (-v: info, -vv: debug); default warnings only"
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for module in (
        demo_cmd,
        run_cmds,
        doctor_cmds,
        door_cmds,
        audit_cmds,
        provision_cmds,
        keys_cmds,
        backup_cmds,
        ota_cmds,
        retention_cmds,
        snapshot_cmds,
        config_cmds,
        db_cmds,
        events_cmds,
        users_cmds,
        face_cmds,
        eval_cmds,
        bench_cmds,
    ):
        module.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run one ``occur`` command; returns the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    debug = bool(args.traceback or os.environ.get("OCCUR_DEBUG"))
    try:
        from firmware import config as config_module
        from firmware import log

        config = config_module.load(args.config, args.data_dir)
        log.configure("debug" if debug or args.verbose > 1 else "info" if args.verbose else "warning")
        ctx = Context(config=config, json=bool(getattr(args, "json", False)))
        return int(args.handler(ctx, args))
    except KeyboardInterrupt:
        print("occur: interrupted", file=sys.stderr)
        return ExitStatus.INTERRUPTED
    except OccurError as err:
        if debug:
            raise
        print(f"occur: error: {err}", file=sys.stderr)
        if isinstance(err, ConfigError) and len(err.problems) > 1:
            for key, message in err.problems:
                print(f"  {key}: {message}", file=sys.stderr)
        return next(status for kind, status in _ERROR_STATUS if isinstance(err, kind))

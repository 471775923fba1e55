"""The ``occur`` command line: argparse subcommands that return exit statuses.

This package is the only code that prints. Errors become one line, ``occur: error: ...``, and an
exit status from :class:`~firmware.cli.common.ExitStatus`; ``--traceback`` (or ``OCCUR_DEBUG=1``)
shows the stack instead. That holds for errors the firmware did not anticipate too (exit 1). Output
cut short by its reader (``occur events --json | head``) ends quietly with status 141, as for any
Unix tool stopped by SIGPIPE: the reader asked for no more, so nothing failed that needs a message.
"""

from __future__ import annotations

import argparse
import os
import select
import sys
from collections.abc import Sequence
from pathlib import Path

from firmware import __version__
from firmware.cli import (
    attendance,
    audit,
    backup,
    check_config,
    db,
    doctor,
    events,
    face,
    keys,
    ota,
    pad,
    provision,
    retention,
    run,
    snapshots,
    unknown,
    users,
    web,
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


# Every command the door ships, in ``occur --help`` order; the one place commands are registered.
# ``demo``, ``bench``, ``eval-pairs`` and ``embed`` live in the development package (occur_dev) and are added only
# when the command line names one of them or asks for help, so ``occur run`` never imports it.
COMMANDS = (run, web, doctor, attendance, unknown, audit, provision, keys, backup, ota, retention, snapshots,
            check_config, db, events, users, face, pad)  # fmt: skip
DEV_COMMANDS = ("demo", "bench", "eval-pairs", "embed")


def _names_a_dev_command(argv: Sequence[str]) -> bool:
    """True when ``argv`` may need the development commands: one is named, or help is asked for."""
    return not argv or any(arg in DEV_COMMANDS or arg in ("-h", "--help") for arg in argv)


def build_parser(argv: Sequence[str] | None = None) -> argparse.ArgumentParser:
    """The argument parser for ``argv``; every command, dev ones included, when ``argv`` is None
    (the test that every command has help uses that)."""
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
    for module in COMMANDS:
        module.register(sub)
    if argv is None or _names_a_dev_command(argv):
        from occur_dev.cli import register_dev_commands

        register_dev_commands(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run one ``occur`` command; returns the exit status."""
    argv = sys.argv[1:] if argv is None else argv
    parser = build_parser(argv)
    args = parser.parse_args(argv)
    debug = bool(args.traceback or os.environ.get("OCCUR_DEBUG"))
    try:
        from firmware import config as config_module
        from firmware.platform import log

        config = config_module.load(args.config, args.data_dir)
        log.configure("debug" if debug or args.verbose > 1 else "info" if args.verbose else "warning")
        ctx = Context(config=config, json=bool(getattr(args, "json", False)))
        return int(args.handler(ctx, args))
    except KeyboardInterrupt:
        print("occur: interrupted", file=sys.stderr)
        return ExitStatus.INTERRUPTED
    except BrokenPipeError as err:
        if _reader_gone():
            _silence_stdout()
            return ExitStatus.OUTPUT_CLOSED
        return _unexpected(err, debug)
    except OccurError as err:
        if debug:
            raise
        print(f"occur: error: {err}", file=sys.stderr)
        if isinstance(err, ConfigError) and len(err.problems) > 1:
            for key, message in err.problems:
                print(f"  {key}: {message}", file=sys.stderr)
        return next(status for kind, status in _ERROR_STATUS if isinstance(err, kind))
    except Exception as err:  # noqa: BLE001 - the last line of defence: one line, not a traceback
        return _unexpected(err, debug)


def _unexpected(err: Exception, debug: bool) -> int:
    """An error no handler anticipated: one line naming it (``--traceback`` for the stack)."""
    if debug:
        raise err
    print(f"occur: error: {type(err).__name__}: {err} (run with --traceback for details)", file=sys.stderr)
    return ExitStatus.ERROR


def _reader_gone() -> bool:
    """True when stdout is a pipe whose reader has gone (``| head`` exited)."""
    try:
        poller = select.poll()
        poller.register(sys.stdout.fileno(), select.POLLOUT)
        return any(events & select.POLLERR for _, events in poller.poll(0))
    except (OSError, ValueError):
        return False


def _silence_stdout() -> None:
    """Point stdout at /dev/null so the interpreter's final flush does not fail again."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    os.close(devnull)

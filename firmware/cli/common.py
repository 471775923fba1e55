"""Shared CLI plumbing: exit statuses, the per-run context, output helpers."""

from __future__ import annotations

import argparse
import dataclasses
import enum
import json
import os
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC
from pathlib import Path
from typing import Any, TextIO

from firmware.config import Config
from firmware.crypto.keys import ROTATION_INTERRUPTED, rotation_interrupted
from firmware.errors import InvalidInputError, StoreError
from firmware.platform.clock import parse_iso, to_iso
from firmware.platform.runstate import running_status
from firmware.store.db import DbSettings
from firmware.store.eventlog import Origin
from firmware.store.store import Store, settings_from


class ExitStatus(enum.IntEnum):
    """Exit codes of ``occur``; scripts can branch on them."""

    SUCCESS = 0
    ERROR = 1
    USAGE = 2
    CONFIG = 3
    STORAGE = 4
    CORRUPT = 5
    NOT_FOUND = 6
    CHECK_FAILED = 7
    INTERRUPTED = 130
    OUTPUT_CLOSED = 141  # the reader of stdout went away (| head): 128 + SIGPIPE, like any Unix tool


@dataclass
class Context:
    """What a command handler gets: the validated config and the output streams."""

    config: Config
    json: bool = False
    stdout: TextIO = field(default_factory=lambda: sys.stdout)
    stderr: TextIO = field(default_factory=lambda: sys.stderr)

    def open_store(self, create: bool = False, during_rotation: bool = False) -> Store:
        """Open the configured database (see :meth:`Store.open`). Only the commands that make
        data pass ``create`` (``db migrate``, ``users add``, ``enroll``, ``db import-legacy``, the
        update commands, ``web add-admin``/``add-account``); every other command needs an
        existing database and never creates the data folder, wherever it is run from.

        Raises:
            StoreError: the data folder belongs to another user and we are not root: admin
                commands run as the service user, so files never end up owned by someone else.
        """
        root = self.config.paths.root
        if root.exists() and os.geteuid() != 0 and root.stat().st_uid != os.geteuid():
            raise StoreError(
                f"{root} belongs to user id {root.stat().st_uid}: run occur as that user (the service user) or as root"
            )
        if not during_rotation and rotation_interrupted(self.config.paths.keys):
            raise StoreError(f"{ROTATION_INTERRUPTED} first")
        return Store.open(self.config.paths, self.config.storage, create=create, origin=Origin.of(self.config))

    def refuse_if_running(self, what: str) -> None:
        """Raise InvalidInputError when ``occur run`` is running on this data folder: ``what``
        (a restore, a key rotation) must not change files under a live loop."""
        pid = running_loop_pid(self.config.paths.root)
        if pid is not None:
            raise InvalidInputError(f"the door loop is running (pid {pid}): stop it before {what}")

    @property
    def db_settings(self) -> DbSettings:
        """Connection settings from the config."""
        return settings_from(self.config.storage)

    def out(self, text: str = "") -> None:
        """Print one line to stdout."""
        print(text, file=self.stdout)

    def emit_json(self, value: Any) -> None:
        """Print a JSON document (dataclasses and paths converted)."""
        json.dump(_plain(value), self.stdout, indent=2, ensure_ascii=False)
        self.stdout.write("\n")

    def table(self, headers: Sequence[str], rows: Sequence[Sequence[object]]) -> None:
        """Print rows as aligned columns; ``None`` shows as ``-``."""
        cells = [[("-" if v is None else str(v)) for v in row] for row in rows]
        widths = [max([len(h)] + [len(r[i]) for r in cells]) for i, h in enumerate(headers)]
        self.out("  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)).rstrip())
        for row in cells:
            self.out("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip())


def _plain(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {k: _plain(v) for k, v in dataclasses.asdict(value).items()}
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, Path):
        return str(value)
    return value


def actor() -> str:
    """Who acts, for the secure log: ``cli:<login name>`` of the person at the shell."""
    import getpass

    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):
        return f"cli:uid {os.geteuid()}"


def add_json_flag(parser: argparse.ArgumentParser) -> None:
    """Add ``--json`` to a data-printing command."""
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")


def running_loop_pid(root: Path) -> int | None:
    """The pid of ``occur run`` on the data folder ``root`` when it is running, else None."""
    doc = running_status(root)
    return None if doc is None else int(doc["pid"])


def parse_when(text: str | None, flag: str) -> str | None:
    """A command-line time in the stored form: ISO 8601 with an offset, or a bare date meaning
    its UTC midnight; None stays None.

    Raises:
        InvalidInputError: unparseable, naming ``flag``.
    """
    if not text:
        return None
    try:
        bare_date = len(text.strip()) == len("2026-01-01")
        return to_iso(parse_iso(text, assume=UTC if bare_date else None))
    except ValueError as err:
        raise InvalidInputError(f"{flag}: {err}") from err

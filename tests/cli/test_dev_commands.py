"""The development commands come from occur_dev, which the door's own commands never import."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from firmware.cli import build_parser

PROBE = """
import sys
from firmware.cli import main
try:
    main(sys.argv[1:])
except SystemExit:
    pass
loaded = sorted(m for m in sys.modules if m == "occur_dev" or m.startswith("occur_dev."))
print("DEV", ",".join(loaded))
"""


def dev_modules_after(*argv: str, data: Path) -> str:
    out = subprocess.run(
        [sys.executable, "-c", PROBE, "--data-dir", str(data), *argv], capture_output=True, text=True, timeout=120
    )
    line = next(x for x in out.stdout.splitlines() if x.startswith("DEV"))
    return line.removeprefix("DEV").strip()


def test_the_doors_commands_do_not_import_the_development_package(tmp_path: Path) -> None:
    assert dev_modules_after("status", data=tmp_path / "data") == ""
    assert dev_modules_after("users", "list", data=tmp_path / "data") == ""


def test_a_development_command_loads_it(tmp_path: Path) -> None:
    assert "occur_dev.cli" in dev_modules_after("bench", "loop", "--help", data=tmp_path / "data").split(",")


def test_the_full_parser_lists_every_command() -> None:
    commands = build_parser()._subparsers._group_actions[0].choices  # type: ignore[union-attr]
    assert {"run", "attendance", "unknown", "demo", "bench", "eval-pairs", "embed"} <= set(commands)

"""The development commands, added to ``occur``'s parser by :func:`firmware.cli.build_parser`."""

from __future__ import annotations

import argparse

from occur_dev.cli import bench, demo
from occur_dev.cli import eval as eval_cmd


def register_dev_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``demo``, ``eval-pairs``, ``embed`` and ``bench`` to ``occur``'s subcommands."""
    for module in (demo, eval_cmd, bench):
        module.register(sub)

"""``occur bench import``: resident memory added by importing the firmware, in a fresh process.

A Pi Zero 2 W has 512 MiB for everything; the CLI and the service must not pay for numpy or
OpenCV until they need them. Each figure is the peak RSS of a new interpreter that imports one
module, minus that of an interpreter that imports nothing.
"""

from __future__ import annotations

import subprocess
import sys
from dataclasses import dataclass

MODULES = ("firmware", "firmware.config", "firmware.store.store", "firmware.compat", "firmware.cli", "numpy", "cv2")
# VmHWM, not ru_maxrss: Linux carries the parent's peak into ru_maxrss across fork and exec.
_PROBE = "{imp}\nprint([l.split()[1] for l in open('/proc/self/status') if l.startswith('VmHWM')][0])"


@dataclass(frozen=True)
class ImportRss:
    """Peak RSS in KiB of a bare interpreter and the extra for each module."""

    baseline_kib: int
    extra_kib: dict[str, int]


def _peak(statement: str) -> int:
    out = subprocess.run(
        [sys.executable, "-c", _PROBE.format(imp=statement)],
        check=True,
        capture_output=True,
        text=True,
        timeout=120,
    )
    return int(out.stdout.strip().splitlines()[-1])


def run(modules: tuple[str, ...] = MODULES) -> ImportRss:
    """Measure each module in its own process.

    Raises:
        subprocess.CalledProcessError: a module failed to import.
    """
    baseline = _peak("pass")
    return ImportRss(baseline, {m: _peak(f"import {m}") - baseline for m in modules})

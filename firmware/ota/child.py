"""An update step run in a child process (the self-test, re-embedding): a model that crashes
or hangs the runtime fails the step, never the door, and the child's memory goes back to the
system when it exits.

The child prints one JSON line last, ``{"ok": true, ...}`` or ``{"ok": false, "error": ...}``.
"""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

from firmware.errors import UpdateError


def run_child(what: str, module: str, args: list[str], timeout_s: float, stdin: bytes = b"") -> dict[str, Any]:
    """Run ``python -m module args...`` and return its answer (the last stdout line).

    Args:
        what: the step's name in error messages (``self-test``, ``re-embedding``).

    Raises:
        UpdateError: no answer within ``timeout_s``; killed by a signal (the runtime crashed);
            a non-zero exit or an answer that is not ``ok`` (with the child's error, else the
            end of its stderr).
    """
    try:
        done = subprocess.run(
            [sys.executable, "-m", module, *args], input=stdin, capture_output=True, timeout=timeout_s, check=False
        )
    except subprocess.TimeoutExpired as err:
        raise UpdateError(f"{what}: no answer within {timeout_s:.0f} s") from err
    lines = done.stdout.decode(errors="replace").strip().splitlines()
    try:
        answer = json.loads(lines[-1]) if lines else {}
    except ValueError:
        answer = {}
    if done.returncode < 0:
        raise UpdateError(f"{what}: the model crashed the runtime (signal {-done.returncode})")
    if done.returncode != 0 or not isinstance(answer, dict) or not answer.get("ok"):
        stderr = done.stderr.decode(errors="replace")[-300:]
        error = answer.get("error") if isinstance(answer, dict) else None
        raise UpdateError(str(error or f"{what}: exit {done.returncode}: {stderr}"))
    return answer

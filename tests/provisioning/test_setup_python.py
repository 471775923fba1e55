"""setup.sh refuses an interpreter older than the firmware needs (JetPack's Python 3.8/3.10) with
the supported route, before it creates or changes anything."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from tests.conftest import REPO


def test_an_old_python_is_refused_with_the_route(tmp_path: Path) -> None:
    fake = tmp_path / "python3.10"
    fake.write_text('#!/bin/sh\ncase "$*" in *--version*) echo "Python 3.10.12";; *) exit 1;; esac\n')
    fake.chmod(0o755)
    venv = REPO / ".venv" / "pyvenv.cfg"
    before = venv.stat().st_mtime_ns if venv.exists() else None
    done = subprocess.run(
        ["bash", str(REPO / "setup.sh")],
        env={**os.environ, "OCCUR_PYTHON": str(fake)},
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 1
    assert "needs Python 3.11 or newer" in done.stderr and "Python 3.10.12" in done.stderr
    assert "provisioning/README.md, 'Jetson'" in done.stderr
    assert (venv.stat().st_mtime_ns if venv.exists() else None) == before

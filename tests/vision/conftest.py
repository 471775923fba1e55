"""Fixtures shared by the vision tests: the dlib C++ reference, built once per session."""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import REPO

HERE = Path(__file__).parent


@pytest.fixture(scope="module")
def build_module() -> Iterator[object]:
    """``models/build.py``, for its fetch and member-reading helpers."""
    sys.path.insert(0, str(REPO / "models"))
    try:
        import build

        yield build
    finally:
        sys.path.remove(str(REPO / "models"))


@pytest.fixture(scope="session")
def dlib_ref(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The ``tests/vision/dlib_ref`` binary, compiled against Debian's libdlib-dev (skips the
    test when ``./setup.sh --dev`` has not installed it)."""
    if shutil.which("g++") is None or not Path("/usr/include/dlib").is_dir():
        pytest.skip("libdlib-dev and g++ not installed (./setup.sh --dev installs them)")
    binary = tmp_path_factory.mktemp("dlib_ref") / "dlib_ref"
    subprocess.run(["bash", str(HERE / "dlib_ref" / "build.sh"), str(binary)], check=True)
    return binary

"""Project rules that code review would otherwise have to catch: lint, types, size, vendor adapters.

The layering is checked by import-linter (tests/test_architecture.py, contracts in pyproject.toml)."""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO

FIRMWARE = REPO / "firmware"
BIN = Path(sys.executable).parent
MODULES = sorted(p for p in FIRMWARE.rglob("*.py"))
DEV_MODULES = sorted(p for p in (REPO / "occur_dev").rglob("*.py"))


def imports_of(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
    return found


def module_name(path: Path) -> str:
    return ".".join(path.relative_to(REPO).with_suffix("").parts).removesuffix(".__init__")


def test_ruff_clean() -> None:
    out = subprocess.run(
        [str(BIN / "ruff"), "check", "firmware", "occur_dev", "occur_ota", "models", "tests"],
        cwd=REPO,
        capture_output=True,
        text=True,
    )
    assert out.returncode == 0, out.stdout + out.stderr


def test_mypy_strict_clean() -> None:
    out = subprocess.run(
        [str(BIN / "mypy"), "--strict", "firmware", "occur_dev", "occur_ota"], cwd=REPO, capture_output=True, text=True
    )
    assert out.returncode == 0, out.stdout + out.stderr


@pytest.mark.parametrize("path", MODULES + DEV_MODULES, ids=lambda p: str(p.relative_to(REPO)))
def test_modules_stay_small(path: Path) -> None:
    assert len(path.read_text().splitlines()) <= 400


def test_only_the_cli_prints() -> None:
    offenders = []
    for path in MODULES + DEV_MODULES:
        if "cli" in path.relative_to(REPO).parts:
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "print":
                offenders.append(f"{path.relative_to(REPO)}:{node.lineno}")
    assert offenders == []


# One adapter module per vendor SDK; sqlite3 only where the original design is reproduced.
SDK_OWNERS = {
    "apsw": {"firmware.store.db"},
    "sqlite3": {"occur_dev.original_system"},
    "ai_edge_litert": {"firmware.vision.runtime"},
    "tflite_runtime": {"firmware.vision.runtime"},
    "cv2": {"firmware.imaging.image", "firmware.hw.opencv_camera"},
    # A board is a gpiozero pin factory: the factories subclass gpiozero's Factory and Pin.
    "gpiozero": {"firmware.hw.door", "firmware.hw.jetson_pins"},
    "Jetson": {"firmware.hw.jetson_pins"},
    "picamera2": {"firmware.hw.picamera2_camera"},
    "cryptography": {"firmware.crypto.keys"},
    "tornado": {"firmware.web.http"},
}


def test_vendor_sdks_have_one_adapter() -> None:
    for path in MODULES + DEV_MODULES:
        name = module_name(path)
        for sdk, owners in SDK_OWNERS.items():
            uses = any(i == sdk or i.startswith(sdk + ".") for i in imports_of(path))
            assert not uses or name in owners, f"{name} imports {sdk}"


def test_import_does_no_work(tmp_path: Path) -> None:
    """Importing every module reads no environment into state, creates no file, starts no thread."""
    names = [module_name(p) for p in MODULES if p.name != "__main__.py"]
    code = (
        "import importlib, threading, sys\n"
        f"for n in {names!r}: importlib.import_module(n)\n"
        "assert threading.active_count() == 1, threading.enumerate()\n"
    )
    env = {**os.environ, "OCCUR_DATA_DIR": str(tmp_path / "must-not-exist")}
    out = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=env, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert list(tmp_path.iterdir()) == []

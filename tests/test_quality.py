"""Project rules that code review would otherwise have to catch: lint, types, size, layering."""

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
        [str(BIN / "ruff"), "check", "firmware", "models", "ota", "tests"], cwd=REPO, capture_output=True, text=True
    )
    assert out.returncode == 0, out.stdout + out.stderr


def test_mypy_strict_clean() -> None:
    out = subprocess.run([str(BIN / "mypy"), "--strict", "firmware"], cwd=REPO, capture_output=True, text=True)
    assert out.returncode == 0, out.stdout + out.stderr


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(REPO)))
def test_modules_stay_small(path: Path) -> None:
    assert len(path.read_text().splitlines()) <= 400


def test_only_the_cli_prints() -> None:
    offenders = []
    for path in MODULES:
        if "cli" in path.relative_to(FIRMWARE).parts:
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "print":
                offenders.append(f"{path.relative_to(REPO)}:{node.lineno}")
    assert offenders == []


# One adapter module per vendor SDK; sqlite3 only where the original design is reproduced.
SDK_OWNERS = {
    "apsw": {"firmware.store.db"},
    "sqlite3": {"firmware.original_system"},
    "ai_edge_litert": {"firmware.vision.runtime"},
    "tflite_runtime": {"firmware.vision.runtime"},
    "cv2": {"firmware.vision.image", "firmware.hw.opencv_camera"},
    "gpiozero": {"firmware.hw.door"},
    "Jetson": {"firmware.hw.jetson_door"},
    "picamera2": {"firmware.hw.picamera2_camera"},
    "cryptography": {"firmware.security.keys"},
    "tornado": {"firmware.web.http"},
}


def test_vendor_sdks_have_one_adapter() -> None:
    for path in MODULES:
        name = module_name(path)
        for sdk, owners in SDK_OWNERS.items():
            uses = any(i == sdk or i.startswith(sdk + ".") for i in imports_of(path))
            assert not uses or name in owners, f"{name} imports {sdk}"


LAYERS = {
    "firmware.errors": 0, "firmware.stats": 0, "firmware.fileio": 0, "firmware.clock": 0, "firmware.restart_backoff": 1, "firmware.tomlcheck": 0, "firmware.domain": 0,
    "firmware.config": 1, "firmware.log": 1, "firmware.sdnotify": 1, "firmware.access": 2,
    "firmware.liveness_policy": 3, "firmware.padcapture": 5,
    "firmware.store": 2, "firmware.vision": 2,
    "firmware.compat": 6, "firmware.recognition": 3, "firmware.demo": 3, "firmware.original_system": 3,
    "firmware.hw": 3, "firmware.snapshots": 3, "firmware.comms": 3, "firmware.security": 4,
    "firmware.security.keys": 1,
    "firmware.loop": 4, "firmware.demo_vision": 4, "firmware.bench": 5,
    "firmware.comms.bridge": 5, "firmware.retention": 5, "firmware.backup": 4, "firmware.backup_push": 5, "firmware.workers": 6, "firmware.migration": 5, "firmware.provision": 5, "firmware.doctor": 5, "firmware.platform_packages": 0, "firmware.ota": 5, "firmware.actions": 5, "firmware.web": 6,
    "firmware.service": 7, "firmware.demo_door": 8, "firmware.demo_update": 8,
    "firmware.cli": 9,
}  # fmt: skip


def layer(name: str) -> int | None:
    best = max((k for k in LAYERS if name == k or name.startswith(k + ".")), key=len, default=None)
    return None if best is None else LAYERS[best]


def test_modules_import_only_lower_layers() -> None:
    problems = []
    for path in MODULES:
        own = layer(module_name(path))
        if own is None:
            continue
        for imported in imports_of(path):
            other = layer(imported)
            same_package = imported.split(".")[:2] == module_name(path).split(".")[:2]
            if other is not None and other >= own and not same_package:
                problems.append(f"{module_name(path)} (L{own}) imports {imported} (L{other})")
    assert problems == []


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

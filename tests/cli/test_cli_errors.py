"""Every failure of ``occur`` ends in one ``occur: error:`` line with the documented exit status,
never a Python traceback; output cut short by its reader (``| head``) ends quietly."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from firmware.config import Paths
from firmware.store import users
from firmware.store.store import Store
from tests.conftest import Cli

OCCUR = Path(sys.executable).parent / "occur"


def test_demo_into_a_non_empty_folder_is_a_usage_error(tmp_path: Path, cli: Cli) -> None:
    folder = tmp_path / "mine"
    folder.mkdir()
    (folder / "keep.txt").write_text("my file\n")
    result = cli("demo", "--into", str(folder))
    assert result.status == 2
    assert result.err.startswith("occur: error:") and "not empty" in result.err and str(folder) in result.err
    assert result.err.count("\n") == 1 and "Traceback" not in result.err
    assert sorted(p.name for p in folder.iterdir()) == ["keep.txt"]  # nothing written beside the user's file


def test_demo_into_a_file_is_a_usage_error(tmp_path: Path, cli: Cli) -> None:
    target = tmp_path / "file"
    target.write_text("x")
    result = cli("demo", "--into", str(target))
    assert result.status == 2 and result.err.startswith("occur: error:") and "not a folder" in result.err


@pytest.fixture(scope="module")
def big_data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Enough users and events that their JSON is far larger than a pipe's buffer."""
    root = tmp_path_factory.mktemp("pipes") / "data"
    with Store.open(Paths(root)) as store:
        for _ in range(1500):
            store.log_system_event("test", "x" * 100)
        store.write(lambda c: [users.add_user(c, f"user {i}", None, None) for i in range(800)])
    return root


@pytest.mark.parametrize(
    "command", [["users", "list", "--json"], ["events", "--json", "--limit", "1500"], ["events", "--limit", "1500"]]
)
def test_output_closed_by_the_reader_ends_quietly(big_data: Path, command: list[str]) -> None:
    """``occur ... | head``: no traceback, no "Exception ignored" at exit, the SIGPIPE status."""
    line = " ".join([str(OCCUR), "--data-dir", str(big_data), *command])
    out = subprocess.run(
        ["bash", "-c", f"{line} 2>err.txt | head -1; echo ${{PIPESTATUS[0]}}"],
        cwd=big_data.parent,
        capture_output=True,
        text=True,
        check=True,
    )
    first, status = out.stdout.splitlines()
    err = (big_data.parent / "err.txt").read_text()
    assert first.strip() and err == ""
    assert int(status) == 141


def test_unexpected_errors_are_one_line_not_a_traceback(tmp_path: Path) -> None:
    """An error the firmware did not anticipate still ends in one line (and --traceback shows the
    stack for a bug report)."""
    folder = tmp_path / "d"
    folder.mkdir()
    (folder / "x").write_text("x")
    out = subprocess.run([str(OCCUR), "demo", "--into", str(folder)], capture_output=True, text=True)
    assert out.returncode == 2 and out.stderr.startswith("occur: error:") and out.stderr.count("\n") == 1
    traced = subprocess.run([str(OCCUR), "--traceback", "demo", "--into", str(folder)], capture_output=True, text=True)
    assert "Traceback" in traced.stderr

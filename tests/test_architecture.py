"""The layer contract of ARCHITECTURE.md, checked by import-linter (contracts in pyproject.toml)."""

from __future__ import annotations

import ast
import re
import shutil
import subprocess
import sys
from pathlib import Path

from tests.conftest import REPO

LINT_IMPORTS = Path(sys.executable).parent / "lint-imports"
CONTRACTS = ("layers", "no-dev-in-door", "no-operator-tool-in-door", "no-package-cycles")


def lint_imports(cwd: Path) -> subprocess.CompletedProcess[str]:
    """lint-imports on the tree at ``cwd`` (its packages first on the path)."""
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-cache"], cwd=cwd, capture_output=True, text=True, env={"PYTHONPATH": str(cwd)}
    )


def test_the_import_contracts_hold() -> None:
    out = lint_imports(REPO)
    assert out.returncode == 0, out.stdout + out.stderr
    assert f"{len(CONTRACTS)} kept, 0 broken" in out.stdout


def copy_of_the_tree(tmp_path: Path) -> Path:
    copy = tmp_path / "repo"
    for name in ("firmware", "occur_dev", "occur_ota"):
        shutil.copytree(REPO / name, copy / name, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(REPO / "pyproject.toml", copy / "pyproject.toml")
    return copy


def test_a_lower_layer_importing_a_higher_one_breaks_the_contract(tmp_path: Path) -> None:
    copy = copy_of_the_tree(tmp_path)
    with (copy / "firmware" / "store" / "health.py").open("a") as handle:
        handle.write("\nfrom firmware.security import audit  # noqa: E402\n")
    out = lint_imports(copy)
    assert out.returncode == 1
    assert "firmware.store is not allowed to import firmware.security" in out.stdout


def test_the_door_importing_the_development_package_breaks_the_contract(tmp_path: Path) -> None:
    copy = copy_of_the_tree(tmp_path)
    with (copy / "firmware" / "loop" / "unlock.py").open("a") as handle:
        handle.write("\nimport occur_dev.bench  # noqa: E402\n")
    out = lint_imports(copy)
    assert out.returncode == 1
    assert "firmware is not allowed to import occur_dev" in out.stdout


SQL = re.compile(r"^\s*(SELECT|INSERT|UPDATE|DELETE|CREATE|DROP|ALTER|PRAGMA|VACUUM|ATTACH|DETACH|WITH)\s")


def leading_text(node: ast.AST) -> str | None:
    """A string literal's text, or an f-string's text before its first placeholder."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.JoinedStr) and node.values:
        return leading_text(node.values[0])
    return None


def sql_statements(path: Path) -> list[int]:
    """Line numbers of string literals (f-strings too) in ``path`` that are SQL statements."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        text = leading_text(node)
        if text is not None and SQL.match(text):
            found.add(node.lineno)
    return sorted(found)


def test_all_sql_is_in_the_store() -> None:
    store = REPO / "firmware" / "store"
    outside = [
        f"{path.relative_to(REPO)}:{line}"
        for path in sorted((REPO / "firmware").rglob("*.py"))
        if not path.is_relative_to(store)
        for line in sql_statements(path)
    ]
    assert outside == []


def test_the_sql_check_finds_a_statement(tmp_path: Path) -> None:
    module = tmp_path / "leak.py"
    module.write_text('ROWS = "SELECT id FROM users"\nDROP = f"DELETE FROM {table}"\nNOTE = "Select a user"\n')
    assert sql_statements(module) == [1, 2]

"""Shared fixtures: real SQLite files in temporary folders, the CLI run in-process."""

from __future__ import annotations

import os
import types
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from firmware import compat
from firmware.cli import main
from firmware.config import Paths
from firmware.store.db import open_plain
from firmware.store.store import Store

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("OCCUR_TEST_SHARED") or REPO.parent / "shared")
"""The project's shared material (photos, the original system's documents), beside the checkout
as ``../shared``; ``OCCUR_TEST_SHARED`` points elsewhere (the test of the message below uses it)."""


def _code_names(code: types.CodeType) -> set[str]:
    names = set(code.co_names)
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            names |= _code_names(const)
    return names


def _uses_shared(func: Any, seen: set[int]) -> bool:
    """Does ``func`` (a test, a fixture, a helper), or a tests helper it calls, refer to a path
    under ../shared?"""
    if id(func) in seen:
        return False
    seen.add(id(func))
    if isinstance(func, type):
        return any(_uses_shared(v, seen) for v in vars(func).values() if callable(v))
    code = getattr(func, "__code__", None)
    if code is None:
        return False
    scope = getattr(func, "__globals__", {})
    defaults = [*(getattr(func, "__defaults__", None) or ()), *(getattr(func, "__kwdefaults__", None) or {}).values()]
    values = [scope.get(n) for n in _code_names(code)] + defaults
    for value in values:
        if isinstance(value, Path) and (value == SHARED or SHARED in value.parents):
            return True
        if callable(value) and str(getattr(value, "__module__", "")).startswith("tests") and _uses_shared(value, seen):
            return True
    return False


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    """A test that needs ../shared fails first thing with a message saying so, instead of an
    empty glob turning into an argparse usage error (or a test passing on no data)."""
    if (SHARED / "data" / "faces").is_dir() and (SHARED / "original").is_dir():
        return
    funcs: list[Any] = [getattr(item, "function", None)]
    infos = getattr(item, "_fixtureinfo", None)
    for defs in infos.name2fixturedefs.values() if infos is not None else []:
        funcs += [d.func for d in defs]
    seen: set[int] = set()
    if any(f is not None and _uses_shared(f, seen) for f in funcs):
        pytest.fail(
            f"this test needs the project's shared data at {SHARED} (data/faces, original/), which is missing: "
            "link it beside the checkout (ln -s /work/shared ../shared) or set OCCUR_TEST_SHARED",
            pytrace=False,
        )


def query(paths: Paths, sql: str, args: tuple[object, ...] = ()) -> list[tuple[object, ...]]:
    """Rows of ``sql`` read through a separate plain connection (what another process would see)."""
    conn = open_plain(paths.database)
    try:
        return [tuple(r) for r in conn.execute(sql, args)]
    finally:
        conn.close()


@pytest.fixture
def paths(tmp_path: Path) -> Paths:
    """A data layout under a fresh temporary folder."""
    return Paths(tmp_path / "data")


@pytest.fixture
def store(paths: Paths) -> Iterator[Store]:
    """An opened, migrated store; closed after the test."""
    s = Store.open(paths)
    try:
        yield s
    finally:
        s.close()


@pytest.fixture
def compat_env(paths: Paths, monkeypatch: pytest.MonkeyPatch) -> Iterator[Paths]:
    """Point the documented API (firmware.compat) at a temporary data folder."""
    monkeypatch.setenv("OCCUR_DATA_DIR", str(paths.root))
    monkeypatch.delenv("OCCUR_CONFIG", raising=False)
    try:
        yield paths
    finally:
        compat.close_all()


@dataclass
class CliResult:
    """Exit status and captured output of one ``occur`` run."""

    status: int
    out: str
    err: str


Cli = Callable[..., CliResult]


@pytest.fixture
def cli(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> Cli:
    """Run ``occur ARGS...`` in-process and capture its output."""
    monkeypatch.delenv("OCCUR_DATA_DIR", raising=False)
    monkeypatch.delenv("OCCUR_CONFIG", raising=False)

    def run(*args: str) -> CliResult:
        capsys.readouterr()
        status = main(list(args))
        captured = capsys.readouterr()
        return CliResult(status, captured.out, captured.err)

    return run


def assert_enrolled(status: int, out: str, minimum: int = 1) -> dict[str, object]:
    """Check the outcome of ``occur enroll ... --json``: at least ``minimum`` photos were enrolled,
    and the exit status says exactly whether any photo was rejected (0 none, 1 some). A bare
    "exit status 0 or 1" would also pass when nothing at all was enrolled."""
    import json

    report: dict[str, object] = json.loads(out)
    accepted, rejected = report["accepted"], report["rejected"]
    assert isinstance(accepted, list) and isinstance(rejected, dict)
    assert report["user_id"] is not None and len(accepted) >= minimum, report
    assert status == (1 if rejected else 0), (status, report)
    return report

"""Shared fixtures: real SQLite files in temporary folders, the CLI run in-process."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from firmware import compat
from firmware.cli import main
from firmware.config import Paths
from firmware.store.db import open_plain
from firmware.store.store import Store

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"


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

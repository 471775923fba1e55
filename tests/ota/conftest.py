"""Fixtures of the update tests: enrolled people, a bundle, a served repository."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import assert_enrolled
from tests.ota.repo_fixture import FACES, OCCUR, PEOPLE, Site, make_bundle, make_site, ota


@pytest.fixture(scope="session")
def enrolled(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A data folder with two enrolled people (made once, copied per test)."""
    data = tmp_path_factory.mktemp("template") / "data"
    for who in PEOPLE:
        photos = [str(p) for p in sorted((FACES / who).glob("*.jpg"))][1:4]
        done = subprocess.run(
            [OCCUR, "--data-dir", str(data), "enroll", who, *photos, "--consent-by", "hr", "--json"],
            capture_output=True,
            text=True,
        )
        assert_enrolled(done.returncode, done.stdout, minimum=2)
    return data


@pytest.fixture(scope="session")
def good_bundle(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_bundle(tmp_path_factory.mktemp("bundle"), "2026.12")


@pytest.fixture
def site(tmp_path: Path, enrolled: Path, good_bundle: Path) -> Iterator[Site]:
    s = make_site(tmp_path, enrolled)
    for command in (("add", s.operator, good_bundle), ("publish", s.operator)):
        done = ota(*command)
        assert done.returncode == 0, done.stderr
    try:
        yield s
    finally:
        s.server.stop()

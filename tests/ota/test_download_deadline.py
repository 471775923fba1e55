"""The update download timeout is a deadline for the whole file, not for each read: a server
dripping a byte at a time cannot hold ``occur ota check`` (or an install) past it, and a bundle
cut by its deadline resumes where it stopped at the next attempt."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator

import pytest

from tests.ota.drip import DripServer
from tests.ota.repo_fixture import Site


@pytest.fixture
def drip(site: Site) -> Iterator[DripServer]:
    server = DripServer(site.repository)
    server.start()
    text = site.toml.read_text()
    text = re.sub(r'repository_url = ".*"', f'repository_url = "{server.url}"', text)
    site.toml.write_text(text.replace("download_timeout_s = 10", "download_timeout_s = 2\nbundle_timeout_s = 3"))
    try:
        yield server
    finally:
        server.stop()


def test_a_dripping_metadata_file_is_cut_at_the_deadline(site: Site, drip: DripServer) -> None:
    drip.drip = r"timestamp\.json$"  # ~1.5 KB at 2 bytes/s: 12 minutes with a per-read timeout
    done = site.occur("ota", "check")  # the subprocess's own limit is 300 s
    assert done.returncode == 1, done.stdout + done.stderr
    assert done.stderr.startswith("occur: error:") and "deadline of 2 s" in done.stderr
    assert drip.dripped


def test_a_server_dripping_its_headers_is_cut_at_the_deadline_too(site: Site, drip: DripServer) -> None:
    drip.drip, drip.headers_too = r"timestamp\.json$", True
    done = site.occur("ota", "check")
    assert done.returncode == 1 and "deadline of 2 s" in done.stderr, done.stdout + done.stderr


def test_a_dripping_bundle_is_cut_at_its_deadline_and_resumes(site: Site, drip: DripServer) -> None:
    drip.drip, drip.interval_s = r"\.bundle$", 0.05
    done = site.occur("ota", "apply", "--json")
    assert done.returncode == 1, done.stdout + done.stderr
    assert "deadline of 3 s" in done.stderr
    parts = list((site.data / "models" / "downloads").glob("*.part"))
    assert len(parts) == 1 and parts[0].stat().st_size > 0  # what arrived is kept for the resume
    drip.drip = r"$^"
    done = site.occur("ota", "apply", "--json")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["status"] == "installed"
    assert not list((site.data / "models" / "downloads").glob("*.part"))

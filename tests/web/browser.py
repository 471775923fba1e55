"""Debian's Chromium driven by Playwright for Python; Playwright never downloads a browser.

The browser trusts exactly the door's certificate: Chromium's SPKI pin list (valid only with
its own user-data-dir, which every run gets new and empty), as an operator would check the
fingerprint on first connection.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = Path("/usr/bin/chromium")
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@contextmanager
def chromium(profile: Path, pin: str) -> Iterator[Any]:
    """A browser context on a new empty profile, trusting the certificate with this SPKI pin."""
    if not CHROMIUM.exists():
        pytest.fail("Debian's chromium is missing: run ./setup.sh --dev")
    from playwright.sync_api import sync_playwright

    shutil.rmtree(profile, ignore_errors=True)
    profile.mkdir(parents=True)
    with sync_playwright() as p:
        context = p.chromium.launch_persistent_context(
            str(profile),
            executable_path=str(CHROMIUM),
            headless=True,
            args=[*FLAGS, f"--ignore-certificate-errors-spki-list={pin}"],
            accept_downloads=True,
            viewport={"width": 1280, "height": 900},
        )
        context.set_default_timeout(20_000)
        try:
            yield context
        finally:
            context.close()


def shot(page: Any, folder: Path, name: str) -> Path:
    """A full-page screenshot under the test's temporary folder."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path

"""The systemd unit is well formed and matches what the service does."""

from __future__ import annotations

import configparser
import shutil
import subprocess

import pytest

from tests.conftest import REPO

UNIT = REPO / "provisioning" / "occur.service"


def test_unit_declares_notify_watchdog_and_restart() -> None:
    parser = configparser.ConfigParser(strict=False, interpolation=None)
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    parser.read_string(UNIT.read_text())
    service = parser["Service"]
    assert service["Type"] == "notify" and service["Restart"] == "always"
    assert int(service["WatchdogSec"]) >= 10
    assert service["ExecStart"].endswith(" run")


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze not installed")
def test_systemd_analyze_accepts_the_unit(tmp_path: object) -> None:
    text = UNIT.read_text().replace("@REPO@", str(REPO))
    unit = tmp_path / "occur.service"  # type: ignore[operator]
    unit.write_text(text)
    out = subprocess.run(["systemd-analyze", "verify", str(unit)], capture_output=True, text=True)
    problems = [line for line in out.stderr.splitlines() if "occur.service" in line]
    assert problems == [], out.stderr

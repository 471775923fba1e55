"""The systemd units are well formed and match what the service does."""

from __future__ import annotations

import configparser
import shutil
import subprocess
from pathlib import Path

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
@pytest.mark.parametrize("name", ["occur.service", "occur-firstboot.service"])
def test_systemd_analyze_accepts_the_unit(tmp_path: Path, name: str) -> None:
    unit = tmp_path / name
    unit.write_text((REPO / "provisioning" / name).read_text().replace("@REPO@", str(REPO)))
    out = subprocess.run(["systemd-analyze", "verify", str(unit)], capture_output=True, text=True)
    problems = [line for line in out.stderr.splitlines() if f"{name}:" in line]
    assert problems == [], out.stderr


def test_unit_runs_as_the_service_user_with_least_privilege() -> None:
    parser = configparser.ConfigParser(strict=False, interpolation=None)
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    parser.read_string(UNIT.read_text())
    service = parser["Service"]
    assert service["User"] == "occur" and service["SupplementaryGroups"].split() == ["gpio", "video"]
    assert service["NoNewPrivileges"] == "yes" and service["PrivateTmp"] == "yes"
    assert service["ProtectSystem"] == "strict" and service["StateDirectory"] == "occur"
    assert service["CapabilityBoundingSet"] == "" and service["AmbientCapabilities"] == ""
    assert service["MemoryMax"].endswith("M") and int(service["RestartSec"]) >= 1
    assert parser["Unit"]["StartLimitIntervalSec"] == "0"  # never give up; occur run backs off itself


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze not installed")
def test_systemd_analyze_security_rates_the_unit_ok(tmp_path: object) -> None:
    unit = tmp_path / "occur.service"  # type: ignore[operator]
    unit.write_text(UNIT.read_text().replace("@REPO@", str(REPO)))
    out = subprocess.run(["systemd-analyze", "security", "--offline=yes", str(unit)], capture_output=True, text=True)
    overall = next(line for line in out.stdout.splitlines() if "Overall exposure level" in line)
    score = float(overall.split(":")[1].split()[0])
    assert score <= 2.0, out.stdout

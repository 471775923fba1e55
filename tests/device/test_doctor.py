"""``occur doctor`` against real parts: a replayed camera, MockFactory pins, the real models, a
real mosquitto with password authentication, nginx serving a TUF repository made by occur-ota;
then each part broken in turn."""

from __future__ import annotations

import getpass
import json
import os
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest

from firmware.device import doctor
from firmware.imaging.image import encode_jpeg
from firmware.platform.install import built_models_dir
from tests.comms.broker import Broker
from tests.conftest import Cli
from tests.security.nginx import Nginx


@dataclass
class AuthBroker(Broker):
    """mosquitto that accepts only user ``door`` with password ``right``."""

    def conf(self) -> Path:
        passwords = self.folder / "passwd"
        passwords.write_text("")
        subprocess.run(["mosquitto_passwd", "-b", str(passwords), "door", "right"], check=True, capture_output=True)
        path = self.folder / "mosquitto.conf"
        path.write_text(
            f"user {getpass.getuser()}\nlistener {self.port} 127.0.0.1\nallow_anonymous false\n"
            f"password_file {passwords}\nlog_dest file {self.folder / 'mosquitto.log'}\n"
        )
        return path


@dataclass
class Site:
    folder: Path
    broker: AuthBroker
    nginx: Nginx
    root_file: Path

    def toml(self, *, password: str = "right", repo: str = "repo", source: str = "", extra: str = "") -> Path:
        (self.folder / "mqtt.password").write_text(password + "\n")
        frames = source or f"replay:{built_models_dir() / 'demo'}"
        path = self.folder / "occur.toml"
        path.write_text(
            f'data_dir = "{self.folder / "data"}"\n'
            f'[camera]\nsource = "{frames}"\nfps = 0.0\n'
            f'[mqtt]\nhost = "127.0.0.1"\nport = {self.broker.port}\nusername = "door"\n'
            f'password_file = "{self.folder / "mqtt.password"}"\n'
            f'[ota]\nrepository_url = "http://127.0.0.1:{self.nginx.port}/{repo}"\ntrusted_root = "{self.root_file}"\n'
            f"{extra}"
        )
        return path


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    from occur_ota.repo import Repository

    folder = tmp_path_factory.mktemp("doctor")
    root_file = Repository(folder / "operator").init()
    broker = AuthBroker(folder / "broker")
    broker.start()
    nginx = Nginx(folder / "nginx")
    nginx.root.mkdir(parents=True)
    (nginx.root / "repo").symlink_to(folder / "operator" / "repository")
    nginx.start()
    try:
        yield Site(folder, broker, nginx, root_file)
    finally:
        nginx.stop()
        broker.stop()


def rows(result_out: str) -> dict[str, str]:
    doc = json.loads(result_out)
    return {c["name"]: c["status"] for c in doc["checks"]} | {"ready": doc["ready"]}


def clock_row() -> str:
    """What this machine's clock gives (a container's clock may be unsynchronised)."""
    return doctor.clock_verdict(doctor.clock_state(), datetime.now(UTC)).status


def test_a_ready_door_passes_every_check(site: Site, cli: Cli) -> None:
    result = cli("--config", str(site.toml()), "doctor", "--gpio", "mock", "--json")
    got = rows(result.out)
    assert got["camera"] == "ok" and got["pin factory"] == "ok" and got["pin 17"] == "ok"
    assert got["pin 22"] == "ok" and got["pin 27"] == "ok"
    assert got["models"] == got["broker"] == got["disk"] == got["memory"] == got["updates"] == "ok"
    assert got["clock"] == clock_row()
    assert result.status == (0 if got["clock"] == "ok" else 7) and got["ready"] is (result.status == 0)
    details = {c["name"]: c["detail"] for c in json.loads(result.out)["checks"]}
    assert "512x512" in details["camera"] and "frames/s" in details["camera"]
    assert "sface" in details["models"] and "dlib" in details["models"] and "landmarks yes" in details["models"]
    assert "connected as door" in details["broker"] and "timestamp v1" in details["updates"]
    assert not (site.folder / "data").exists()  # the doctor writes nothing into the data folder
    table = cli("--config", str(site.toml()), "doctor", "--gpio", "mock")
    assert "check" in table.out.splitlines()[0] and ("READY" in table.out)


def test_each_broken_part_fails_its_row_and_the_door_is_not_ready(site: Site, cli: Cli, tmp_path: Path) -> None:
    black = tmp_path / "black"
    black.mkdir()
    for i in range(3):
        (black / f"{i}.jpg").write_bytes(encode_jpeg(np.zeros((48, 64, 3), np.uint8), 90))
    models = tmp_path / "models"
    shutil.copytree(built_models_dir(), models)
    data = bytearray((models / "sface_f32.tflite").read_bytes())
    data[len(data) // 2] ^= 0xFF
    (models / "sface_f32.tflite").write_bytes(bytes(data))
    toml = site.toml(
        password="wrong",
        repo="nothing-here",
        source=f"replay:{black}",
        extra=f'[vision]\nmodels_dir = "{models}"\n[snapshots]\nmin_free_mb = 100000000\n'
        '[door]\npin_factory = "lgpio"\n',
    )
    result = cli("--config", str(toml), "doctor", "--json")
    assert result.status == 7
    checks = {c["name"]: c for c in json.loads(result.out)["checks"]}
    for name in ("camera", "pins", "models", "broker", "disk", "updates"):
        assert checks[name]["status"] == "fail", checks
    assert "black" in checks["camera"]["detail"]
    assert "lgpio" in checks["pins"]["detail"]
    assert "sha256" in checks["models"]["detail"] or "altered" in checks["models"]["detail"]
    assert "refused" in checks["broker"]["detail"] and "HTTP 404" in checks["updates"]["detail"]


def test_unreachable_broker_and_repository_missing_root_and_little_memory(site: Site, tmp_path: Path) -> None:
    from dataclasses import replace

    from firmware import config as config_module

    config = config_module.load(site.toml(), environ={})
    closed = replace(
        config, mqtt=replace(config.mqtt, port=1), ota=replace(config.ota, trusted_root=str(tmp_path / "x"))
    )
    limits = doctor.Limits(network_timeout_s=3)
    assert doctor.broker(closed, limits).status == "fail"
    assert "trusted root" in doctor.updates(closed, limits).detail
    assert doctor.memory(doctor.Limits(memory_mb=10**9), door_running=False).status == "fail"
    assert doctor.memory(doctor.Limits(), door_running=False).status == "ok"


def test_clock_rules() -> None:
    now = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)
    assert doctor.clock_verdict(0, now).status == "ok"
    assert doctor.clock_verdict(doctor.TIME_ERROR, now).status == "fail"
    assert doctor.clock_verdict(0, datetime(1970, 1, 1, tzinfo=UTC)).status == "fail"


def test_a_running_door_is_read_from_its_status_not_reopened(site: Site, cli: Cli) -> None:
    toml = site.toml(source="picamera2")  # would fail if opened: no picamera2 here
    run = site.folder / "data" / "run"
    run.mkdir(parents=True)
    (run / "status.json").write_text(
        json.dumps({"pid": os.getpid(), "camera_ok": True, "fps": 14.8, "door": "idle", "door_unlocked": False})
    )
    try:
        result = cli("--config", str(toml), "doctor", "--json")
        checks = {c["name"]: c for c in json.loads(result.out)["checks"]}
        assert checks["camera"]["status"] == "ok" and "14.8 frames/s" in checks["camera"]["detail"]
        assert checks["pins"]["status"] == "ok" and "relay locked" in checks["pins"]["detail"]
    finally:
        shutil.rmtree(site.folder / "data")

"""Broker trouble is visible: each connection state change is logged once with its reason,
``occur status`` and the retained status show the broker state, the last error and the outbox
depth, and ``check-config`` checks the files the config refers to."""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from firmware import service
from firmware.config import Config
from tests.comms.broker import Broker, Subscriber, free_port
from tests.comms.test_mqtt import NOFACE, PREFIX, config_for
from tests.conftest import Cli


def status(config: Config) -> dict[str, Any]:
    try:
        return dict(json.loads((config.paths.root / "run" / "status.json").read_text()))
    except (OSError, ValueError):
        return {}


def wait_for(condition: Any, timeout: float = 30.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.1)
    return bool(condition())


def mqtt_lines(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name.startswith("firmware.comms") and "mqtt" in r.getMessage()]


def test_connection_states_are_logged_once_with_reasons_and_shown_in_status(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    port = free_port()
    config = config_for(tmp_path, port)
    config = replace(config, camera=replace(config.camera, fps=10.0))
    folder = tmp_path / "r"
    folder.mkdir()
    for i in range(1200):
        os.symlink(NOFACE, folder / f"{i:05d}.jpg")
    stop = threading.Event()
    runner = threading.Thread(target=lambda: service.run(config, f"replay:{folder}", gpio="mock", stop=stop))
    runner.start()
    broker = Broker(tmp_path / "broker", port=port)
    try:
        # nobody listens on the port: one line with the reason, however many retries follow
        assert wait_for(lambda: "refused" in str(status(config).get("mqtt_last_error")))
        time.sleep(4)  # retries at 1, 2 and 4 s
        refused = [m for m in mqtt_lines(caplog) if "cannot connect" in m]
        assert len(refused) == 1 and f"127.0.0.1:{port}" in refused[0] and "refused" in refused[0]
        doc = status(config)
        assert doc["mqtt_state"] == "disconnected" and doc["mqtt_broker"] == f"127.0.0.1:{port}"
        assert "outbox_depth" in doc

        broker.start()
        assert wait_for(lambda: status(config).get("mqtt_state") == "connected", 60)
        assert sum("connected to" in m for m in mqtt_lines(caplog)) == 1
        sub = Subscriber(port, f"{PREFIX}/status", client_id="watcher")
        try:
            assert sub.wait(
                lambda: any(json.loads(p).get("mqtt_state") == "connected" for p in sub.on(f"{PREFIX}/status"))
            )
            retained = json.loads(sub.on(f"{PREFIX}/status")[-1])
            assert {"mqtt_broker", "mqtt_last_error", "mqtt_since", "outbox_depth"} <= set(retained)
        finally:
            sub.close()

        broker.stop()
        assert wait_for(lambda: status(config).get("mqtt_state") == "disconnected", 60)
        time.sleep(4)
        lost = [m for m in mqtt_lines(caplog) if "lost the connection" in m]
        again = [m for m in mqtt_lines(caplog) if "cannot connect" in m]
        assert len(lost) == 1 and len(again) == 2  # the old refusal, then one more for the new outage
    finally:
        stop.set()
        runner.join(60)
        broker.stop()


def test_occur_status_shows_the_broker_state(tmp_path: Path, cli: Cli) -> None:
    config = Config(data_dir=tmp_path / "data")
    run_dir = config.paths.root / "run"
    run_dir.mkdir(parents=True)
    doc = {"pid": os.getpid(), "mqtt_state": "disconnected", "mqtt_last_error": "[Errno 111] Connection refused",
           "mqtt_broker": "127.0.0.1:1", "outbox_depth": 3}  # fmt: skip
    (run_dir / "status.json").write_text(json.dumps(doc))
    result = cli("--data-dir", str(config.data_dir), "status")
    assert "mqtt_state" in result.out and "Connection refused" in result.out and "outbox_depth" in result.out


FILE_KEYS = {
    ("mqtt", "password_file"): "",
    ("mqtt", "ca_file"): "",
    ("mqtt", "cert_file"): "",
    ("mqtt", "key_file"): "",
    ("mqtt", "command_key_file"): "",
    ("backup", "operator_public_key_file"): "",
    ("backup", "push_auth_file"): "",
    ("ota", "trusted_root"): "",
}


def toml_with(files: dict[tuple[str, str], str], extra: str = "") -> str:
    sections: dict[str, list[str]] = {}
    for (section, key), value in files.items():
        sections.setdefault(section, []).append(f'{key} = "{value}"')
    sections["mqtt"] += ['host = "127.0.0.1"', 'username = "door"', "tls = true"]
    sections["ota"].append('repository_url = "https://updates.example.org/occur"')
    return extra + "".join(f"[{s}]\n" + "\n".join(lines) + "\n" for s, lines in sections.items())


def test_check_config_names_every_missing_referenced_file(tmp_path: Path, cli: Cli) -> None:
    files = {k: str(tmp_path / f"missing-{k[1]}") for k in FILE_KEYS}
    path = tmp_path / "occur.toml"
    path.write_text(toml_with(files))
    result = cli("check-config", str(path))
    assert result.status == 3, result.out
    for section, key in FILE_KEYS:
        line = next(line for line in result.err.splitlines() if f"{section}.{key}:" in line)
        assert "not found" in line and str(tmp_path) in line


def test_check_config_accepts_present_files_and_refuses_a_folder(tmp_path: Path, cli: Cli) -> None:
    files = {}
    for section, key in FILE_KEYS:
        f = tmp_path / key
        f.write_text("x\n")
        files[(section, key)] = str(f)
    path = tmp_path / "occur.toml"
    path.write_text(toml_with(files))
    assert cli("check-config", str(path)).status == 0
    files[("mqtt", "ca_file")] = str(tmp_path)
    path.write_text(toml_with(files))
    result = cli("check-config", str(path))
    assert result.status == 3 and "mqtt.ca_file" in result.err and "not a file" in result.err

"""``occur run`` with updates on: the worker installs the channel's bundle from nginx while the
door runs, the loop switches to the new models between frames, keeps recognising people, and
Home Assistant's ``update`` entity (retained ``ota/state`` on a real mosquitto) follows."""

from __future__ import annotations

import json
import threading
import time
from dataclasses import replace
from pathlib import Path

import pytest

from firmware import service
from firmware.comms import commands
from firmware.config import DoorConfig, LoopConfig, MqttConfig, load
from tests.comms.broker import Broker, Subscriber
from tests.conftest import query
from tests.ota.repo_fixture import FACES, Site

NOFACE = FACES / "noface" / "faceapi_white.jpg"


def replay(folder: Path, frames: int) -> Path:
    """Amy at the door for 10 frames every 60 frames, empty frames between."""
    folder.mkdir()
    amy = sorted((FACES / "amy").glob("*.jpg"))[0]
    for i in range(frames):
        # symlinks, not hard links: thousands per run would exhaust the shared photo's link count
        (folder / f"{i:05d}.jpg").symlink_to(amy if i % 60 < 10 else NOFACE)
    return folder


KEY = b"provisioned-command-key-for-updates"


@pytest.mark.parametrize("trigger", ["schedule", "signed_command"])
def test_running_door_installs_switches_and_keeps_recognising(site: Site, tmp_path: Path, trigger: str) -> None:
    broker = Broker(tmp_path / "broker")
    broker.start()
    key_file = tmp_path / "command.key"
    key_file.write_bytes(KEY + b"\n")
    base = load(site.toml, str(site.data))
    config = replace(
        base,
        door=DoorConfig(pulse_s=0.2),
        loop=LoopConfig(cooldown_s=0.0),
        camera=replace(base.camera, fps=20.0),
        mqtt=MqttConfig(
            host="127.0.0.1",
            port=broker.port,
            drain_timeout_s=5.0,
            command_key_file=str(key_file),
            status_interval_s=1.0,
        ),
        ota=replace(base.ota, check_interval_s=1.0 if trigger == "schedule" else 0.0),
    )
    stop = threading.Event()
    runner = threading.Thread(
        target=lambda: service.run(config, f"replay:{replay(tmp_path / 'r', 1200)}", gpio="mock", stop=stop)
    )
    sub = Subscriber(broker.port, "occur/door-1/#")
    runner.start()
    try:
        states = lambda: [json.loads(p) for p in sub.on("occur/door-1/ota/state")]  # noqa: E731
        if trigger == "signed_command":
            assert sub.wait(lambda: bool(states()), 20)
            command = json.dumps(commands.sign(KEY, "update", time.time(), "nonce-update-1"))
            sub.publish("occur/door-1/cmd/update", command)
            assert sub.wait(lambda: bool(sub.on("occur/door-1/cmd/update/reply")), 20)
            reply = json.loads(sub.on("occur/door-1/cmd/update/reply")[0])
            assert "update check started" in json.dumps(reply), reply
        assert sub.wait(lambda: any(s["installed_version"] == "models-2026.12" for s in states()), 60), states()
        loaded = lambda: query(config.paths, "SELECT timestamp FROM system_events WHERE event_type = 'ota_loaded'")  # noqa: E731
        assert sub.wait(lambda: bool(loaded()), 20)
        switched_at = str(loaded()[0][0])
        granted = lambda: query(  # noqa: E731
            config.paths,
            "SELECT count(*) FROM door_events d JOIN users u ON u.id = d.user_id"
            " WHERE d.outcome = 'granted' AND u.name = 'amy' AND d.timestamp > ?",
            (switched_at,),
        )[0][0]
        assert sub.wait(lambda: granted() >= 1, 30)  # amy is recognised by the new models
        status_files = lambda: json.loads(sub.on("occur/door-1/status")[-1])["model_files"]  # noqa: E731
        assert sub.wait(lambda: status_files()["sface"].startswith("2026.12 "), 20), status_files()
    finally:
        stop.set()
        runner.join(30)
        sub.close()
        broker.stop()
    assert states()[0]["installed_version"] == "setup" and states()[-1]["in_progress"] is False
    events = [
        r[0]
        for r in query(config.paths, "SELECT event_type FROM system_events WHERE event_type LIKE 'ota_%' ORDER BY id")
    ]
    assert events.index("ota_installed") < events.index("ota_loaded")

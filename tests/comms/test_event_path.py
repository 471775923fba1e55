"""One event path: every system and command event reaches ``<prefix>/events`` (real mosquitto)."""

from __future__ import annotations

import json
import os
import threading
from dataclasses import replace
from pathlib import Path

import pytest

from firmware import service
from firmware.errors import StoreError
from firmware.loop import door_loop
from tests.comms.broker import Broker, Subscriber
from tests.comms.test_commands import KEY, signed
from tests.comms.test_mqtt import FACES, NOFACE, PREFIX, config_for, enrol_amy


def test_decision_failures_and_command_audits_reach_mqtt(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    folder = tmp_path / "r"
    folder.mkdir()
    amy = sorted((FACES / "amy").glob("*.jpg"))[0]
    for i in range(400):
        os.symlink(amy if i < 10 else NOFACE, folder / f"{i:04d}.jpg")  # not a hard link: one file, many tests
    key_file = tmp_path / "command.key"
    key_file.write_bytes(KEY + b"\n")
    broker = Broker(tmp_path / "broker")
    broker.start()
    config = config_for(tmp_path, broker.port, command_key_file=str(key_file), drain_timeout_s=5.0)
    config = replace(config, camera=replace(config.camera, fps=20.0))
    enrol_amy(config)

    def broken(*_: object) -> None:
        raise StoreError("disk on fire")

    monkeypatch.setattr(door_loop, "write_decision", broken)
    stop = threading.Event()
    runner = threading.Thread(target=lambda: service.run(config, f"replay:{folder}", gpio="mock", stop=stop))
    sub = Subscriber(broker.port, "#", client_id="operator")
    runner.start()

    def reasons() -> list[str]:
        return [str(e["reason"]) for e in sub.events(f"{PREFIX}/events") if e["type"] == "system"]

    try:
        assert sub.wait(lambda: any(r.startswith("decision_failed:") for r in reasons()), 60)
        sub.publish(f"{PREFIX}/cmd/reload", signed("reload", "nonce-event-path"))
        assert sub.wait(lambda: any(r.startswith("command:") for r in reasons()), 20)
    finally:
        stop.set()
        runner.join(60)
        sub.close()
        broker.stop()
    failed = next(r for r in reasons() if r.startswith("decision_failed:"))
    assert "disk on fire" in failed
    audit = json.loads(next(r for r in reasons() if r.startswith("command:")).removeprefix("command: "))
    assert audit["command"] == "reload" and audit["ok"] is True and audit["nonce"] == "nonce-event-path"

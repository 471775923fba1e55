"""One topics module: everything Home Assistant discovery announces is published (real
mosquitto, the door on a replay and mock pins with a door contact fitted)."""

from __future__ import annotations

import json
import os
from dataclasses import replace
from pathlib import Path

from firmware import service
from firmware.comms import topics
from firmware.config import DoorConfig
from tests.comms.broker import Broker, Subscriber
from tests.comms.test_mqtt import NOFACE, PREFIX, config_for


def test_every_announced_state_topic_gets_a_message(tmp_path: Path) -> None:
    folder = tmp_path / "r"
    folder.mkdir()
    for i in range(5):
        os.symlink(NOFACE, folder / f"{i:04d}.jpg")  # not a hard link: one file, many tests
    broker = Broker(tmp_path / "broker")
    broker.start()
    config = config_for(tmp_path, broker.port)
    config = replace(config, door=DoorConfig(pulse_s=0.2, contact_pin=5, tamper_pin=13))
    sub = Subscriber(broker.port, "#", client_id="home-assistant")
    try:
        service.run(config, f"replay:{folder}", gpio="mock", until_end=True)
        assert sub.wait(lambda: bool(sub.on("homeassistant/device/door-1/config")))
        doc = json.loads(sub.on("homeassistant/device/door-1/config")[-1])
        announced = {c["stat_t"] for c in doc["cmps"].values()} | {doc["avty_t"]}
        assert f"{PREFIX}/door/contact" in announced
        assert sub.wait(lambda: all(sub.on(t) for t in announced)), [t for t in announced if not sub.on(t)]
    finally:
        sub.close()
        broker.stop()
    assert sub.on(f"{PREFIX}/door/contact")[0] in (b"open", b"closed")
    assert not [t for t in doc["cmps"].values() if "tamper" in t["stat_t"]]  # tamper trips are door events


def test_discovery_leaves_out_the_contact_when_none_is_fitted() -> None:
    doc = topics.discovery_payload(topics.Topics(PREFIX), "Front door", contact=False)
    assert "contact" not in doc["cmps"]
    assert "tamper" in doc["cmps"]["door_event"]["evt_typ"]

"""The newest signed secure-log checkpoint stays on the broker (retained on ``<prefix>/audit``),
so a verifier that connects later still gets the head to hold off the device."""

from __future__ import annotations

import json
from pathlib import Path

from firmware import service
from firmware.security.audit import secure_log
from firmware.store.store import Store
from tests.comms.broker import Broker, Subscriber
from tests.comms.test_mqtt import NOFACE, PREFIX, broker, config_for, replay

__all__ = ["broker"]


def test_a_later_subscriber_gets_the_newest_checkpoint(tmp_path: Path, broker: Broker) -> None:
    config = config_for(tmp_path, broker.port)
    with Store.open(config.paths) as store:
        log = secure_log(config.paths, config.device.id)
        store.write(lambda c: log.append(c, "enrolment", {"i": 1}, "1"))
        seq = store.write(log.checkpoint)
    service.run(config, f"replay:{replay(tmp_path / 'r', [NOFACE], frames=2, gap=0)}", gpio="mock", until_end=True)
    late = Subscriber(broker.port, f"{PREFIX}/audit", client_id="auditor-connecting-later")
    try:
        assert late.wait(lambda: late.on(f"{PREFIX}/audit")), "the checkpoint was not retained"
    finally:
        late.close()
    held = json.loads(late.on(f"{PREFIX}/audit")[-1])
    assert held["seq"] == seq and held["type"] == "audit_checkpoint" and held["signature"]

"""The one remote-unlock path (signed MQTT command, web console, REST API): recorded before the
relay moves, refused while the door shows a fault."""

from __future__ import annotations

import pytest

from firmware.config import Config, DoorConfig, Paths
from firmware.hw.door import Door, mock_factory
from firmware.loop.unlock import UnlockRefusedError, remote_unlock
from firmware.store.store import Store
from tests.conftest import query


def test_remote_unlock_records_then_opens_and_refuses_on_fault(paths: Paths) -> None:
    config = Config(data_dir=paths.root, door=DoorConfig(pulse_s=0.5))
    factory = mock_factory()
    door = Door(config.door, factory)
    try:
        with Store.open(paths) as store:
            assert remote_unlock(store, door, config, "web console unlock by alice") == "unlocked for 0.5 s"
            assert door.unlocked
            door.lock()
            door.show("fault")
            with pytest.raises(UnlockRefusedError, match="fault"):
                remote_unlock(store, door, config, "api unlock by token ha")
            assert not door.unlocked
        assert query(paths, "SELECT outcome, reason FROM door_events") == [("granted", "web console unlock by alice")]
        assert query(paths, "SELECT topic, kind FROM outbox") == [("events", "door")]
    finally:
        door.close()

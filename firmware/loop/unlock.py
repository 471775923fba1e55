"""Opening the door on a person's request from afar: a signed MQTT command, the web console, or
a REST API token. One path for all, so every remote unlock is recorded the same way and obeys
the same fail-closed rule as the loop: refused while the door shows a fault."""

from __future__ import annotations

from firmware.config import Config
from firmware.errors import OccurError
from firmware.hw.door import DoorDevice
from firmware.platform.clock import now_iso
from firmware.store import eventlog
from firmware.store.store import Store


class UnlockRefusedError(OccurError):
    """The door must not open now (it shows a fault); the message says why."""


def remote_unlock(store: Store, door: DoorDevice, config: Config, reason: str = "remote unlock command") -> str:
    """Record a ``granted`` door event (and its MQTT event) in one transaction, then pulse the
    relay; returns what happened.

    Raises:
        UnlockRefusedError: the door shows a fault (nothing recorded, door stays locked).
        OccurError: the record could not be written (the door stays locked: no entry without a
            record).
    """
    if door.state == "fault":
        raise UnlockRefusedError("the door shows a fault: remote unlock refused (fail closed)")
    stamp = now_iso()
    store.write(lambda c: eventlog.door_input(c, store.origin, stamp, "granted", reason))
    door.grant()
    return f"unlocked for {config.door.pulse_s:.1f} s"

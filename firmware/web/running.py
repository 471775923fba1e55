"""Starting the console inside ``occur run``: what the running door lends it (see
:class:`~firmware.web.appliance.Appliance`)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from firmware.comms.bridge import MqttBridge
from firmware.config import Config
from firmware.hw.door import DoorDevice
from firmware.loop.door_loop import DoorLoop
from firmware.store.store import Store


@dataclass
class Latest:
    """The newest camera frame, for the console's live still and camera enrolment."""

    image: Any = None


def start_console(
    config: Config,
    store: Store,
    door: DoorDevice,
    loop: DoorLoop,
    status: Callable[[], dict[str, object]],
    bridge: MqttBridge | None,
    engine_lock: threading.Lock,
    latest: Latest,
) -> Callable[[], None]:
    """Start the web console on the running door when ``[web] enabled``; returns what stops it.

    Raises:
        OccurError: no certificate, or the port is taken (the door does not start without the
            console it was configured with).
    """
    if not config.web.enabled:
        return lambda: None
    from firmware.loop.unlock import remote_unlock
    from firmware.ota.worker import update_command
    from firmware.web.appliance import Appliance
    from firmware.web.routes import start

    notify = bridge.ota_state if bridge is not None else None
    install = bridge.handler.actions.get("update") if bridge is not None else None

    def unlock(reason: str) -> str:
        result = remote_unlock(store, door, config, reason)
        if bridge is not None:
            bridge.wake()
        return result

    def broker() -> str:
        if bridge is None:
            return "no broker configured"
        return "connected" if bridge.publisher.link.connected else "not connected"

    app = Appliance(
        config, store, door, lambda: loop.engine, engine_lock, status, lambda: latest.image, unlock,
        install or update_command(config, store, notify), notify, broker,
    )  # fmt: skip
    return start(app).stop

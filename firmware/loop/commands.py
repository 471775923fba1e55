"""What the door's signed MQTT commands do: ``unlock``, ``reload``, ``snapshot``, ``backup``
(``update`` comes from :mod:`firmware.ota.worker`). The MQTT side
(:class:`firmware.comms.bridge.MqttBridge`) only receives, checks, audits and answers; the
composition root gives it these actions, so comms never imports the loop.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from firmware.comms.commands import CommandRejectedError
from firmware.comms.handler import Action
from firmware.config import Config
from firmware.hw.door import DoorDevice
from firmware.loop.door_loop import DoorLoop
from firmware.loop.unlock import UnlockRefusedError, remote_unlock
from firmware.store.store import Store


class DoorCommands:
    """The actions, bound to one running door; ``last_frame`` reads the newest camera frame
    (the one the frame thread keeps for the console too), for ``snapshot``."""

    def __init__(
        self, config: Config, store: Store, door: DoorDevice, loop: DoorLoop, last_frame: Callable[[], Any]
    ) -> None:
        self.config = config
        self.store = store
        self.door = door
        self.loop = loop
        self.last_frame = last_frame

    def actions(self) -> dict[str, Action]:
        """Command name -> action (each returns the answer or raises CommandRejectedError)."""
        return {"unlock": self.unlock, "reload": self.reload, "snapshot": self.snapshot, "backup": self.backup}

    def unlock(self, _args: dict[str, object]) -> str:
        """Open the door (refused while it shows a fault)."""
        try:
            return remote_unlock(self.store, self.door, self.config)
        except UnlockRefusedError as err:
            raise CommandRejectedError(str(err)) from err

    def reload(self, _args: dict[str, object]) -> str:
        """Reload the gallery."""
        self.loop.recogniser.invalidate()
        return f"gallery reloaded: {len(self.loop.recogniser.gallery())} users"

    def snapshot(self, _args: dict[str, object]) -> str:
        """Keep the newest frame as a snapshot."""
        frame = self.last_frame()
        if frame is None:
            raise CommandRejectedError("no frame yet")
        h, w = frame.shape[:2]
        return str(self.loop.snapshots.capture(frame, (0, 0, w - 1, h - 1), "manual"))

    def backup(self, _args: dict[str, object]) -> str:
        """Write a backup now."""
        from firmware.backup import archive as backup

        files = backup.create(self.store, self.config)
        return "backup written: " + ", ".join(f.name for f in files)

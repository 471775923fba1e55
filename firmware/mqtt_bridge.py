"""The door's MQTT side, built by ``occur run`` when ``[mqtt] host`` is set.

Wires the outbox :class:`~firmware.comms.publisher.Publisher` to the running loop: retained
door state on every change, retained status JSON every ``status_interval_s``, Home Assistant
discovery on connect and whenever Home Assistant comes back online, and the command actions
(unlock, reload, snapshot, backup). Without a broker none of
this exists and events wait in the outbox.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

from firmware.comms import discovery, payloads
from firmware.comms.client import read_secret
from firmware.comms.commands import CommandRejectedError
from firmware.comms.handler import Action, CommandHandler
from firmware.comms.intake import CommandIntake
from firmware.comms.publisher import Publisher
from firmware.config import Config
from firmware.domain import Image
from firmware.hw.door import DoorDevice
from firmware.loop.door_loop import DoorLoop
from firmware.loop.unlock import UnlockRefusedError, remote_unlock
from firmware.security.audit import secure_log
from firmware.store.store import Store

log = logging.getLogger(__name__)


class MqttBridge:
    """Publisher + command handler + retained topics for one running door."""

    def __init__(
        self, config: Config, store: Store, door: DoorDevice, loop: DoorLoop, status: Callable[[], dict[str, Any]]
    ) -> None:
        self.config = config
        self.store = store
        self.door = door
        self.loop = loop
        self.status = status
        self.last_frame: Image | None = None
        self.prefix = payloads.prefix(config.mqtt.topic_prefix, config.device.id)
        mqtt = config.mqtt
        key = read_secret(mqtt.command_key_file, "mqtt.command_key_file").encode() if mqtt.command_key_file else None
        actions: dict[str, Action] = {
            "unlock": self._unlock,
            "reload": self._reload,
            "snapshot": self._snapshot,
            "backup": self._backup,
        }
        log = secure_log(config.paths, config.device.id)
        self.handler = CommandHandler(
            store,
            self.prefix,
            key,
            mqtt.command_max_age_s,
            actions,
            self._reply,
            lambda data: store.write(lambda c: log.append(c, "remote_command", data)),
        )
        self.intake = CommandIntake(self.handler)
        self.publisher = Publisher(config, store, on_command=self._route, on_connect=self._announce)
        self._door_state = ""
        self._last_status = 0.0
        self._ota_state: dict[str, Any] | None = None

    def start(self) -> None:
        """Start the command thread, then connect in the background."""
        self.intake.start()
        self.publisher.start()

    def wake(self) -> None:
        """New outbox rows."""
        self.publisher.wake()

    def tick(self) -> None:
        """Per frame: door state changes, periodic status."""
        state = "unlocked" if self.door.unlocked else "locked"
        if state != self._door_state and self.publisher.link.connected:
            self._door_state = state
            self.publisher.publish_retained("door/state", state)
        now = time.monotonic()
        if now - self._last_status >= self.config.mqtt.status_interval_s:
            self._last_status = now
            self.publisher.publish_retained("status", self.status())

    def ota_state(self, doc: dict[str, Any]) -> None:
        """The model-update state (Home Assistant ``update`` entity), retained; sent again on
        every (re)connection."""
        self._ota_state = doc
        self.publisher.publish_retained("ota/state", doc)

    def _announce(self) -> None:
        if self.config.mqtt.discovery:
            self.publisher.link.subscribe(f"{self.config.mqtt.discovery_prefix}/status")
            self._discovery()
        self._door_state = ""
        self._last_status = 0.0
        if self._ota_state is not None:
            self.publisher.publish_retained("ota/state", self._ota_state)

    def _discovery(self) -> None:
        doc = discovery.payload(self.config.device.id, self.config.device.name, self.prefix)
        import json

        self.publisher.link.publish(
            discovery.topic(self.config.mqtt.discovery_prefix, self.config.device.id),
            json.dumps(doc, separators=(",", ":")),
            1,
            True,
        )

    def _route(self, topic: str, payload: bytes, retained: bool) -> None:
        if topic == f"{self.config.mqtt.discovery_prefix}/status":
            if payload.strip() == b"online":
                self._discovery()
            return
        if topic.startswith(f"{self.prefix}/cmd/") and not topic.endswith("/reply"):
            if retained and payload:
                self.publisher.link.clear_retained(topic)  # a stored command must not wait for the next subscriber
            if payload or not retained:
                self.intake.offer(topic, payload, retained)

    def _reply(self, topic: str, text: str) -> None:
        self.publisher.link.publish(topic, text, 1, False)

    def _unlock(self, _args: dict[str, object]) -> str:
        try:
            result = remote_unlock(self.store, self.door, self.config)
        except UnlockRefusedError as err:
            raise CommandRejectedError(str(err)) from err
        self.wake()
        return result

    def _reload(self, _args: dict[str, object]) -> str:
        self.loop.recogniser.invalidate()
        return f"gallery reloaded: {len(self.loop.recogniser.gallery())} users"

    def _snapshot(self, _args: dict[str, object]) -> str:
        frame = self.last_frame
        if frame is None:
            raise CommandRejectedError("no frame yet")
        h, w = frame.shape[:2]
        return str(self.loop.snapshots.capture(frame, (0, 0, w - 1, h - 1), "manual"))

    def _backup(self, _args: dict[str, object]) -> str:
        from firmware.backup import archive as backup

        files = backup.create(self.store, self.config)
        return "backup written: " + ", ".join(f.name for f in files)

    def drain(self) -> bool:
        """Wait (bounded by ``drain_timeout_s``) for the outbox to empty."""
        return self.publisher.drain(self.config.mqtt.drain_timeout_s)

    def stop(self) -> None:
        """Finish queued commands (and write the refusal counts), clean ``offline``, disconnect."""
        self.intake.stop()
        self.publisher.stop()

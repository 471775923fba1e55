"""The door's MQTT side, built by ``occur run`` when ``[mqtt] host`` is set.

Wires the outbox :class:`~firmware.comms.publisher.Publisher` to the running door: the retained
door state, door contact, status and model-update state (each sent again on every connection),
Home Assistant discovery on connect and whenever Home Assistant comes back online, and the
command handler with the actions the composition root gives it (see
:mod:`firmware.loop.commands`). Topic names come from :mod:`firmware.comms.topics`. Without a
broker none of this exists and events wait in the outbox.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable
from typing import Any

from firmware.comms import topics
from firmware.comms.client import read_secret
from firmware.comms.handler import Action, CommandHandler
from firmware.comms.intake import CommandIntake
from firmware.comms.publisher import Publisher
from firmware.config import Config
from firmware.hw.door import DoorDevice
from firmware.store.store import Store

log = logging.getLogger(__name__)


class MqttBridge:
    """Publisher + command handler + retained topics for one running door."""

    def __init__(
        self,
        config: Config,
        store: Store,
        door: DoorDevice,
        actions: dict[str, Action],
        secure_audit: Callable[[dict[str, object]], object] | None = None,
    ) -> None:
        self.config = config
        self.store = store
        self.door = door
        self.topics = topics.Topics.of(config)
        mqtt = config.mqtt
        key = read_secret(mqtt.command_key_file, "mqtt.command_key_file").encode() if mqtt.command_key_file else None
        self.handler = CommandHandler(
            store,
            self.topics.prefix,
            key,
            mqtt.command_max_age_s,
            {name: self._reporting(action) for name, action in actions.items()},
            self._reply,
            secure_audit,
        )
        self.intake = CommandIntake(self.handler)
        self.publisher = Publisher(config, store, on_command=self._route, on_connect=self._announce)
        self._lock = threading.Lock()
        self._retained: dict[str, str | dict[str, Any]] = {}  # topic -> last payload, sent again on connect
        self._door_state = ""
        self.status_wanted = threading.Event()  # a new connection: the status worker sends a fresh one

    def start(self) -> None:
        """Start the command thread, then connect in the background."""
        self.intake.start()
        self.publisher.start()

    def wake(self) -> None:
        """New outbox rows."""
        self.publisher.wake()

    def door_state(self) -> None:
        """Publish ``door/state`` if it changed since it was last sent."""
        state = "unlocked" if self.door.unlocked else "locked"
        with self._lock:
            if state == self._door_state or not self.publisher.link.connected:
                return
            self._door_state = state
        self._retain(topics.DOOR_STATE, state)

    def contact(self, state: str) -> None:
        """The door contact changed (``open`` / ``closed``)."""
        self._retain(topics.DOOR_CONTACT, state)

    def status(self, doc: dict[str, Any]) -> None:
        """The health document, retained."""
        self._retain(topics.STATUS, doc)

    def ota_state(self, doc: dict[str, Any]) -> None:
        """The model-update state (Home Assistant ``update`` entity), retained."""
        self._retain(topics.OTA_STATE, doc)

    def _retain(self, name: str, payload: str | dict[str, Any]) -> None:
        with self._lock:
            self._retained[name] = payload
        self.publisher.publish_retained(name, payload)

    def _announce(self) -> None:
        if self.config.mqtt.discovery:
            self.publisher.link.subscribe(self.topics.ha_status)
            self._discovery()
        with self._lock:
            self._door_state = ""
            again = dict(self._retained)
        self.door_state()
        for name, payload in again.items():
            if name not in (topics.DOOR_STATE, topics.STATUS):
                self.publisher.publish_retained(name, payload)
        self.status_wanted.set()

    def _discovery(self) -> None:
        door = self.config.door
        doc = topics.discovery_payload(self.topics, self.config.device.name, contact=bool(door.contact_pin))
        self.publisher.link.publish(self.topics.discovery, json.dumps(doc, separators=(",", ":")), 1, True)

    def _route(self, topic: str, payload: bytes, retained: bool) -> None:
        if topic == self.topics.ha_status:
            if payload.strip() == b"online":
                self._discovery()
            return
        if self.topics.is_command(topic):
            if retained and payload:
                self.publisher.link.clear_retained(topic)  # a stored command must not wait for the next subscriber
            if payload or not retained:
                self.intake.offer(topic, payload, retained)

    def _reply(self, topic: str, text: str) -> None:
        self.publisher.link.publish(topic, text, 1, False)

    def _reporting(self, action: Action) -> Action:
        """After an action: send what it wrote (an unlock's event) and the door state now."""

        def run(args: dict[str, object]) -> str:
            result = action(args)
            self.wake()
            self.door_state()
            return result

        return run

    def drain(self) -> bool:
        """Wait (bounded by ``drain_timeout_s``) for the outbox to empty."""
        return self.publisher.drain(self.config.mqtt.drain_timeout_s)

    def stop(self) -> None:
        """Finish queued commands (and write the refusal counts), clean ``offline``, disconnect."""
        self.intake.stop()
        self.publisher.stop()

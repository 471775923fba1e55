"""The paho-mqtt adapter: the only module that imports paho.

It owns the connection: MQTT 5 (or 3.1.1 by config), TLS and credentials read from files, the
last will (retained ``offline`` on ``<prefix>/availability``), reconnects with backoff (1 s
doubling to 30 s, paho's own), and reports connects, disconnects, PUBACKs and messages to the
publisher through callbacks. paho's RAM queue is not relied on: nothing is queued while
disconnected (``publish`` returns None), the outbox is the queue; paho only holds messages
beyond the broker's receive maximum for a moment.
"""

from __future__ import annotations

import logging
import ssl
from collections.abc import Callable
from pathlib import Path
from typing import Any

from firmware.config import MqttConfig
from firmware.errors import ConfigError

log = logging.getLogger(__name__)


def read_secret(path: str, what: str) -> str:
    """A secret from a file (trailing newline dropped). Raises ConfigError if unreadable."""
    try:
        return Path(path).read_text(encoding="utf-8").rstrip("\n")
    except OSError as err:
        raise ConfigError([(what, f"cannot read {path}: {err.strerror}")]) from err


class MqttLink:
    """One broker connection, driven by paho's network thread."""

    def __init__(
        self,
        config: MqttConfig,
        client_id: str,
        availability_topic: str,
        on_connect: Callable[[], None],
        on_disconnect: Callable[[str], None],
        on_puback: Callable[[int], None],
        on_message: Callable[[str, bytes, bool], None],
    ) -> None:
        import paho.mqtt.client as mqtt

        self.config = config
        self.availability_topic = availability_topic
        self._mqtt = mqtt
        self.v5 = config.protocol == "5"
        self.connected = False
        protocol = mqtt.MQTTv5 if self.v5 else mqtt.MQTTv311
        from paho.mqtt.enums import CallbackAPIVersion

        client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id, protocol=protocol)
        client.will_set(availability_topic, "offline", qos=1, retain=True)
        if config.username:
            password = read_secret(config.password_file, "mqtt.password_file") if config.password_file else None
            client.username_pw_set(config.username, password)
        if config.tls:
            context = ssl.create_default_context(cafile=config.ca_file or None)
            if config.cert_file:
                context.load_cert_chain(config.cert_file, config.key_file or None)
            client.tls_set_context(context)
        client.reconnect_delay_set(1, 30)
        client.max_inflight_messages_set(200)
        client.max_queued_messages_set(0)  # only in-flight overflow is queued: publish() refuses when offline
        client.on_connect = self._connected
        client.on_disconnect = self._disconnected
        client.on_publish = lambda _c, _u, mid, _rc, _p: on_puback(mid)
        client.on_message = lambda _c, _u, msg: on_message(msg.topic, bytes(msg.payload), bool(msg.retain))
        self._client = client
        self._on_connect, self._on_disconnect = on_connect, on_disconnect

    def _connected(self, _client: Any, _userdata: Any, _flags: Any, reason: Any, _props: Any) -> None:
        if reason.is_failure:
            log.warning("mqtt: broker refused the connection: %s", reason)
            return
        self.connected = True
        log.info("mqtt: connected to %s:%d", self.config.host, self.config.port)
        self._client.publish(self.availability_topic, "online", qos=1, retain=True)
        self._on_connect()

    def _disconnected(self, _client: Any, _userdata: Any, _flags: Any, reason: Any, _props: Any) -> None:
        was = self.connected
        self.connected = False
        if was:
            log.warning("mqtt: disconnected (%s)", reason)
        self._on_disconnect(str(reason))

    def start(self) -> None:
        """Connect in the background; paho keeps reconnecting."""
        self._client.connect_async(self.config.host, self.config.port, self.config.keepalive_s)
        self._client.loop_start()

    def publish(
        self, topic: str, payload: str | bytes, qos: int = 1, retain: bool = False, expiry_s: int = 0
    ) -> int | None:
        """Send; returns the message id, or None when not connected (nothing is queued)."""
        if not self.connected:
            return None
        properties = None
        if self.v5 and expiry_s:
            from paho.mqtt.packettypes import PacketTypes
            from paho.mqtt.properties import Properties

            properties = Properties(PacketTypes.PUBLISH)  # type: ignore[no-untyped-call]
            properties.MessageExpiryInterval = expiry_s
        info = self._client.publish(topic, payload, qos=qos, retain=retain, properties=properties)
        if info.rc != self._mqtt.MQTT_ERR_SUCCESS:
            return None
        return int(info.mid)

    def subscribe(self, topic: str, qos: int = 1) -> None:
        """Subscribe (call from on_connect so it is renewed after each reconnect). With MQTT 5
        the retain flag is kept as published, so a command published retained is seen as such
        even when it arrives live (3.1.1 brokers clear it; the nonce and timestamp still stop
        a stored command from acting later)."""
        if self.v5:
            from paho.mqtt.subscribeoptions import SubscribeOptions

            options = SubscribeOptions(qos=qos, retainAsPublished=True)
            self._client.subscribe(topic, options=options)
        else:
            self._client.subscribe(topic, qos=qos)

    def clear_retained(self, topic: str) -> None:
        """Delete a retained message (an empty retained payload)."""
        self._client.publish(topic, b"", qos=1, retain=True)

    def stop(self, timeout_s: float = 2.0) -> None:
        """Publish a clean retained ``offline``, disconnect, stop the network thread."""
        if self.connected:
            info = self._client.publish(self.availability_topic, "offline", qos=1, retain=True)
            try:
                info.wait_for_publish(timeout_s)
            except (RuntimeError, ValueError) as err:
                log.warning("mqtt: offline message not confirmed: %s", err)
        self._client.disconnect()
        self._client.loop_stop()
        self.connected = False


def probe(config: MqttConfig, client_id: str, timeout_s: float = 10.0) -> str | None:
    """Connect once with the door's credentials and TLS settings, then disconnect; publishes
    nothing. Returns None when the broker accepted the connection, else the reason (refused with
    the broker's reason code, TLS or network error, or no answer within ``timeout_s``).

    Raises:
        ConfigError: the password file cannot be read.
    """
    import threading

    import paho.mqtt.client as mqtt
    from paho.mqtt.enums import CallbackAPIVersion

    protocol = mqtt.MQTTv5 if config.protocol == "5" else mqtt.MQTTv311
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id, protocol=protocol)
    if config.username:
        password = read_secret(config.password_file, "mqtt.password_file") if config.password_file else None
        client.username_pw_set(config.username, password)
    answered = threading.Event()
    outcome: list[str | None] = ["no answer from the broker"]

    def connected(_c: Any, _u: Any, _f: Any, reason: Any, _p: Any) -> None:
        outcome[0] = f"refused: {reason}" if reason.is_failure else None
        answered.set()

    client.on_connect = connected
    try:
        if config.tls:
            context = ssl.create_default_context(cafile=config.ca_file or None)
            if config.cert_file:
                context.load_cert_chain(config.cert_file, config.key_file or None)
            client.tls_set_context(context)
        client.connect(config.host, config.port, keepalive=max(5, int(timeout_s)))
    except (OSError, ssl.SSLError, ValueError) as err:
        return f"cannot connect to {config.host}:{config.port}: {err}"
    client.loop_start()
    try:
        if not answered.wait(timeout_s):
            return f"no CONNACK from {config.host}:{config.port} within {timeout_s:.0f} s"
        return outcome[0]
    finally:
        client.disconnect()
        client.loop_stop()

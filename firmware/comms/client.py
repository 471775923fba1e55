"""The paho-mqtt adapter: the only module that imports paho.

It owns the connection: MQTT 5 (or 3.1.1 by config), TLS and credentials read from files, the
last will (retained ``offline`` on ``<prefix>/availability``), reconnects with backoff (1 s
doubling to 30 s), and reports connects, disconnects, PUBACKs and messages to the publisher
through callbacks. paho's RAM queue is not relied on: nothing is queued while disconnected
(``publish`` returns None), the outbox is the queue; paho only holds messages beyond the
broker's receive maximum for a moment.

The link runs its own connect loop (paho's swallows the reason a connection failed) and keeps
its state (:class:`LinkState`): ``connecting`` until the first answer, then ``connected`` or
``disconnected`` with the last error (DNS, refused, timeout, TLS, or the broker's refusal). Each
change of state or of error is logged once; retries with the same error are not.
"""

from __future__ import annotations

import logging
import ssl
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from firmware.config import MqttConfig
from firmware.errors import ConfigError

log = logging.getLogger(__name__)


def read_secret(path: str, what: str) -> str:
    """A secret from a file (trailing newline dropped). Raises ConfigError if unreadable or not
    UTF-8 text."""
    try:
        return Path(path).read_text(encoding="utf-8").rstrip("\n")
    except OSError as err:
        raise ConfigError([(what, f"cannot read {path}: {err.strerror}")]) from err
    except UnicodeDecodeError as err:
        raise ConfigError([(what, f"{path} is not UTF-8 text")]) from err


def tls_context(config: MqttConfig) -> ssl.SSLContext:
    """The TLS context for ``[mqtt] tls``: the broker's CA (``ca_file``, else the system's) and
    the client certificate and key when ``cert_file`` is set.

    Raises:
        ConfigError: naming the key and the file that is missing, unreadable or not a usable
            certificate or key (the ssl module alone names neither).
    """
    for key, path in (("mqtt.ca_file", config.ca_file), ("mqtt.cert_file", config.cert_file),
                      ("mqtt.key_file", config.key_file if config.cert_file else "")):  # fmt: skip
        if path:
            try:
                Path(path).read_bytes()
            except OSError as err:
                raise ConfigError([(key, f"cannot read {path}: {err.strerror}")]) from err
    try:
        context = ssl.create_default_context(cafile=config.ca_file or None)
    except ssl.SSLError as err:
        raise ConfigError([("mqtt.ca_file", f"{config.ca_file} holds no usable CA certificate: {err}")]) from err
    if config.cert_file:
        try:
            context.load_cert_chain(config.cert_file, config.key_file or None)
        except ssl.SSLError as err:
            key = f" with the key {config.key_file}" if config.key_file else ""
            message = f"{config.cert_file}{key} is not a usable client certificate and key: {err}"
            raise ConfigError([("mqtt.cert_file", message)]) from err
    return context


BACKOFF_S = (1.0, 30.0)  # first and longest wait between connection attempts


@dataclass(frozen=True)
class LinkState:
    """The broker connection as ``occur status`` shows it."""

    broker: str
    state: str  # connecting | connected | disconnected
    since: float  # Unix seconds of the last change
    last_error: str | None

    def as_status(self) -> dict[str, object]:
        """The ``mqtt_*`` keys of the status document."""
        from firmware.platform.clock import unix_iso

        return {"mqtt_broker": self.broker, "mqtt_state": self.state, "mqtt_since": unix_iso(self.since),
                "mqtt_last_error": self.last_error}  # fmt: skip


class MqttLink:
    """One broker connection, driven by its own network thread (connect loop + paho's loop)."""

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

        client = mqtt.Client(
            CallbackAPIVersion.VERSION2, client_id=client_id, protocol=protocol, reconnect_on_failure=False
        )
        client.will_set(availability_topic, "offline", qos=1, retain=True)
        if config.username:
            password = read_secret(config.password_file, "mqtt.password_file") if config.password_file else None
            client.username_pw_set(config.username, password)
        if config.tls:
            client.tls_set_context(tls_context(config))
        client.max_inflight_messages_set(200)
        client.max_queued_messages_set(0)  # only in-flight overflow is queued: publish() refuses when offline
        client.on_connect = self._connected
        client.on_disconnect = self._disconnected
        client.on_publish = lambda _c, _u, mid, _rc, _p: on_puback(mid)
        client.on_message = lambda _c, _u, msg: on_message(msg.topic, bytes(msg.payload), bool(msg.retain))
        self._client = client
        self._on_connect, self._on_disconnect = on_connect, on_disconnect
        self.broker = f"{config.host}:{config.port}"
        self._state = LinkState(self.broker, "connecting", time.time(), None)
        self._state_lock = threading.Lock()
        self._stopping = threading.Event()
        self._up = False
        self._thread = threading.Thread(target=self._run, name="mqtt-network", daemon=True)

    @property
    def state(self) -> LinkState:
        """The connection state now."""
        with self._state_lock:
            return self._state

    def _change(self, state: str, error: str | None) -> None:
        """Record a state; log it once when the state or the error differs from the last one."""
        with self._state_lock:
            old = self._state
            if old.state == state and (error is None or old.last_error == error):
                return
            self._state = LinkState(self.broker, state, time.time(), error if error is not None else old.last_error)
        if state == "connected":
            log.info("mqtt: connected to %s", self.broker)
        elif old.state == "connected":
            log.warning("mqtt: lost the connection to %s: %s; reconnecting with backoff", self.broker, error)
        else:
            log.warning(
                "mqtt: cannot connect to %s: %s; retrying every %.0f-%.0f s (logged again only when this changes)",
                self.broker, error, *BACKOFF_S,
            )  # fmt: skip

    def _connected(self, _client: Any, _userdata: Any, _flags: Any, reason: Any, _props: Any) -> None:
        if reason.is_failure:
            self._change("disconnected", f"the broker refused the connection: {reason}")
            return
        self.connected = self._up = True
        self._change("connected", None)
        self._client.publish(self.availability_topic, "online", qos=1, retain=True)
        self._on_connect()

    def _disconnected(self, _client: Any, _userdata: Any, _flags: Any, reason: Any, _props: Any) -> None:
        was = self.connected
        self.connected = False
        if was and not self._stopping.is_set():
            self._change("disconnected", f"disconnected: {reason}")
        self._on_disconnect(str(reason))

    def start(self) -> None:
        """Connect in the background; the link keeps reconnecting until :meth:`stop`."""
        self._thread.start()

    def _run(self) -> None:
        """Connect, run paho's loop until the connection ends, wait, again. paho's ``connect``
        raises the reason a connection failed (its own retry loop would swallow it)."""
        wait = BACKOFF_S[0]
        while not self._stopping.is_set():
            try:
                self._client.connect(self.config.host, self.config.port, self.config.keepalive_s)
            except (OSError, ValueError) as err:
                self._change("disconnected", _reason(err))
            else:
                if self._stopping.is_set():
                    self._client.disconnect()
                self._up = False
                self._client.loop_forever()
                if self._up:  # it worked for a while: start the backoff again
                    wait = BACKOFF_S[0]
                elif self.state.state == "connecting":
                    self._change("disconnected", "the connection closed before the broker answered")
            if self.connected:
                self.connected = False
            if self._stopping.wait(wait):
                break
            wait = min(wait * 2, BACKOFF_S[1])

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
        self._stopping.set()
        self._client.disconnect()
        if self._thread.is_alive():
            self._thread.join(timeout_s + 5)
        self.connected = False


def _reason(err: BaseException) -> str:
    """A connection error in words: DNS, refused, timeout, TLS."""
    if isinstance(err, ssl.SSLError):
        return f"TLS: {err.reason or err}"
    if isinstance(err, TimeoutError):
        return "timed out"
    return str(err) or type(err).__name__


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
            client.tls_set_context(tls_context(config))
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

"""The outbox publisher: sends outbox rows in order with QoS 1, marks them sent on PUBACK.

One thread. On every (re)connect it starts again from the oldest unsent row, so anything not
acknowledged before an outage or a restart is sent again with the same event id (subscribers
deduplicate on it); rows are sent in sequence order on one connection, so the broker delivers
them in order. Up to ``WINDOW`` messages are in flight. Acknowledgements are written back in
batches. The door never waits for any of this: the loop only writes outbox rows and calls
:meth:`wake`.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from firmware.comms import topics
from firmware.comms.client import MqttLink
from firmware.config import Config
from firmware.errors import OccurError
from firmware.platform.clock import now_iso
from firmware.store import outbox
from firmware.store.store import Store

log = logging.getLogger(__name__)
WINDOW = 100


class Publisher:
    """Outbox -> broker, plus the retained availability, door state and status topics."""

    def __init__(
        self,
        config: Config,
        store: Store,
        on_command: Callable[[str, bytes, bool], None] | None = None,
        on_connect: Callable[[], None] | None = None,
    ) -> None:
        self.config = config
        self.store = store
        self.topics = topics.Topics.of(config)
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._inflight: dict[int, int] = {}  # mid -> seq
        self._acked: list[int] = []
        self._cursor = 0
        self._reset = True
        self._on_command = on_command
        self._on_connect_hook = on_connect
        self.sent = 0
        self.link = MqttLink(
            config.mqtt,
            config.mqtt.client_id or f"occur-{config.device.id}",
            self.topics.full(topics.AVAILABILITY),
            self._connected,
            self._disconnected,
            self._puback,
            self._message,
        )
        self._thread = threading.Thread(target=self._run, name="mqtt-publisher", daemon=True)

    def start(self) -> None:
        """Connect (in the background) and start sending."""
        self.link.start()
        self._thread.start()

    def wake(self) -> None:
        """New outbox rows: send them now rather than at the next poll."""
        self._wake.set()

    def _connected(self) -> None:
        with self._lock:
            self._inflight.clear()
            self._reset = True
        if self._on_command is not None:
            # QoS 0: the session is clean, so QoS 1 would not bring a command back after a lost
            # connection either, and its PUBACK per message is a third of the door's cost per
            # message in a flood (measured with occur bench commands). Every command is answered:
            # no answer means send it again.
            self.link.subscribe(self.topics.commands, 0)
        if self._on_connect_hook is not None:
            self._on_connect_hook()
        self._wake.set()

    def _disconnected(self, _reason: str) -> None:
        self._wake.set()

    def _puback(self, mid: int) -> None:
        with self._lock:
            seq = self._inflight.pop(mid, None)
            if seq is not None:
                self._acked.append(seq)
        self._wake.set()

    def _message(self, topic: str, payload: bytes, retained: bool) -> None:
        if self._on_command is not None:
            try:
                self._on_command(topic, payload, retained)
            except Exception as err:  # noqa: BLE001 - a bad command must never kill the network thread
                log.error("mqtt: command on %s failed: %s", topic, err)

    def _flush_acks(self) -> None:
        with self._lock:
            acked, self._acked = self._acked, []
        if acked:
            try:
                self.store.write(lambda c: outbox.mark_sent(c, acked, now_iso()))
                self.sent += len(acked)
            except OccurError as err:
                log.error("mqtt: could not mark %d rows sent (they will be sent again): %s", len(acked), err)

    def _send_more(self) -> None:
        with self._lock:
            if self._reset:
                self._cursor, self._reset = 0, False
            room = WINDOW - len(self._inflight)
            cursor = self._cursor
        if room <= 0 or not self.link.connected:
            return
        with self.store.reader() as conn:
            rows = outbox.pending(conn, cursor, room)
        for row in rows:
            kept = row.topic in topics.RETAINED_OUTBOX  # the newest signed log checkpoint stays on the broker
            expiry = 0 if kept else self.config.mqtt.message_expiry_s
            mid = self.link.publish(self.topics.full(row.topic), row.payload, 1, kept, expiry)
            if mid is None:
                return
            with self._lock:
                if self._reset:
                    return
                self._inflight[mid] = row.seq
                self._cursor = row.seq

    def _run(self) -> None:
        while not self._stop.is_set():
            self._wake.wait(0.5)
            self._wake.clear()
            try:
                self._flush_acks()
                self._send_more()
            except OccurError as err:
                log.error("mqtt: publisher: %s", err)
                time.sleep(0.5)

    def publish_retained(self, topic: str, payload: str | dict[str, Any]) -> None:
        """A retained message on ``<prefix>/<topic>`` (door state, status), if connected."""
        text = payload if isinstance(payload, str) else json.dumps(payload, separators=(",", ":"))
        self.link.publish(self.topics.full(topic), text, 1, True)

    def depth(self) -> int:
        """Unsent outbox rows."""
        with self.store.reader() as conn:
            return outbox.depth(conn)

    def drain(self, timeout_s: float) -> bool:
        """Wait until the outbox is empty (True) or ``timeout_s`` passes (False)."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            self._wake.set()
            if self.depth() == 0:
                return True
            time.sleep(0.05)
        return self.depth() == 0

    def stop(self, grace_s: float = 2.0) -> None:
        """Send what is left for up to ``grace_s`` (the shutdown's own events), flush
        acknowledgements, publish a clean ``offline`` and disconnect."""
        if self.link.connected:
            self.drain(grace_s)
        self._stop.set()
        self._wake.set()
        if self._thread.is_alive():
            self._thread.join(5)
        self._flush_acks()
        self.link.stop()
        self._flush_acks()

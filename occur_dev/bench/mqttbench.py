"""``occur bench mqtt``: events through the outbox to a broker and back to a subscriber.

Throughput: N events written as fast as possible, one transaction each (as decisions are),
until the subscriber has them all. Latency: events paced at a steady rate; for each, the time
from its transaction's commit to its arrival at a subscriber on the same broker.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from firmware.comms import topics
from firmware.comms.client import MqttLink
from firmware.comms.publisher import Publisher
from firmware.config import Config
from firmware.platform.clock import now_iso
from firmware.store import eventlog, outbox
from firmware.store.store import Store


@dataclass(frozen=True)
class MqttBench:
    """Figures of one run."""

    events: int
    events_per_s: float
    latency_median_ms: float
    latency_p95_ms: float
    latency_events: int


class _Receiver:
    def __init__(self, config: Config, topic: str) -> None:
        self.arrived: dict[str, float] = {}
        self.lock = threading.Lock()
        self.ready = threading.Event()
        mqtt = replace(config.mqtt, client_id=f"occur-bench-{time.monotonic_ns()}")
        self.link = MqttLink(
            mqtt,
            mqtt.client_id,
            f"{topic}/bench-availability",
            self._connected,
            lambda _r: None,
            lambda _m: None,
            self._message,
        )
        self.topic = topic

    def _connected(self) -> None:
        self.link.subscribe(self.topic)
        self.ready.set()

    def _message(self, _topic: str, payload: bytes, _retained: bool) -> None:
        import json

        event_id = json.loads(payload)["id"]
        with self.lock:
            self.arrived.setdefault(event_id, time.monotonic())


def _send(store: Store, publisher: Publisher, device: str) -> tuple[str, float]:
    stamp = now_iso()
    event = eventlog.event("system", stamp, device, reason="bench")
    store.write(lambda c: outbox.add(c, event["id"], stamp, "events", "system", event, 10_000_000))
    committed = time.monotonic()
    publisher.wake()
    return event["id"], committed


def _wait(receiver: _Receiver, ids: list[str], timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        with receiver.lock:
            if all(i in receiver.arrived for i in ids):
                return
        time.sleep(0.01)
    raise TimeoutError(f"only {len(receiver.arrived)} of {len(ids)} events arrived")


def run(config: Config, data_dir: Path, events: int = 5000, paced: int = 500, rate: float = 100.0) -> MqttBench:
    """Run both measurements against the configured broker, in scratch ``data_dir``."""
    config = replace(config, data_dir=data_dir)
    prefix = topics.prefix(config.mqtt.topic_prefix, config.device.id)
    with Store.open(config.paths, config.storage) as store:
        publisher = Publisher(config, store)
        receiver = _Receiver(config, f"{prefix}/events")
        receiver.link.start()
        publisher.start()
        try:
            if not receiver.ready.wait(10):
                raise TimeoutError(f"no broker at {config.mqtt.host}:{config.mqtt.port}")
            start = time.monotonic()
            ids = [_send(store, publisher, config.device.id)[0] for _ in range(events)]
            _wait(receiver, ids, 120)
            elapsed = max(receiver.arrived[i] for i in ids) - start
            latencies = []
            for _ in range(paced):
                event_id, committed = _send(store, publisher, config.device.id)
                _wait(receiver, [event_id], 10)
                latencies.append((receiver.arrived[event_id] - committed) * 1000)
                time.sleep(max(0.0, 1 / rate - latencies[-1] / 1000))
        finally:
            publisher.stop()
            receiver.link.stop()
    return MqttBench(
        events, events / elapsed, float(np.median(latencies)), float(np.percentile(latencies, 95)), len(latencies)
    )

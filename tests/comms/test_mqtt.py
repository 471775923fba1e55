"""MQTT against a real mosquitto: events once by id and in order across broker outages and device
restarts, availability and retained state, Home Assistant discovery, TLS."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from firmware import service
from firmware.config import Config, DoorConfig, LoopConfig, MqttConfig
from firmware.recognition.enrol import enrol
from firmware.store.store import Store
from firmware.vision.engine import FaceEngine
from tests.comms.broker import Broker, Subscriber, free_port
from tests.conftest import REPO, SHARED

FACES = SHARED / "data" / "faces"
NOFACE = FACES / "noface" / "faceapi_white.jpg"
PREFIX = "occur/door-1"


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[Broker]:
    b = Broker(tmp_path / "broker")
    b.start()
    try:
        yield b
    finally:
        b.stop()


def replay(folder: Path, visits: list[Path], frames: int = 10, gap: int = 10) -> Path:
    folder.mkdir(parents=True)
    n = 0
    for path in visits:
        for source in [path] * frames + [NOFACE] * gap:
            os.symlink(source, folder / f"{n:05d}.jpg")
            n += 1
    return folder


def config_for(tmp_path: Path, port: int, **mqtt: object) -> Config:
    base = Config(data_dir=tmp_path / "data")
    return replace(
        base,
        door=DoorConfig(pulse_s=0.2),
        loop=LoopConfig(cooldown_s=0.0),
        camera=replace(base.camera, fps=0.0),
        mqtt=MqttConfig(**{"host": "127.0.0.1", "port": port, "drain_timeout_s": 20.0, **mqtt}),  # type: ignore[arg-type]
    )


def enrol_amy(config: Config) -> None:
    """Amy, and Raj who never comes: the door names nobody from a gallery of one."""
    with Store.open(config.paths) as store:
        engine = FaceEngine.load(config.vision.for_photos())
        enrol(store, engine, "amy", sorted((FACES / "amy").glob("*.jpg"))[1:])
        enrol(store, engine, "raj", sorted((FACES / "raj").glob("*.jpg"))[1:2])


def sql(config: Config, query: str) -> list[tuple[object, ...]]:
    """Read with a read-only connection that is closed at once (never holds the WAL open)."""
    with contextlib.closing(sqlite3.connect(f"file:{config.paths.database}?mode=ro", uri=True)) as conn:
        return list(conn.execute(query))


def decisions(config: Config) -> list[tuple[object, ...]]:
    return sql(config, "SELECT seq FROM outbox WHERE kind = 'access'")


def until(condition: Callable[[], bool], timeout_s: float) -> bool:
    """Poll ``condition`` until it holds (True) or ``timeout_s`` passes (False)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.02)
    return condition()


def outbox_ids(config: Config) -> list[str]:
    return [str(r[0]) for r in sql(config, "SELECT event_id FROM outbox WHERE topic = 'events' ORDER BY seq")]


@pytest.mark.parametrize("protocol", ["5", "3.1.1"])
def test_events_availability_door_state_and_discovery(tmp_path: Path, broker: Broker, protocol: str) -> None:
    config = config_for(tmp_path, broker.port, protocol=protocol)
    enrol_amy(config)
    sub = Subscriber(broker.port, "#")
    try:
        visits = [sorted((FACES / "amy").glob("*.jpg"))[0], FACES / "howard" / "howard1.jpg"]
        report = service.run(config, f"replay:{replay(tmp_path / 'r', visits)}", gpio="mock", until_end=True)
        assert [d.granted for d in report.decisions] == [True, False]
        assert sub.wait(lambda: len(sub.on(f"{PREFIX}/events")) >= 4)
        assert sub.wait(lambda: sub.on(f"{PREFIX}/availability")[-1:] == [b"offline"])
    finally:
        sub.close()
    events = sub.events(f"{PREFIX}/events")
    kinds = [e["type"] for e in events]
    assert kinds == ["system", "granted", "unknown_face", "system"]
    granted = events[1]
    assert (
        granted["user"]["name"] == "amy"
        and granted["device"] == "door-1"
        and granted["snapshot"].startswith("snapshots/")
    )
    assert [e["id"] for e in events] == sorted(e["id"] for e in events) == outbox_ids(config)
    assert sub.on(f"{PREFIX}/availability")[0] == b"online"
    assert b"unlocked" in sub.on(f"{PREFIX}/door/state")
    discovery = json.loads(sub.on("homeassistant/device/door-1/config")[0])
    assert discovery["cmps"]["door"]["dev_cla"] == "lock" and discovery["avty_t"] == f"{PREFIX}/availability"
    status = json.loads(sub.on(f"{PREFIX}/status")[-1])
    assert status["outbox_depth"] == 0 and "fps" in status
    assert sql(config, "SELECT count(*) FROM outbox WHERE sent_at IS NULL") == [(0,)]


def test_broker_outage_loses_nothing_and_duplicates_no_id(tmp_path: Path, broker: Broker) -> None:
    config = config_for(tmp_path, broker.port)
    config = replace(config, camera=replace(config.camera, fps=60.0))
    enrol_amy(config)
    sub = Subscriber(broker.port, f"{PREFIX}/events")
    stop = threading.Event()
    people = [sorted((FACES / "amy").glob("*.jpg"))[0], FACES / "howard" / "howard1.jpg"] * 6
    folder = replay(tmp_path / "r", people)
    done: list[service.RunReport] = []
    runner = threading.Thread(
        target=lambda: done.append(service.run(config, f"replay:{folder}", gpio="mock", until_end=True, stop=stop))
    )
    runner.start()
    try:
        assert sub.wait(lambda: len(sub.on(f"{PREFIX}/events")) >= 2)
        broker.stop()
        decided = len(decisions(config))
        assert until(lambda: len(decisions(config)) > decided, 60)  # the loop keeps deciding while the broker is down
        broker.start()
        runner.join(120)
        assert not runner.is_alive()
        expected = outbox_ids(config)
        assert sub.wait(lambda: {e["id"] for e in sub.events(f"{PREFIX}/events")} >= set(expected), 30)
    finally:
        stop.set()
        sub.close()
    received = [e["id"] for e in sub.events(f"{PREFIX}/events")]
    first_seen = list(dict.fromkeys(received))
    assert first_seen == expected  # every event, once by id, in order
    assert len(done[0].decisions) == 12


def test_events_survive_a_device_killed_while_the_broker_is_down(tmp_path: Path, broker: Broker) -> None:
    dead_port = free_port()
    config = config_for(tmp_path, dead_port)
    toml = tmp_path / "occur.toml"
    toml.write_text(f'[mqtt]\nhost = "127.0.0.1"\nport = {dead_port}\n[camera]\nfps = 20.0\n[loop]\ncooldown_s = 0.0\n')
    folder = replay(tmp_path / "r", [FACES / "howard" / "howard1.jpg", FACES / "raj" / "raj1.jpg"] * 10)
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "firmware",
            "--config",
            str(toml),
            "--data-dir",
            str(config.paths.root),
            "run",
            "--source",
            f"replay:{folder}",
            "--gpio",
            "mock",
            "--quiet",
        ],
        cwd=REPO,
    )
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if config.paths.database.exists() and len(outbox_ids(config)) >= 4:
                    break
            except sqlite3.OperationalError:
                pass  # the database is still being created or migrated by the device

            time.sleep(0.1)
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
    finally:
        if proc.poll() is None:
            proc.kill()
    pending = outbox_ids(config)
    assert len(pending) >= 4
    sub = Subscriber(broker.port, f"{PREFIX}/events", client_id="after-restart")
    try:
        time.sleep(0.5)
        quiet = replay(tmp_path / "quiet", [], frames=0, gap=0) if False else tmp_path / "quiet"
        quiet.mkdir()
        os.symlink(NOFACE, quiet / "0.jpg")
        service.run(config_for(tmp_path, broker.port), f"replay:{quiet}", gpio="mock", until_end=True)
        assert sub.wait(lambda: {e["id"] for e in sub.events(f"{PREFIX}/events")} >= set(pending), 30)
    finally:
        sub.close()
    received = list(dict.fromkeys(e["id"] for e in sub.events(f"{PREFIX}/events")))
    assert received[: len(pending)] == pending


def test_tls_with_a_private_ca(tmp_path: Path) -> None:
    from tests.comms.certs import make_ca_and_server

    certs = make_ca_and_server(tmp_path / "pki")
    tls_broker = Broker(tmp_path / "tls-broker", tls=certs)
    tls_broker.start()
    sub = Subscriber(tls_broker.port, f"{PREFIX}/#", tls_ca=certs["ca"])
    try:
        config = config_for(tmp_path, tls_broker.port, tls=True, ca_file=certs["ca"])
        quiet = tmp_path / "quiet"
        quiet.mkdir()
        os.symlink(NOFACE, quiet / "0.jpg")
        service.run(config, f"replay:{quiet}", gpio="mock", until_end=True)
        assert sub.wait(lambda: len(sub.on(f"{PREFIX}/events")) >= 2)
        # a client that does not trust the broker's CA never connects: events stay queued
        other = certs["other_ca"]
        untrusting = replace(config_for(tmp_path, tls_broker.port, tls=True, ca_file=other, drain_timeout_s=1.0))
        service.run(untrusting, f"replay:{quiet}", gpio="mock", until_end=True)
        assert int(sql(config, "SELECT count(*) FROM outbox WHERE sent_at IS NULL")[0][0]) >= 2
    finally:
        sub.close()
        tls_broker.stop()


def test_bench_mqtt_prints_its_figures(tmp_path: Path, broker: Broker, cli: Any) -> None:
    toml = tmp_path / "occur.toml"
    toml.write_text(f'[mqtt]\nhost = "127.0.0.1"\nport = {broker.port}\n')
    result = cli(
        "--config",
        str(toml),
        "bench",
        "mqtt",
        "--events",
        "200",
        "--paced",
        "20",
        "--dir",
        str(tmp_path / "b"),
        "--json",
    )
    assert result.status == 0, result.err
    doc = json.loads(result.out)
    assert doc["events"] == 200 and doc["events_per_s"] > 0 and doc["latency_events"] == 20
    assert 0 < doc["latency_median_ms"] <= doc["latency_p95_ms"]
    assert cli("bench", "mqtt").status == 2  # no broker configured

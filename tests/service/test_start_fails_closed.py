"""Fail closed at start: whatever goes wrong while ``occur run`` starts, after the door's relay
has been built, the relay pin never leaves its locked level and ``occur`` exits with a status and
a message that name the fault.

Each test runs ``occur run`` in-process on gpiozero MockFactory pins (the factory is the test's,
so the relay pin's whole history can be read afterwards) with real SQLite files, the real models,
real photos and, where a broker is needed, a real mosquitto on a loopback port. Faults are real
where they can be made real (an interrupted key rotation, a damaged database, a missing data
key, a damaged models folder, a missing camera source, unusable MQTT TLS files, no broker
listening, a camera that cannot be opened); the remaining start steps get an injected exception,
one step at a time.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import threading
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from gpiozero.pins.mock import MockFactory

from firmware import service
from firmware.cli.common import ExitStatus
from firmware.comms.bridge import MqttBridge
from firmware.config import Config, DoorConfig
from firmware.crypto.keys import PENDING_DATA_KEY
from firmware.platform import sdnotify
from firmware.platform.install import built_models_dir
from firmware.store.store import Store
from firmware.workers import backups
from firmware.workers.watchdog import Watchdog
from tests.comms.broker import Broker, free_port
from tests.conftest import SHARED, Cli, CliResult, query

FACES = SHARED / "data" / "faces"
STRANGER = FACES / "penny" / "penny1.jpg"
NOFACE = FACES / "noface" / "faceapi_white.jpg"
RELAY = DoorConfig().relay_pin


@pytest.fixture
def pins(monkeypatch: pytest.MonkeyPatch) -> MockFactory:
    """The MockFactory ``occur run --gpio mock`` builds its door on."""
    factory = MockFactory()
    monkeypatch.setattr(service, "mock_factory", lambda: factory)
    return factory


@pytest.fixture(scope="module")
def broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Broker]:
    b = Broker(tmp_path_factory.mktemp("broker"))
    b.start()
    try:
        yield b
    finally:
        b.stop()


def replay(tmp_path: Path) -> Path:
    """A stranger at the door for 8 frames between empty frames."""
    folder = tmp_path / "replay"
    folder.mkdir()
    for n, source in enumerate([NOFACE] * 4 + [STRANGER] * 8 + [NOFACE] * 4):
        os.symlink(source, folder / f"{n:03d}.jpg")
    return folder


def occur_run(cli: Cli, tmp_path: Path, toml: str = "", source: str | None = None, backoff: bool = False) -> CliResult:
    """``occur --config C --data-dir D run --gpio mock --until-end --no-backoff`` with ``toml``
    (without ``--no-backoff`` when ``backoff``)."""
    config = tmp_path / "occur.toml"
    config.write_text(toml)
    spec = source or f"replay:{replay(tmp_path)}"
    args = ["--config", str(config), "--data-dir", str(tmp_path / "data"), "run", "--source", spec]
    return cli(*args, "--gpio", "mock", "--until-end", "--quiet", *([] if backoff else ["--no-backoff"]))


def assert_locked_throughout(factory: MockFactory, active_high: bool = True) -> None:
    """The relay pin was driven by the door and only ever held the locked level, then released.

    A MockPin records every level it takes; its first entry is the level before any software
    drove it (low), which is the locked level of an active-high relay and the unlocked level of an
    active-low one (what an undriven pin does on a real board is the board's wiring).
    """
    assert any(info.name == f"GPIO{RELAY}" for info in factory.pins), "the door never built its relay"
    pin = factory.pin(RELAY)
    levels = [s.state for s in pin.states]
    assert levels == ([False] if active_high else [False, True]), levels
    assert pin.function == "input", "the door did not release the relay pin"


def seed_database(tmp_path: Path) -> Config:
    """A door's data folder as ``occur run`` leaves it: database, keys, key fingerprint."""
    config = Config(data_dir=tmp_path / "data")
    Store.open(config.paths).close()
    return config


# Real faults, one per start step after the relay is built.


@pytest.mark.parametrize("active_high", [True, False], ids=["active-high", "active-low"])
def test_an_interrupted_key_rotation_keeps_the_door_locked(
    cli: Cli, pins: MockFactory, tmp_path: Path, active_high: bool
) -> None:
    """The first check ``occur run`` makes: it refuses to start in the middle of a key rotation,
    with the relay already built and driven locked (an active-low board's undriven pin is its
    unlocked level), and changes no key."""
    config = seed_database(tmp_path)
    data_key = config.paths.keys / "data.key"
    before = data_key.read_bytes()
    pending = config.paths.keys / PENDING_DATA_KEY
    pending.write_bytes(b"\x01" * 32)
    pending.chmod(0o600)
    result = occur_run(cli, tmp_path, f"[door]\nrelay_active_high = {str(active_high).lower()}\n")
    assert result.status == ExitStatus.ERROR, result
    assert "rotation was interrupted" in result.err and "occur keys rotate --resume" in result.err, result.err
    assert data_key.read_bytes() == before and pending.read_bytes() == b"\x01" * 32, "a key was changed"
    assert_locked_throughout(pins, active_high)


def test_a_damaged_database_without_a_backup_keeps_the_door_locked(cli: Cli, pins: MockFactory, tmp_path: Path) -> None:
    config = seed_database(tmp_path)
    config.paths.database.write_bytes(b"this is not an SQLite database\n" * 256)
    result = occur_run(cli, tmp_path)
    assert result.status == ExitStatus.CORRUPT, result
    assert str(config.paths.database) in result.err and "occur db" in result.err
    assert_locked_throughout(pins)


def test_a_missing_data_key_keeps_the_door_locked(cli: Cli, pins: MockFactory, tmp_path: Path) -> None:
    config = seed_database(tmp_path)
    (config.paths.keys / "data.key").unlink()
    result = occur_run(cli, tmp_path)
    assert result.status == ExitStatus.ERROR, result
    assert "data.key is missing" in result.err and "restore the keys folder" in result.err
    assert not (config.paths.keys / "data.key").exists(), "a new data key was made"
    assert_locked_throughout(pins)


@pytest.mark.parametrize("active_high", [True, False], ids=["active-high", "active-low"])
def test_a_damaged_models_folder_keeps_the_door_locked(
    cli: Cli, pins: MockFactory, tmp_path: Path, active_high: bool
) -> None:
    models = tmp_path / "models"
    shutil.copytree(built_models_dir(), models)
    damaged = models / "sface_f32.tflite"
    damaged.write_bytes(damaged.read_bytes()[: damaged.stat().st_size // 2])
    toml = f'[door]\nrelay_active_high = {str(active_high).lower()}\n[vision]\nmodels_dir = "{models}"\n'
    result = occur_run(cli, tmp_path, toml)
    assert result.status == ExitStatus.ERROR, result
    assert "sface_f32.tflite" in result.err, result.err
    assert_locked_throughout(pins, active_high)


def test_a_missing_camera_source_keeps_the_door_locked(cli: Cli, pins: MockFactory, tmp_path: Path) -> None:
    result = occur_run(cli, tmp_path, source=f"replay:{tmp_path / 'no such folder'}")
    assert result.status == ExitStatus.ERROR, result
    assert f"replay source {tmp_path / 'no such folder'} does not exist" in result.err
    assert_locked_throughout(pins)


def test_a_green_led_on_the_relay_pin_keeps_the_door_locked(cli: Cli, pins: MockFactory, tmp_path: Path) -> None:
    result = occur_run(cli, tmp_path, f"[door]\ngreen_led_pin = {RELAY}\n")
    assert result.status == ExitStatus.ERROR, result
    assert "door GPIO" in result.err
    assert_locked_throughout(pins)


@pytest.mark.parametrize(
    ("key", "content"),
    [("ca_file", None), ("ca_file", "not a certificate\n"), ("cert_file", None)],
    ids=["ca-missing", "ca-garbage", "client-cert-missing"],
)
def test_unusable_mqtt_tls_files_are_named_and_keep_the_door_locked(
    cli: Cli, pins: MockFactory, tmp_path: Path, key: str, content: str | None
) -> None:
    path = tmp_path / f"mqtt-{key}.pem"
    if content is not None:
        path.write_text(content)
    toml = f'[mqtt]\nhost = "127.0.0.1"\nport = {free_port()}\ntls = true\n{key} = "{path}"\n'
    result = occur_run(cli, tmp_path, toml)
    assert result.status == ExitStatus.CONFIG, result
    assert f"mqtt.{key}" in result.err and str(path) in result.err, result.err
    assert_locked_throughout(pins)


def test_an_unreadable_mqtt_password_file_keeps_the_door_locked(cli: Cli, pins: MockFactory, tmp_path: Path) -> None:
    missing = tmp_path / "no-password"
    toml = f'[mqtt]\nhost = "127.0.0.1"\nport = {free_port()}\nusername = "door"\npassword_file = "{missing}"\n'
    result = occur_run(cli, tmp_path, toml)
    assert result.status == ExitStatus.CONFIG, result
    assert "mqtt.password_file" in result.err and str(missing) in result.err
    assert_locked_throughout(pins)


def test_a_console_without_its_certificate_keeps_the_door_locked(cli: Cli, pins: MockFactory, tmp_path: Path) -> None:
    result = occur_run(cli, tmp_path, f'[web]\nenabled = true\nhost = "127.0.0.1"\nport = {free_port()}\n')
    assert result.status == ExitStatus.ERROR, result
    assert "no TLS certificate" in result.err and "occur web cert" in result.err
    assert_locked_throughout(pins)


@pytest.mark.parametrize("active_high", [True, False], ids=["active-high", "active-low"])
def test_an_unreachable_broker_leaves_the_door_running_locked(
    cli: Cli, pins: MockFactory, tmp_path: Path, active_high: bool
) -> None:
    """No broker is no reason not to run: the door works offline, keeps its events for later,
    and says in its status that the broker cannot be reached."""
    toml = (
        f"[door]\nrelay_active_high = {str(active_high).lower()}\n"
        f'[mqtt]\nhost = "127.0.0.1"\nport = {free_port()}\ndrain_timeout_s = 0.5\n'
    )
    result = occur_run(cli, tmp_path, toml)
    assert result.status == ExitStatus.SUCCESS, result
    assert result.out.startswith("stopped: 16 frames, 1 decisions"), result.out
    paths = Config(data_dir=tmp_path / "data").paths
    assert query(paths, "SELECT count(*) FROM face_events WHERE user_id IS NULL") == [(1,)]
    assert query(paths, "SELECT count(*) FROM door_events WHERE outcome = 'granted'") == [(0,)]
    status = json.loads((paths.root / "run" / "status.json").read_text())
    assert status["mqtt_state"] != "connected" and status["mqtt_last_error"], status
    assert status["door_unlocked"] is False
    assert_locked_throughout(pins, active_high)


def outages(config: Config) -> list[tuple[object, ...]]:
    return query(config.paths, "SELECT details FROM system_events WHERE event_type = 'camera_outage'")


def test_a_camera_that_cannot_be_opened_leaves_the_door_running_locked(pins: MockFactory, tmp_path: Path) -> None:
    """A camera that fails at start is an outage, retried with backoff, shown on the fault LED
    and recorded, with the relay locked until the door is stopped."""
    config = replace(Config(data_dir=tmp_path / "data"), camera=replace(Config().camera, reopen_max_s=0.5))
    stop = threading.Event()
    result: list[Any] = []

    def door() -> None:
        result.append(service.run(config, f"opencv:{tmp_path / 'no-camera.mp4'}", gpio="mock", stop=stop))

    runner = threading.Thread(target=door, name="door-under-test")
    runner.start()
    try:
        status = config.paths.root / "run" / "status.json"
        deadline = time.monotonic() + 60
        while not (status.exists() and outages(config)) and time.monotonic() < deadline:
            time.sleep(0.1)
        found = outages(config)
        assert found and "no-camera.mp4" in str(found[0][0]), found
        assert any(s.state for s in pins.pin(DoorConfig().red_led_pin).states), "no fault shown on the red LED"
        assert not pins.pin(RELAY).state
    finally:
        stop.set()
        runner.join(60)
    assert not runner.is_alive() and len(result) == 1
    assert result[0].frames == 0 and result[0].decisions == []
    assert len(outages(config)) == 1  # reported once, not once per retry
    assert_locked_throughout(pins)


# Every other start step, in start order, fails with an exception nobody anticipated.

STEPS: dict[str, tuple[Any, str]] = {
    "door loop": (service, "DoorLoop"),
    "door commands": (service, "DoorCommands"),
    "mqtt bridge": (service, "_bridge"),
    "mqtt connection": (MqttBridge, "start"),
    "door inputs": (service, "DoorInputs"),
    "door contact": (service, "_initial_contact"),
    "model updates": (service, "_updates"),
    "backup schedule": (backups, "BackupScheduler"),
    "frame thread": (service, "FrameThread"),
    "console": (service, "start_console"),
    "upkeep": (service, "Upkeep"),
    "operating point": (service, "_announce_point"),
    "workers": (service, "_workers"),
    "watchdog": (service, "Watchdog"),
    "systemd notification": (sdnotify, "notify"),
    "last thread start": (Watchdog, "start"),
}


@pytest.mark.parametrize("step", list(STEPS))
def test_a_fault_at_any_later_start_step_keeps_the_door_locked(
    cli: Cli, pins: MockFactory, tmp_path: Path, broker: Broker, monkeypatch: pytest.MonkeyPatch, step: str
) -> None:
    def fault(*_: object, **__: object) -> None:
        raise RuntimeError(f"injected fault at {step}")

    owner, name = STEPS[step]
    monkeypatch.setattr(owner, name, fault)
    toml = f'[mqtt]\nhost = "127.0.0.1"\nport = {broker.port}\ndrain_timeout_s = 0.5\n'
    result = occur_run(cli, tmp_path, toml)
    assert result.status == ExitStatus.ERROR, result
    assert f"RuntimeError: injected fault at {step}" in result.err, result.err
    assert_locked_throughout(pins)


# The restart back-off: a run killed in the middle of a pulse can leave the relay line at its
# unlocked level, and after repeated quick failures the next run waits up to 5 minutes first.


@pytest.mark.parametrize("active_high", [True, False], ids=["active-high", "active-low"])
def test_the_restart_back_off_holds_the_relay_locked_while_it_waits(
    cli: Cli, pins: MockFactory, tmp_path: Path, active_high: bool
) -> None:
    """Four quick failures: the next run waits 40 s. The relay must be driven locked within a
    few seconds of the start; then the door is stopped (SIGTERM) in the middle of the wait."""
    run_dir = tmp_path / "data" / "run"
    run_dir.mkdir(parents=True)
    (run_dir / "restarts.json").write_text(json.dumps({"failures": 4, "started": time.time() - 1}))
    seen: list[tuple[str, bool]] = []

    def watch() -> None:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and not any(i.name == f"GPIO{RELAY}" for i in pins.pins):
            time.sleep(0.05)
        if any(i.name == f"GPIO{RELAY}" for i in pins.pins):
            seen.append((pins.pin(RELAY).function, pins.pin(RELAY).state))
        os.kill(os.getpid(), signal.SIGTERM)

    watcher = threading.Thread(target=watch)
    watcher.start()
    result = occur_run(cli, tmp_path, f"[door]\nrelay_active_high = {str(active_high).lower()}\n", backoff=True)
    watcher.join()
    assert seen == [("output", not active_high)]  # driven, at the locked level, while waiting
    assert result.status == ExitStatus.INTERRUPTED, (result.out, result.err)
    assert "waiting 40 s before starting" in result.out and "relay held locked" in result.out, result.out
    assert not (tmp_path / "data" / "occur.db").exists()  # stopped during the wait, before the door started
    assert_locked_throughout(pins, active_high)

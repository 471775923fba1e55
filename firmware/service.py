"""``occur run``: the composition root. Build the door's parts from the config, start them in
order, stop them in reverse, fail closed.

Start order: the door GPIO first (the relay is driven locked before anything else), then the
store, the vision models, the camera, the door loop, the MQTT side, the door-input policy, the
console, then the threads: the frame thread (:mod:`firmware.workers.frames`: frames and nothing
else) and one worker per periodic duty (:mod:`firmware.workers`: status, door watch, retention,
backups, backup push, model follower, update checks, the systemd watchdog). Stop (SIGTERM,
SIGINT, the end of a replay, or a worker's fatal fault such as a storage file deleted under the
door) sets one event; every thread ends, then every part closes in reverse, and the relay is
left locked whatever happened. Under systemd it sends READY=1 once the parts are built,
WATCHDOG=1 while the frame thread is healthy (:mod:`firmware.workers.watchdog`) and STOPPING=1.
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from firmware.comms.bridge import MqttBridge
from firmware.config import Config
from firmware.crypto.keys import ROTATION_INTERRUPTED, KeyFileError, rotation_interrupted
from firmware.domain import Decision
from firmware.errors import DatabaseCorruptError, OccurError
from firmware.hw.camera import make_camera
from firmware.hw.door import Door, DoorDevice, mock_factory
from firmware.hw.resilient import ResilientCamera
from firmware.loop.commands import DoorCommands
from firmware.loop.door_inputs import DoorInputs, InputRelay
from firmware.loop.door_loop import DoorLoop
from firmware.loop.upkeep import Upkeep
from firmware.ota.worker import ModelFollower
from firmware.platform import sdnotify
from firmware.security.audit import secure_log
from firmware.store.eventlog import Origin
from firmware.store.store import Store
from firmware.vision.engine import FaceEngine
from firmware.web.running import Latest, start_console
from firmware.workers import backups, updates
from firmware.workers.base import Worker
from firmware.workers.door import DoorWatch
from firmware.workers.frames import FrameThread
from firmware.workers.retention import RetentionWorker
from firmware.workers.status import StatusWorker, status_doc
from firmware.workers.watchdog import Watchdog

log = logging.getLogger(__name__)
WAIT_SLICE_S = 0.5  # the main thread's wait for the stop event (signals are handled between slices)


@dataclass
class RunReport:
    """What a run did."""

    frames: int = 0
    decisions: list[Decision] = field(default_factory=list)
    first_decision_s: float | None = None
    elapsed_s: float = 0.0
    load_s: float = 0.0
    loop_s: float = 0.0  # from the first frame read to the end
    camera_s: float = 0.0  # waiting for and reading frames (for a replay: decoding files)
    inference_s: float = 0.0  # inside the models' invoke() during the loop
    stage_ms: dict[str, list[float]] = field(default_factory=dict)
    pin_factory: Any = None
    unrecorded: dict[str, int] = field(default_factory=dict)  # what a full disk kept from being written


def run(
    config: Config,
    source: str | None = None,
    gpio: str = "real",
    until_end: bool = False,
    stop: threading.Event | None = None,
    on_decision: Callable[[Decision], None] | None = None,
) -> RunReport:
    """Run the door until ``stop`` is set (or the replay ends with ``until_end``).

    The door GPIO is built first, so the relay is driven locked before any check that can fail
    (an active-low relay board on an undriven pin may energise); every later fault leaves it
    locked and released.

    Raises:
        OccurError: set-up failed (GPIO, an interrupted key rotation: KeyFileError, store, models,
            camera spec, MQTT files, console), or a part failed for good while running (a storage
            file deleted under the door: StoreError); the relay is locked.
    """
    stop = stop or threading.Event()
    report = RunReport()
    started, t0 = time.time(), time.monotonic()
    factory = mock_factory() if gpio == "mock" else None
    report.pin_factory = factory
    relay = InputRelay()
    with contextlib.ExitStack() as stack:
        door = _door(config, factory, relay)
        stack.callback(door.close)
        if rotation_interrupted(config.paths.keys):
            raise KeyFileError(f"{ROTATION_INTERRUPTED} before starting the door")
        store, repaired = _open_store(config)
        stack.callback(store.close)
        if repaired is not None:
            _event(store, door, "restored_from_backup", f"damaged database replaced by {repaired.name}")
        spec = source or config.camera.source
        engine = FaceEngine.load(config.active_vision())
        report.load_s = time.monotonic() - t0
        camera = ResilientCamera(
            make_camera(spec, config.camera),
            config.camera.reopen_max_s,
            on_outage=lambda reason: _event(store, door, "camera_outage", reason),
            on_recovered=lambda lasted: _event(store, door, "camera_recovered", f"after {lasted:.1f} s"),
            stop=stop,
        )
        camera.on_skipped = lambda reason: _event(store, door, "frame_skipped", reason)
        stack.callback(camera.close)
        loop = DoorLoop(config, store, engine, door)
        del engine  # the loop owns it: a model update must be able to free it

        engine_lock, latest = threading.Lock(), Latest()  # the console borrows the door's models
        commands = DoorCommands(config, store, door, loop, lambda: latest.image)
        bridge = _bridge(config, store, door, commands)
        inputs = DoorInputs(
            config.door,
            store,
            door,
            wake=bridge.wake if bridge is not None else _nothing,
            on_contact=bridge.contact if bridge is not None else _ignore,
        )
        relay.attach(inputs)
        _initial_contact(door, inputs)
        if bridge is not None:
            bridge.start()
            stack.callback(bridge.stop)
        follower = _updates(config, store, loop, bridge)
        scheduler = backups.BackupScheduler(config, store)
        scheduler.refresh()
        hand_off = _HandOff(report, t0, latest, bridge, on_decision)
        frames = FrameThread(camera, loop, stop, engine_lock, hand_off, until_end)

        def document() -> dict[str, object]:
            link = bridge.publisher.link.state.as_status() if bridge is not None else {"mqtt_state": "off"}
            return {
                **status_doc(config, loop, spec, started, camera, door, store, frames.health()),
                **link,
                "backup": scheduler.status(),
            }

        stack.callback(start_console(config, store, door, loop, document, bridge, engine_lock, latest))
        upkeep = Upkeep(config, store, door, loop.unrecorded, loop.reserve)
        _event(store, door, "system_start", f"occur run, source {spec}, pid {os.getpid()}")
        _announce_point(loop, store, door)
        stack.callback(
            lambda: _event(store, door, "system_stop", f"after {loop.stats.frames} frames{upkeep.stop_note()}")
        )
        workers = _workers(config, store, stop, bridge, inputs, upkeep, document, scheduler, follower, engine_lock)
        workers.append(Watchdog(stop, [frames.health]))
        sdnotify.notify("READY=1")
        stack.callback(_joined, stop, frames, workers)  # any way out: every thread ends before the parts close
        frames.start()
        for worker in workers:
            worker.start()
        while not stop.wait(WAIT_SLICE_S):
            pass
        _joined(stop, frames, workers)
        sdnotify.notify("STOPPING=1")
        door.lock()
        _raise_fault(frames, workers)
        _last_words(config, bridge, upkeep, document, until_end)
        report.unrecorded = dict(loop.unrecorded.totals)
        report.frames = loop.stats.frames
        report.camera_s, report.loop_s, report.inference_s = frames.camera_s, frames.loop_s, frames.inference_s
        report.stage_ms = loop.stats.stage_ms
    report.elapsed_s = time.monotonic() - t0
    return report


@dataclass
class _HandOff:
    """The frame thread's only way out: a frame's decisions to MQTT, the console's still and
    the caller."""

    report: RunReport
    t0: float
    latest: Latest
    bridge: MqttBridge | None
    on_decision: Callable[[Decision], None] | None

    def __call__(self, decisions: list[Decision], image: Any) -> None:
        self.latest.image = image
        if self.bridge is not None and decisions:
            self.bridge.wake()
            self.bridge.door_state()
        for decision in decisions:
            if self.report.first_decision_s is None:
                self.report.first_decision_s = time.monotonic() - self.t0
            self.report.decisions.append(decision)
            if self.on_decision is not None:
                self.on_decision(decision)


def _last_words(
    config: Config,
    bridge: MqttBridge | None,
    upkeep: Upkeep,
    document: Callable[[], dict[str, object]],
    until_end: bool,
) -> None:
    """After the threads ended: the final door state and status (once the outbox drained), on
    MQTT and in the file."""
    if bridge is not None:
        bridge.door_state()
        if until_end and not bridge.drain():
            log.warning("mqtt: outbox not drained in %.0f s; it is sent later", config.mqtt.drain_timeout_s)
    doc = document()
    if bridge is not None:
        bridge.status(doc)
    upkeep.status_file({**doc, "stopped": True})


def _bridge(config: Config, store: Store, door: DoorDevice, commands: DoorCommands) -> MqttBridge | None:
    """The MQTT side when ``[mqtt] host`` is set; every command it acts on is audited in the
    secure log too."""
    if not config.mqtt.host:
        return None
    audit_log = secure_log(config.paths, config.device.id)

    def secure_audit(data: dict[str, object]) -> object:
        return store.write(lambda c: audit_log.append(c, "remote_command", data))

    return MqttBridge(config, store, door, commands.actions(), secure_audit)


def _workers(
    config: Config,
    store: Store,
    stop: threading.Event,
    bridge: MqttBridge | None,
    inputs: DoorInputs,
    upkeep: Upkeep,
    document: Callable[[], dict[str, object]],
    scheduler: backups.BackupScheduler,
    follower: ModelFollower,
    engine_lock: threading.Lock,
) -> list[Worker]:
    """One worker per periodic duty, in start order."""
    publish = bridge.status if bridge is not None else None
    door_state = bridge.door_state if bridge is not None else _nothing
    wanted = bridge.status_wanted if bridge is not None else None
    workers: list[Worker] = [
        StatusWorker(stop, upkeep, document, publish, config.mqtt.status_interval_s, wanted),
        DoorWatch(stop, inputs, door_state),
        RetentionWorker(stop, config, store),
        backups.BackupWorker(scheduler, stop),
        updates.FollowWorker(stop, follower, engine_lock),
    ]
    if config.backup.push_url:
        workers.append(backups.PushWorker(scheduler, stop))
    if updates.scheduled(config):
        workers.append(updates.CheckWorker(stop, config, store, bridge.ota_state if bridge is not None else None))
    return workers


def _joined(stop: threading.Event, frames: FrameThread, workers: list[Worker]) -> None:
    """Stop every thread and wait for it (a step in progress finishes first)."""
    stop.set()
    frames.join()
    for worker in workers:
        worker.join()


def _raise_fault(frames: FrameThread, workers: list[Worker]) -> None:
    """Re-raise what ended the run, if it was not a stop request."""
    for worker in workers:
        if worker.fatal is not None:
            raise worker.fatal.cause
    if frames.error is not None:
        raise frames.error


def _initial_contact(door: DoorDevice, inputs: DoorInputs) -> None:
    """The contact's state at start (a retained topic needs one before the first change)."""
    is_open = door.door_open
    if is_open is not None:
        inputs.on_contact("open" if is_open else "closed")


def _nothing() -> None:
    """No MQTT side: nothing to wake."""


def _ignore(_state: str) -> None:
    """No MQTT side: nowhere to publish the contact."""


def _announce_point(loop: DoorLoop, store: Store, door: DoorDevice) -> None:
    """Say at start why the door names nobody, or what to know about its threshold, in the
    system events (and so over MQTT) as well as the log."""
    point = loop.recogniser.point()
    if point.closed:
        _event(store, door, "recognition_disabled", f"the door names nobody: {point.closed}")
    for warning in point.warnings:
        _event(store, door, "recognition_warning", warning)


def _open_store(config: Config) -> tuple[Store, Path | None]:
    """Open the store; a damaged database is put aside and repaired from the newest good local
    backup (the door must not stay down for want of a database)."""
    from firmware.backup import archive as backup

    origin = Origin.of(config)
    try:
        return Store.open(config.paths, config.storage, origin=origin), None
    except DatabaseCorruptError:
        repaired = backup.repair_from_local(config.paths)
        if repaired is None:
            raise
        log.error("database damaged: restored from %s", repaired.name)
        return Store.open(config.paths, config.storage, origin=origin), repaired


def _updates(config: Config, store: Store, loop: DoorLoop, bridge: MqttBridge | None) -> ModelFollower:
    """Finish an interrupted install, announce the update state, wire the ``update`` command;
    the follower that swaps the loop's models when the release changes."""
    from firmware.ota.install import Installer
    from firmware.ota.worker import update_command

    notify = bridge.ota_state if bridge is not None else None
    installer = Installer(config, store)
    installer.recover()
    if bridge is not None:
        bridge.ota_state(installer.ha_state())
        bridge.handler.actions["update"] = update_command(config, store, bridge.ota_state)
    return ModelFollower(config, store, loop, notify)


def _event(store: Store, door: DoorDevice, kind: str, details: str) -> None:
    """A system event and its MQTT message, in one transaction (a failure is logged)."""
    if kind == "camera_outage":
        door.show("fault")
    try:
        store.log_system_event(kind, details)
    except OccurError as err:
        log.error("could not record %s: %s", kind, err)


def wait_locked(config: Config, gpio: str, stop: threading.Event, wait_s: float) -> bool:
    """Wait ``wait_s`` seconds (the restart back-off) with the relay driven locked and the LEDs
    showing ``fault``; True when ``stop`` was set meanwhile.

    A run killed in the middle of a pulse can leave the relay line at its unlocked level, and
    the back-off after repeated quick failures lasts up to 5 minutes. When the door GPIO cannot
    be built (perhaps the very fault that made the runs fail), the wait goes on with the pin
    undriven, as before, and the start that follows reports the fault.
    """
    try:
        door = _door(config, mock_factory() if gpio == "mock" else None, lambda _name: None)
    except OccurError as err:
        log.error("restart back-off: the relay cannot be held locked while waiting: %s", err)
        return stop.wait(wait_s)
    try:
        door.lock()
        door.show("fault")
        return stop.wait(wait_s)
    finally:
        door.close()


def _door(config: Config, factory: Any, inputs: Callable[[str], None]) -> DoorDevice:
    """The configured GPIO backend (mock pins always use gpiozero's MockFactory)."""
    if config.door.gpio == "jetson" and factory is None:
        from firmware.hw.door import Door as JetsonDoor  # the Jetson is a pin factory under the one Door

        return JetsonDoor(config.door, on_input=inputs)
    return Door(config.door, factory, on_input=inputs)

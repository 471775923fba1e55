"""``occur run``: build the appliance from the config, run the loop, stop cleanly.

Start order: door GPIO first (the relay is driven locked before anything else), then the store,
the vision models, the camera, the loop. Stop (SIGTERM, SIGINT, end of a replay with
``--until-end``) runs in reverse and always leaves the relay locked. Under systemd it sends
READY=1 once the first frame can be read, then WATCHDOG=1 from the loop, so a hung loop is
restarted. A status file (``run/status.json`` in the data folder) feeds ``occur status``; it is
best effort, and once a second the storage files are checked (see :mod:`firmware.loop.upkeep`).
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from firmware import backup_schedule, sdnotify
from firmware.comms import payloads
from firmware.config import Config
from firmware.crypto.keys import KeyFileError
from firmware.domain import Decision
from firmware.errors import DatabaseCorruptError, OccurError
from firmware.hw.camera import make_camera
from firmware.hw.door import Door, DoorDevice, mock_factory
from firmware.hw.resilient import ResilientCamera
from firmware.loop import records
from firmware.loop.door_loop import DoorLoop
from firmware.loop.upkeep import Upkeep
from firmware.mqtt_bridge import MqttBridge
from firmware.platform.clock import now_iso, unix_iso
from firmware.store import outbox
from firmware.store.store import Store
from firmware.vision.engine import FaceEngine
from firmware.web.running import Latest, start_console

log = logging.getLogger(__name__)
STATUS_EVERY_S = 1.0
RETENTION_EVERY_S = 600.0


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


class _Inputs:
    """Door inputs (gpiozero callback threads) turned into actions and records."""

    def __init__(self) -> None:
        self.config: Config | None = None
        self.wake: Callable[[], None] = lambda: None
        self.store: Store | None = None
        self.door: DoorDevice | None = None
        self.opened_at: float | None = None
        self.held_reported = False

    def __call__(self, kind: str) -> None:
        door = self.door
        if door is None:
            return
        outcome, reason = {
            "exit_request": ("exit_request", "request-to-exit button"),
            "door_closed": ("closed", "door contact closed"),
            "tamper": ("tamper", "tamper switch"),
        }.get(kind, ("", ""))
        if kind == "exit_request":
            door.grant()
        if kind == "door_opened":
            self.opened_at, self.held_reported = time.monotonic(), False
            if door.unlocked:
                return
            outcome, reason = "forced_open", "door opened while locked"
        if kind == "door_closed":
            self.opened_at = None
        if outcome:
            self._record(outcome, reason)

    def _record(self, outcome: str, reason: str) -> None:
        stamp = now_iso()
        if self.store is None or self.config is None:
            return
        event = payloads.event(
            payloads.DOOR_OUTCOME_TYPES.get(outcome, "system"), stamp, self.config.device.id, reason=reason
        )
        max_rows = self.config.mqtt.outbox_max_rows
        try:
            self.store.submit(lambda c: records.write_door_input(c, stamp, outcome, reason, event, max_rows))
            self.wake()
        except OccurError as err:
            log.error("could not record %s: %s", outcome, err)

    def tick(self, held_open_s: float) -> None:
        """Raise door_held_open once per opening that lasts too long."""
        if self.opened_at is not None and not self.held_reported and time.monotonic() - self.opened_at > held_open_s:
            self.held_reported = True
            self._record("held_open", f"door open more than {held_open_s:.0f} s")


def status_doc(
    config: Config,
    loop: DoorLoop,
    source: str,
    started: float,
    camera_ok: bool,
    door: DoorDevice,
    store: Store,
    frames_skipped: int = 0,
    mqtt: dict[str, object] | None = None,
) -> dict[str, object]:
    """The health document: ``run/status.json`` and the retained ``<prefix>/status``."""
    stats = loop.stats
    frame_ms = stats.stage_ms.get("frame", [])[-50:]
    recent = [t for t in loop.frame_times if t > time.monotonic() - 5.0]
    fps = (len(recent) - 1) / (recent[-1] - recent[0]) if len(recent) > 1 and recent[-1] > recent[0] else 0.0
    status = {
        "pid": os.getpid(),
        "started_at": unix_iso(started),
        "updated_at": now_iso(),
        "source": source,
        "frames": stats.frames,
        "decisions": stats.decisions,
        "granted": stats.granted,
        "fps": round(fps, 1),
        "processing_ms": round(sum(frame_ms) / len(frame_ms), 1) if frame_ms else None,
        "last_frame_at": unix_iso(stats.last_frame_at) if stats.last_frame_at else None,
        "camera_ok": camera_ok,
        "frames_skipped": frames_skipped,
        "door": door.state,
        "door_unlocked": door.unlocked,
        "uptime_s": round(time.time() - started, 1),
        "outbox_depth": _outbox_depth(store),
        **(mqtt or {"mqtt_state": "off"}),
        "disk_free_mb": shutil.disk_usage(config.paths.root).free // 2**20,
        "models": [e.name for e in loop.engine.embedders],
        "model_files": {e.name: f"{e.manifest.version} {e.manifest.sha256[:12]}" for e in loop.engine.embedders},
        "not_recorded": dict(loop.unrecorded.totals),
        **loop.recogniser.point().status_fields(),
    }
    return status


def _outbox_depth(store: Store) -> int | None:
    try:
        with store.reader() as conn:
            return outbox.depth(conn)
    except OccurError:
        return None


def run(
    config: Config,
    source: str | None = None,
    gpio: str = "real",
    until_end: bool = False,
    stop: threading.Event | None = None,
    on_decision: Callable[[Decision], None] | None = None,
) -> RunReport:
    """Run the door until ``stop`` is set (or the replay ends with ``until_end``).

    Raises:
        OccurError: set-up failed (GPIO, store, models, camera spec); the relay is locked.
    """
    stop = stop or threading.Event()
    report = RunReport()
    started = time.time()
    t0 = time.monotonic()
    factory = mock_factory() if gpio == "mock" else None
    report.pin_factory = factory
    inputs = _Inputs()
    if (config.paths.keys / "data.key.next").exists():
        raise KeyFileError("a key rotation was interrupted: run 'occur keys rotate --resume' before starting the door")
    with contextlib.ExitStack() as stack:
        door = _door(config, factory, inputs)
        stack.callback(door.close)
        store, repaired = _open_store(config)
        stack.callback(store.close)
        if repaired is not None:
            _event(store, door, "restored_from_backup", f"damaged database replaced by {repaired.name}", config)
        inputs.store, inputs.door, inputs.config = store, door, config
        spec = source or config.camera.source
        engine = FaceEngine.load(config.active_vision())
        report.load_s = time.monotonic() - t0
        camera = ResilientCamera(
            make_camera(spec, config.camera),
            config.camera.reopen_max_s,
            on_outage=lambda reason: _event(store, door, "camera_outage", reason, config),
            on_recovered=lambda lasted: _event(store, door, "camera_recovered", f"after {lasted:.1f} s", config),
            stop=stop,
        )
        camera.on_skipped = lambda reason: _event(store, door, "frame_skipped", reason, config)
        stack.callback(camera.close)
        loop = DoorLoop(config, store, engine, door)
        del engine  # the loop owns it: a model update must be able to free it

        backups = backup_schedule.start_worker(config, store, stop)
        stack.callback(backups.close)

        def status() -> dict[str, object]:
            link = bridge.publisher.link.state.as_status() if bridge is not None else None
            return {
                **status_doc(config, loop, spec, started, not camera.in_outage, door, store, camera.skipped, link),
                "backup": backups.status(),
            }

        bridge = MqttBridge(config, store, door, loop, status) if config.mqtt.host else None
        if bridge is not None:
            bridge.start()
            stack.callback(bridge.stop)
            inputs.wake = bridge.wake
        engine_lock, latest = threading.Lock(), Latest()  # the console borrows the door's models
        follower = _updates(config, store, loop, bridge, stop)
        stack.callback(start_console(config, store, door, loop, status, bridge, engine_lock, latest))
        upkeep = Upkeep(config, store, door, loop.unrecorded, loop.reserve)
        _event(store, door, "system_start", f"occur run, source {spec}, pid {os.getpid()}", config)
        _announce_point(loop, store, door, config)
        stack.callback(
            lambda: _event(store, door, "system_stop", f"after {loop.stats.frames} frames{upkeep.stop_note()}", config)
        )
        sdnotify.notify("READY=1")
        last_status = last_retention = 0.0
        loop_started = time.monotonic()
        inference_before = loop.inference_s()
        while not stop.is_set():
            read_started = time.monotonic()
            frame = camera.read()
            report.camera_s += time.monotonic() - read_started
            if frame is None:
                if until_end or camera.camera.name.startswith("replay:"):
                    with engine_lock:
                        _report(loop.finish(), latest.image, bridge, report, on_decision, t0)
                    break
                continue
            with engine_lock:
                decisions = loop.process(frame)
            latest.image = frame.image
            _report(decisions, frame.image, bridge, report, on_decision, t0)
            now = time.monotonic()
            inputs.tick(config.door.held_open_s)
            if now - last_status >= STATUS_EVERY_S:
                last_status = now
                upkeep.check_health()
                with engine_lock:
                    follower.poll()
                upkeep.space_returned(upkeep.status_file(status()))
                sdnotify.notify("WATCHDOG=1")
            if now - last_retention >= RETENTION_EVERY_S:
                last_retention = now
                _retention(store, config)
        sdnotify.notify("STOPPING=1")
        door.lock()
        stopped = True
        if bridge is not None:
            bridge.tick()
            if until_end and not bridge.drain():
                log.warning("mqtt: outbox not drained in %.0f s; it is sent later", config.mqtt.drain_timeout_s)
            bridge.publisher.publish_retained("status", status())
        upkeep.status_file({**status(), "stopped": stopped})
        report.unrecorded = dict(loop.unrecorded.totals)
        report.frames = loop.stats.frames
        report.loop_s = time.monotonic() - loop_started
        report.inference_s = loop.inference_s() - inference_before
        report.stage_ms = loop.stats.stage_ms
    report.elapsed_s = time.monotonic() - t0
    return report


def _announce_point(loop: DoorLoop, store: Store, door: DoorDevice, config: Config) -> None:
    """Say at start why the door names nobody, or what to know about its threshold, in the
    system events (and so over MQTT) as well as the log."""
    point = loop.recogniser.point()
    if point.closed:
        _event(store, door, "recognition_disabled", f"the door names nobody: {point.closed}", config)
    for warning in point.warnings:
        _event(store, door, "recognition_warning", warning, config)


def _open_store(config: Config) -> tuple[Store, Path | None]:
    """Open the store; a damaged database is put aside and repaired from the newest good local
    backup (the door must not stay down for want of a database)."""
    from firmware.backup import archive as backup

    try:
        return Store.open(config.paths, config.storage), None
    except DatabaseCorruptError:
        repaired = backup.repair_from_local(config.paths)
        if repaired is None:
            raise
        log.error("database damaged: restored from %s", repaired.name)
        return Store.open(config.paths, config.storage), repaired


def _updates(config: Config, store: Store, loop: DoorLoop, bridge: MqttBridge | None, stop: threading.Event) -> Any:
    """The model follower (polled between frames) and the scheduled update worker."""
    from firmware.ota.install import Installer
    from firmware.ota.worker import ModelFollower, start_worker, update_command

    notify = bridge.ota_state if bridge is not None else None
    installer = Installer(config, store)
    installer.recover()
    if bridge is not None:
        bridge.ota_state(installer.ha_state())
        bridge.handler.actions["update"] = update_command(config, store, bridge.ota_state)
    start_worker(config, store, stop, notify)
    return ModelFollower(config, store, loop, notify)


def _retention(store: Store, config: Config) -> None:
    """Apply retention; a failure is logged, never stops the door."""
    from firmware.records import retention
    from firmware.security.audit import secure_log

    try:
        retention.run(store, config, secure_log(config.paths, config.device.id))
    except (OccurError, OSError) as err:
        log.error("retention failed: %s", err)


def _report(
    decisions: list[Decision],
    image: Any,
    bridge: MqttBridge | None,
    report: RunReport,
    on_decision: Callable[[Decision], None] | None,
    t0: float,
) -> None:
    """Hand a frame's decisions to the MQTT side and the caller."""
    if bridge is not None:
        bridge.last_frame = image
        if decisions:
            bridge.wake()
        bridge.tick()
    for decision in decisions:
        if report.first_decision_s is None:
            report.first_decision_s = time.monotonic() - t0
        report.decisions.append(decision)
        if on_decision is not None:
            on_decision(decision)


def _event(store: Store, door: DoorDevice, kind: str, details: str, config: Config) -> None:
    """A system event and its MQTT message, in one transaction."""
    if kind == "camera_outage":
        door.show("fault")
    try:
        records.record_system(store, config.device.id, kind, details, config.mqtt.outbox_max_rows)
    except OccurError as err:
        log.error("could not record %s: %s", kind, err)


def _door(config: Config, factory: Any, inputs: Callable[[str], None]) -> DoorDevice:
    """The configured GPIO backend (mock pins always use gpiozero's MockFactory)."""
    if config.door.gpio == "jetson" and factory is None:
        from firmware.hw.door import Door as JetsonDoor  # the Jetson is a pin factory under the one Door

        return JetsonDoor(config.door, on_input=inputs)
    return Door(config.door, factory, on_input=inputs)

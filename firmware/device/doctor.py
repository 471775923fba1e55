"""``occur doctor``: what an installer must know before leaving the site, one row per check.

Checks, each turned into ``ok``, ``warn``, ``skip`` or ``fail`` with the reason (a check never
raises): the camera opens and frames arrive (resolution, frame rate, exposure where the backend
knows it, mean level); the pin factory and every configured pin; the models load and match their
manifests (sha256) and give finite embeddings; the broker accepts the door's credentials; the
clock is synchronised; disk and memory headroom; the update repository answers with current
metadata. The door is ready when no row is ``fail``.

While ``occur run`` holds the camera and the pins (its status file names a live process), those
two rows come from the running door's status instead of opening the devices a second time.
Nothing here writes to the data folder, so running it as root leaves no root-owned files behind.
"""

from __future__ import annotations

import json
import logging
import shutil
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from firmware.config import Config
from firmware.errors import OccurError
from firmware.platform.runstate import running_status

log = logging.getLogger(__name__)
TIME_ERROR = 5  # adjtimex(2): the kernel clock is not synchronised to any time source


@dataclass(frozen=True)
class Check:
    """One row: what was checked, ``ok``/``warn``/``skip``/``fail``, and what was found."""

    name: str
    status: str
    detail: str


@dataclass(frozen=True)
class Limits:
    """Pass marks. Disk: free space beyond ``[snapshots] min_free_mb`` (a model release and a day
    of records). Memory: what a door needs at its peak (a background model install, README
    "Memory"); while the door runs, only the headroom for that peak."""

    extra_disk_mb: int = 256
    memory_mb: int = 200
    running_memory_mb: int = 64
    camera_frames: int = 10
    camera_timeout_s: float = 10.0
    network_timeout_s: float = 10.0


def ready(checks: list[Check]) -> bool:
    """True when no check failed."""
    return all(c.status != "fail" for c in checks)


def run_checks(config: Config, gpio: str = "real", limits: Limits | None = None) -> list[Check]:
    """Every check, in the order an installer reads them."""
    limits = limits or Limits()
    status = running_status(config.paths.root)
    checks: list[Check] = []
    for name, check in (
        ("camera", lambda: [camera(config, limits, status)]),
        ("pins", lambda: pins(config, gpio, status)),
        ("models", lambda: [models(config)]),
        ("broker", lambda: [broker(config, limits)]),
        ("clock", lambda: [clock()]),
        ("disk", lambda: [disk(config, limits)]),
        ("memory", lambda: [memory(limits, status is not None)]),
        ("updates", lambda: [updates(config, limits)]),
    ):
        checks += _guarded(name, check)
    return checks


def _guarded(name: str, check: Callable[[], list[Check]]) -> list[Check]:
    try:
        return check()
    except (OccurError, OSError, ValueError, RuntimeError) as err:
        return [Check(name, "fail", str(err))]


def camera(config: Config, limits: Limits, status: dict[str, Any] | None) -> Check:
    """Open the configured camera and time ``camera_frames`` frames."""
    if status is not None:
        fps, ok = status.get("fps"), bool(status.get("camera_ok"))
        return Check("camera", "ok" if ok else "fail", f"in use by occur run (pid {status.get('pid')}): {fps} frames/s")
    from firmware.hw.camera import make_camera

    cam = make_camera(config.camera.source, config.camera)
    cam.open()
    try:
        started, shapes, levels = time.monotonic(), set(), list[float]()
        deadline = started + limits.camera_timeout_s
        while len(levels) < limits.camera_frames and time.monotonic() < deadline:
            frame = cam.read()
            if frame is None:
                break
            shapes.add(frame.image.shape[:2])
            levels.append(float(np.mean(frame.image)))
        elapsed = time.monotonic() - started
        exposure = getattr(cam, "exposure", None)  # backends that know it (picamera2)
        exposed = exposure() if callable(exposure) else None
    finally:
        cam.close()
    if not levels:
        return Check("camera", "fail", f"{cam.name}: no frame within {limits.camera_timeout_s:.0f} s")
    height, width = max(shapes)
    fps = (len(levels) - 1) / elapsed if len(levels) > 1 and elapsed > 0 else 0.0
    detail = f"{cam.name}: {width}x{height}, {fps:.1f} frames/s, mean level {np.mean(levels):.0f}/255"
    if exposed:
        detail += f", {exposed}"
    if max(levels) < 2.0:
        return Check("camera", "fail", detail + ": every frame is black (lens cap, no light?)")
    wanted = (config.camera.width, config.camera.height)
    if not cam.name.startswith("replay") and (width, height) != wanted:
        return Check("camera", "warn", detail + f" (configured {wanted[0]}x{wanted[1]})")
    return Check("camera", "ok", detail)


def pins(config: Config, gpio: str, status: dict[str, Any] | None) -> list[Check]:
    """The pin factory, then each configured pin as the door drives it (relay locked)."""
    door_cfg = config.door
    if status is not None:
        relay = "unlocked" if status.get("door_unlocked") else "locked"
        detail = f"in use by occur run: door {status.get('door')}, relay {relay}"
        return [Check("pins", "ok", detail)]
    from firmware.hw.door import Door, make_pin_factory, mock_factory

    factory = mock_factory() if gpio == "mock" else make_pin_factory(door_cfg)
    rows = [Check("pin factory", "ok", f"gpiozero {type(factory).__name__}")]
    door = Door(door_cfg, factory)
    try:
        rows.append(Check(f"pin {door_cfg.relay_pin}", "ok", f"relay out, {'unlocked' if door.unlocked else 'locked'}"))
        for label, pin in (("green LED", door_cfg.green_led_pin), ("red LED", door_cfg.red_led_pin)):
            if pin:
                rows.append(Check(f"pin {pin}", "ok", f"{label} out"))
        for label, pin, device in (
            ("door contact", door_cfg.contact_pin, door.contact),
            ("exit button", door_cfg.exit_button_pin, door.exit_button),
            ("tamper", door_cfg.tamper_pin, door.tamper),
        ):
            if pin and device is not None:
                rows.append(Check(f"pin {pin}", "ok", f"{label} in, {'closed' if device.is_pressed else 'open'}"))
    finally:
        door.close()
        factory.close()
    return rows


def models(config: Config) -> Check:
    """Load the models the door would load (each file checked against its manifest's sha256)
    and embed one grey chip per model: the output must be finite."""
    from firmware.vision.engine import FaceEngine
    from firmware.vision.runtime import release_freed_memory

    engine = FaceEngine.load(config.active_vision())
    try:
        parts = []
        for e in engine.embedders:
            size = e.manifest.input_size
            vector = e.embed(np.full((size, size, 3), 128, dtype=np.uint8))
            if not np.all(np.isfinite(vector)):
                return Check("models", "fail", f"{e.name} gives non-finite embeddings")
            parts.append(f"{e.name} {e.manifest.version} ({e.manifest.sha256[:12]})")
        parts.append(f"detector {config.vision.detector}, landmarks {'yes' if engine.landmarks else 'no'}")
        parts.append(f"threshold {engine.fusion.threshold:.4f}, loaded in {engine.load_ms:.0f} ms")
        return Check("models", "ok", "; ".join(parts))
    finally:
        del engine
        release_freed_memory()


def broker(config: Config, limits: Limits) -> Check:
    """Connect with the door's credentials (another client id: the running door stays on)."""
    mqtt = config.mqtt
    if not mqtt.host:
        return Check("broker", "skip", "no [mqtt] host: events wait in the outbox")
    from firmware.comms.client import probe

    problem = probe(mqtt, f"occur-doctor-{config.device.id}", limits.network_timeout_s)
    where = f"{mqtt.host}:{mqtt.port}{' (TLS)' if mqtt.tls else ''}"
    if problem is not None:
        return Check("broker", "fail", f"{where}: {problem}")
    return Check("broker", "ok", f"{where}: connected as {mqtt.username or 'anonymous'}")


def clock_state() -> int:
    """adjtimex(2)'s clock state (0 synchronised ... 5 ``TIME_ERROR``); Linux only.

    Raises:
        OSError: the call is not available.
    """
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)
    timex = ctypes.create_string_buffer(512)  # struct timex is about 208 bytes; modes = 0: read only
    state = int(libc.adjtimex(timex))
    if state < 0:
        raise OSError(ctypes.get_errno(), "adjtimex failed")
    return state


def clock_verdict(state: int, now: datetime) -> Check:
    """The clock row from adjtimex's state and the time itself (a Pi without a real-time clock
    starts at its last shutdown time until NTP answers)."""
    if now.year < 2025:
        return Check("clock", "fail", f"the clock says {now:%Y-%m-%d}: not set (no NTP answer yet?)")
    if state == TIME_ERROR:
        return Check("clock", "fail", "not synchronised to a time source (check systemd-timesyncd or NTP)")
    return Check("clock", "ok", f"synchronised, {now:%Y-%m-%d %H:%M} UTC")


def clock() -> Check:
    """Is the clock synchronised (schedules, command expiry and TUF metadata depend on it)."""
    return clock_verdict(clock_state(), datetime.now(UTC))


def disk(config: Config, limits: Limits) -> Check:
    """Free space where the data folder is (or will be)."""
    folder = config.paths.root
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent
    usage = shutil.disk_usage(folder)
    free, need = usage.free >> 20, config.snapshots.min_free_mb + limits.extra_disk_mb
    detail = f"{free} MiB free of {usage.total >> 20} MiB at {folder} (needs {need})"
    return Check("disk", "ok" if free >= need else "fail", detail)


def memory(limits: Limits, door_running: bool, meminfo: Path = Path("/proc/meminfo")) -> Check:
    """MemAvailable against what the door needs (its peak, or the headroom while it runs)."""
    values = {}
    for line in meminfo.read_text().splitlines():
        key, _, rest = line.partition(":")
        values[key] = int(rest.split()[0]) >> 10 if rest.split() else 0
    available, total = values.get("MemAvailable", 0), values.get("MemTotal", 0)
    need = limits.running_memory_mb if door_running else limits.memory_mb
    detail = (
        f"{available} MiB available of {total} MiB (needs {need}{' beside the running door' if door_running else ''})"
    )
    return Check("memory", "ok" if available >= need else "fail", detail)


def updates(config: Config, limits: Limits) -> Check:
    """The update repository answers with current timestamp metadata, and the trusted root
    installed at first boot is readable."""
    ota = config.ota
    if not ota.repository_url:
        return Check("updates", "skip", "no [ota] repository_url: models change only with the image")
    root = Path(ota.trusted_root or "/etc/occur/ota-root.json")
    if not root.is_file():
        return Check("updates", "fail", f"trusted root {root} is missing (provisioning installs it)")
    url = ota.repository_url.rstrip("/") + "/metadata/timestamp.json"
    try:
        with urllib.request.urlopen(url, timeout=limits.network_timeout_s) as answer:  # noqa: S310 - http(s) only (config pattern)
            signed = json.loads(answer.read(1 << 20))["signed"]
    except urllib.error.HTTPError as err:
        return Check("updates", "fail", f"{url}: HTTP {err.code}")
    except (urllib.error.URLError, OSError, ValueError, KeyError, TypeError) as err:
        return Check("updates", "fail", f"{url}: {getattr(err, 'reason', err)}")
    if signed.get("_type") != "timestamp":
        return Check("updates", "fail", f"{url}: not TUF timestamp metadata")
    expires = datetime.fromisoformat(str(signed["expires"]).replace("Z", "+00:00"))
    if expires <= datetime.now(UTC):
        return Check("updates", "fail", f"{url}: metadata expired {expires:%Y-%m-%d} (the operator must re-publish)")
    return Check(
        "updates", "ok", f"{ota.repository_url}: timestamp v{signed.get('version')}, expires {expires:%Y-%m-%d}"
    )

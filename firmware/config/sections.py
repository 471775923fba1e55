"""The configuration sections, one frozen dataclass per TOML table.

Each key is declared with :func:`firmware.config.fields.setting`; the validator
(:mod:`firmware.config.tomlcheck`) reads the types, defaults and checks from here. A new subsystem adds
its own section module beside this one and one field in :class:`firmware.config.Config`.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import Literal

from firmware.config.fields import setting as _f
from firmware.platform.install import built_models_dir


@dataclass(frozen=True)
class DeviceConfig:
    """Identity of this door device."""

    id: str = _f("door-1", "device id used in MQTT topics and records", pattern=r"[A-Za-z0-9_-]{1,64}")
    name: str = _f("OCCUR-CALL door", "human-readable name shown to building systems", pattern=r"[^\x00-\x1f]{1,100}")


@dataclass(frozen=True)
class StorageConfig:
    """SQLite tuning. Durability settings (WAL, synchronous=FULL) are fixed, not configurable."""

    busy_timeout_ms: int = _f(5000, "how long a writer waits for a lock before failing, ms", min=100, max=600_000)
    wal_autocheckpoint_pages: int = _f(1000, "WAL pages before an automatic checkpoint", min=100, max=100_000)
    journal_size_limit_mb: int = _f(16, "WAL size kept after a checkpoint, MiB", min=1, max=1024)
    max_db_mb: int = _f(0, "hard cap on the database size in MiB (0 = limited by the disk)", min=0, max=1_000_000)
    group_commit_max: int = _f(512, "most writes committed in one transaction", min=1, max=100_000)
    ballast_kib: int = _f(8192, "space reserved beside the database, released when the disk fills (0 = none)", min=0)


@dataclass(frozen=True)
class VisionConfig:
    """Face detection, embedding models, quality gates and the door threshold."""

    models_dir: str = _f("", "folder with the model files and manifests ('' = the set-up build, models/build)")
    detector: Literal["auto", "short_range", "full_range"] = _f(
        "short_range", "BlazeFace variant for the door camera (faces 0.3-2 m away fill the frame)"
    )
    photo_detector: Literal["auto", "short_range", "full_range"] = _f(
        "auto", "for enrolment and photo tools: auto = short range, then full range when it finds no face"
    )
    models: tuple[str, ...] = _f(("sface", "dlib"), "embedding models, fused; one name = low-CPU mode")
    threads: int = _f(2, "CPU threads per model", min=1, max=16)
    threshold: float = _f(
        0.0,
        "fixed fused door threshold, instead of the calibrated one (0 = derived)",
        min=0.0,
        max=10.0,
    )
    stranger_accept_rate: float = _f(
        0.001,
        "share of stranger visits the door may name as someone; the threshold follows the gallery size",
        min=1e-6,
        max=0.1,
    )
    min_people: int = _f(
        2, "fewest enrolled people the door names anyone from (the margin rule needs a second-best)", min=1, max=1000
    )
    margin: float = _f(0.05, "least fused-score gap between the best and second-best user", min=0.0, max=10.0)
    mirror: bool = _f(False, "also embed the mirrored face and average (about 2x CPU)")
    min_face_px: float = _f(40.0, "smallest face accepted, pixels (box side)", min=8.0, max=4096.0)
    min_score: float = _f(0.6, "lowest detector score accepted", min=0.0, max=1.0)
    min_sharpness: float = _f(40.0, "lowest Laplacian variance of the aligned eyes-to-mouth region accepted", min=0.0)
    max_roll_deg: float = _f(30.0, "largest head tilt accepted, degrees", min=0.0, max=90.0)
    max_yaw_deg: float = _f(35.0, "largest head turn accepted, degrees (face mesh geometry)", min=0.0, max=90.0)
    max_pitch_deg: float = _f(35.0, "largest head tilt up or down accepted, degrees", min=0.0, max=90.0)

    def for_photos(self) -> VisionConfig:
        """The same settings with the photo detector: enrolment photos, identify, eval-pairs."""
        return replace(self, detector=self.photo_detector)

    def models_folder(self) -> Path:
        """The folder the models load from: ``models_dir``, or the set-up build when empty."""
        return Path(self.models_dir) if self.models_dir else built_models_dir()


@dataclass(frozen=True)
class CameraConfig:
    """Where frames come from; chosen here, never by silent fallback."""

    source: str = _f("picamera2", "picamera2 | opencv:INDEX_OR_URL_OR_PIPELINE | replay:PATH (folder or video)")
    width: int = _f(1280, "requested frame width, px (picamera2, opencv)", min=64, max=8192)
    height: int = _f(720, "requested frame height, px (picamera2, opencv)", min=64, max=8192)
    fps: float = _f(15.0, "frame rate; for replay, 0 = as fast as possible", min=0.0, max=240.0)
    reopen_max_s: float = _f(30.0, "longest wait between attempts to reopen a failed camera, s", min=0.5, max=3600.0)


@dataclass(frozen=True)
class DoorConfig:
    """Relay, LEDs, inputs and who may enter. Pins are BCM numbers; 0 = not fitted."""

    gpio: Literal["gpiozero", "jetson"] = _f(
        "gpiozero", "GPIO library: gpiozero (Raspberry Pi, BCM pins) or jetson (Jetson.GPIO, BOARD pins)"
    )
    pin_factory: Literal["lgpio", "rpigpio", "pigpio", "native"] = _f(
        "lgpio", "gpiozero pin library: lgpio (Raspberry Pi 4 and 5, Raspberry Pi OS's python3-lgpio) or another"
    )
    relay_pin: int = _f(17, "door relay output pin", min=0, max=40)
    relay_active_high: bool = _f(True, "relay energises (unlocks) on a high level")
    pulse_s: float = _f(3.0, "how long the door stays unlocked on a grant, s", min=0.2, max=30.0)
    green_led_pin: int = _f(22, "granted/idle LED pin", min=0, max=40)
    red_led_pin: int = _f(27, "denied/fault LED pin", min=0, max=40)
    contact_pin: int = _f(0, "door contact input (closed = door shut)", min=0, max=40)
    exit_button_pin: int = _f(0, "request-to-exit button input", min=0, max=40)
    tamper_pin: int = _f(0, "tamper switch input", min=0, max=40)
    held_open_s: float = _f(30.0, "door open longer than this raises door_held_open, s", min=1.0, max=3600.0)
    allowed_roles: tuple[str, ...] = _f((), "roles let in at this door (empty = every enrolled, active user)")
    schedule: tuple[str, ...] = _f((), "weekly windows 'ROLE DAYS HH:MM-HH:MM', e.g. 'staff mon-fri 07:00-19:00'")
    timezone: str = _f("", "zone for the schedule ('' = this machine's)")


@dataclass(frozen=True)
class LoopConfig:
    """How frames become decisions."""

    agree_frames: int = _f(3, "good frames a visit combines into its one decision", min=1, max=100)
    max_gap_frames: int = _f(5, "frames without the face before a visit ends", min=1, max=1000)
    cooldown_s: float = _f(10.0, "a decided person is not recorded again within this time, s", min=0.0, max=86400.0)
    unknown_match: float = _f(0.45, "fused score under which a stranger counts as one seen before", min=0.0, max=5.0)
    unknown_memory_days: float = _f(30.0, "how long strangers' embeddings are kept for recognising them", min=0.0)


@dataclass(frozen=True)
class SnapshotConfig:
    """Event pictures: quality and retention."""

    jpeg_quality: int = _f(90, "JPEG quality, 1-100", min=1, max=100)
    keep_days: float = _f(30.0, "snapshots older than this are deleted, days", min=0.0)
    min_free_mb: int = _f(200, "below this much free disk the oldest snapshots go first, MiB", min=0)


@dataclass(frozen=True)
class MqttConfig:
    """The building's broker. No ``host`` = no broker: events wait in the outbox."""

    host: str = _f("", "broker host name or address ('' = run without a broker)")
    port: int = _f(1883, "broker port (8883 is the usual TLS port)", min=1, max=65535)
    topic_prefix: str = _f(
        "", "topic prefix ('' = occur/<device id>); no wildcards, NUL or leading $", pattern=r"(?!\$)[^#+\x00]{0,200}"
    )
    client_id: str = _f("", "MQTT client id ('' = occur-<device id>)")
    protocol: Literal["5", "3.1.1"] = _f("5", "MQTT protocol version")
    username: str = _f("", "user name ('' = none)")
    password_file: str = _f("", "file holding the password (never put the password in this file)")
    tls: bool = _f(False, "connect with TLS")
    ca_file: str = _f("", "CA certificate(s) that signed the broker's certificate ('' = system CAs)")
    cert_file: str = _f("", "client certificate for TLS client authentication")
    key_file: str = _f("", "client private key for TLS client authentication")
    keepalive_s: int = _f(30, "MQTT keepalive, s", min=5, max=3600)
    message_expiry_s: int = _f(86400, "MQTT 5 message expiry of events, s (0 = none)", min=0)
    outbox_max_rows: int = _f(100_000, "outbox bound; system then door messages are dropped first", min=100)
    drain_timeout_s: float = _f(10.0, "occur run --until-end waits this long for the outbox to drain", min=0.0)
    status_interval_s: float = _f(60.0, "how often the retained status JSON is refreshed, s", min=1.0)
    command_key_file: str = _f("", "HMAC-SHA256 key for commands ('' = commands are refused)")
    command_max_age_s: float = _f(30.0, "commands older or newer than this are refused, s", min=1.0, max=3600.0)
    discovery: bool = _f(True, "publish Home Assistant device discovery")
    discovery_prefix: str = _f(
        "homeassistant",
        "Home Assistant discovery prefix; no wildcards, NUL or leading $",
        pattern=r"(?!\$)[^#+\x00]{1,200}",
    )


@dataclass(frozen=True)
class RetentionConfig:
    """How long each kind of record is kept, in days (0 = keep). Snapshots: ``[snapshots] keep_days``."""

    face_events_days: float = _f(365.0, "face events", min=0.0)
    door_events_days: float = _f(365.0, "door decisions and door inputs", min=0.0)
    system_events_days: float = _f(365.0, "system events", min=0.0)
    attendance_days: float = _f(0.0, "attendance records (0 = keep: often a legal record)", min=0.0)
    unknown_faces_days: float = _f(30.0, "strangers (row, picture, embeddings) not seen for this long", min=0.0)
    secure_log_days: float = _f(730.0, "secure log entries (removed whole checkpoints at a time)", min=0.0)


@dataclass(frozen=True)
class PrivacyConfig:
    """Consent for biometric enrolment."""

    consent: Literal["required", "collected_elsewhere"] = _f(
        "required", "required: occur enroll needs --consent-by; collected_elsewhere: the site records it"
    )
    consent_text_version: str = _f("v1", "version of the consent text people agree to", pattern=r"[^\x00-\x1f]{1,64}")


@dataclass(frozen=True)
class BackupConfig:
    """Backups: sealed to the operator's key for off-device copies, plus a local copy for repairs."""

    operator_public_key_file: str = _f("", "operator's X25519 public key (64 hex characters); '' = local copies only")
    interval_h: float = _f(
        24.0, "occur run makes a backup this often, hours, then pushes it (0 = on demand only)", min=0.0, max=8760.0
    )
    keep_daily: int = _f(7, "daily backups kept", min=1, max=365)
    keep_weekly: int = _f(4, "weekly backups kept beyond the daily ones", min=0, max=520)
    push_url: str = _f("", "HTTP(S) URL the sealed archives are PUT under ('' = no push); the file name is appended")
    push_auth_file: str = _f("", "file holding 'user:password' for HTTP basic auth ('' = none, e.g. presigned URLs)")
    push_attempts: int = _f(5, "PUT attempts per archive and run, with backoff", min=1, max=20)
    push_timeout_s: float = _f(30.0, "timeout of one PUT, s", min=1.0, max=3600.0)


@dataclass(frozen=True)
class OtaConfig:
    """Signed model updates over TUF (see ``firmware/ota``)."""

    repository_url: str = _f(
        "",
        "base URL of the TUF repository (metadata/ and targets/ beneath it); '' = no updates",
        pattern=r"(https?://\S+)?",
    )
    trusted_root: str = _f("", "root metadata installed at provisioning ('' = /etc/occur/ota-root.json)")
    channel: str = _f("stable", "release channel the device follows", pattern=r"[a-z0-9][a-z0-9._-]{0,31}")
    check_interval_s: float = _f(21600.0, "seconds between checks by the running door (0 = only on demand)", min=0.0)
    auto_apply: bool = _f(True, "install a newer verified bundle as soon as a check finds it")
    download_timeout_s: float = _f(
        60.0, "deadline for each metadata file, and the longest wait for data in any download, s", min=1.0, max=3600.0
    )
    bundle_timeout_s: float = _f(
        1800.0, "deadline for the bundle download; an unfinished one resumes at the next check, s", min=1.0, max=86400.0
    )
    selftest_timeout_s: float = _f(120.0, "limit for the self-test process, s", min=5.0, max=3600.0)


@dataclass(frozen=True)
class LoggingConfig:
    """Log output of the service (to stderr; journald picks it up). CLI commands log warnings
    only unless given ``-v``."""

    level: Literal["debug", "info", "warning", "error"] = _f("info", "lowest level logged")

"""The appliance configuration: one TOML file, typed and validated once at start.

Precedence for the data folder, highest first: ``--data-dir`` on the command line, the
``OCCUR_DATA_DIR`` environment variable, ``data_dir`` in the config file (relative to the file's
own folder), and ``./data`` relative to the working directory. Every other path the firmware
uses is derived from the data folder (see :class:`Paths`), so tests point everything at a
temporary folder.

Secrets never live in the TOML: sections that need them take a path to a file.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path

from firmware.config.fields import setting as _f
from firmware.config.liveness import LivenessConfig
from firmware.config.sections import (
    BackupConfig,
    CameraConfig,
    DeviceConfig,
    DoorConfig,
    LoggingConfig,
    LoopConfig,
    MqttConfig,
    OtaConfig,
    PrivacyConfig,
    RetentionConfig,
    SnapshotConfig,
    StorageConfig,
    VisionConfig,
)
from firmware.config.tomlcheck import Problems, build
from firmware.config.web import WebConfig
from firmware.errors import ConfigError

DATA_DIR_ENV = "OCCUR_DATA_DIR"
CONFIG_ENV = "OCCUR_CONFIG"
DEFAULT_DATA_DIR = Path("data")

__all__ = [
    "BackupConfig",
    "CameraConfig",
    "Config",
    "DeviceConfig",
    "DoorConfig",
    "LivenessConfig",
    "LoggingConfig",
    "LoopConfig",
    "MqttConfig",
    "OtaConfig",
    "Paths",
    "PrivacyConfig",
    "RetentionConfig",
    "SnapshotConfig",
    "StorageConfig",
    "VisionConfig",
    "WebConfig",
    "from_mapping",
    "load",
]


@dataclass(frozen=True)
class Config:
    """The whole configuration. Construct with :func:`load` or :func:`from_mapping`."""

    data_dir: Path = _f(DEFAULT_DATA_DIR, "root of all runtime data (database, images, backups)")  # noqa: RUF009 - immutable
    device: DeviceConfig = field(default_factory=DeviceConfig)
    storage: StorageConfig = field(default_factory=StorageConfig)
    logging: LoggingConfig = field(default_factory=LoggingConfig)
    vision: VisionConfig = field(default_factory=VisionConfig)
    camera: CameraConfig = field(default_factory=CameraConfig)
    door: DoorConfig = field(default_factory=DoorConfig)
    loop: LoopConfig = field(default_factory=LoopConfig)
    snapshots: SnapshotConfig = field(default_factory=SnapshotConfig)
    mqtt: MqttConfig = field(default_factory=MqttConfig)
    retention: RetentionConfig = field(default_factory=RetentionConfig)
    privacy: PrivacyConfig = field(default_factory=PrivacyConfig)
    backup: BackupConfig = field(default_factory=BackupConfig)
    ota: OtaConfig = field(default_factory=OtaConfig)
    liveness: LivenessConfig = field(default_factory=LivenessConfig)
    web: WebConfig = field(default_factory=WebConfig)

    @property
    def paths(self) -> Paths:
        """Every path derived from :attr:`data_dir`."""
        return Paths(self.data_dir)

    def active_vision(self) -> VisionConfig:
        """The vision settings with the models folder in force now: ``[vision] models_dir`` when
        set, else the release an update switched to (``<data_dir>/models/current``), else the
        set-up build. Read at every model load, so a switch or rollback takes effect there."""
        current = self.paths.models / "current"
        if self.vision.models_dir or not current.is_dir():
            return self.vision
        return replace(self.vision, models_dir=str(current.resolve()))


@dataclass(frozen=True)
class Paths:
    """The data layout under the data folder (see README, "Data layout")."""

    root: Path

    @property
    def database(self) -> Path:
        """The one SQLite database, ``occur.db`` (plus its ``-wal`` and ``-shm``)."""
        return self.root / "occur.db"

    @property
    def ballast(self) -> Path:
        """Reserved space released on a full disk (see :mod:`firmware.store.ballast`)."""
        return self.root / ".ballast"

    @property
    def backups(self) -> Path:
        """Database backups, including the automatic ones taken before migrations."""
        return self.root / "backups"

    @property
    def face_db(self) -> Path:
        """Enrolment samples, one folder per user."""
        return self.root / "face_db"

    @property
    def snapshots(self) -> Path:
        """Event snapshots, ``YYYY/MM/DD/<user>/``."""
        return self.root / "snapshots"

    @property
    def unknown_faces(self) -> Path:
        """Crops of faces that matched nobody."""
        return self.root / "unknown_faces"

    @property
    def keys(self) -> Path:
        """Device keys (0700): the data key and the signing key (see firmware.crypto.keys)."""
        return self.root / "keys"

    @property
    def models(self) -> Path:
        """Installed models."""
        return self.root / "models"


def from_mapping(raw: Mapping[str, object], source: str = "", base_dir: Path | None = None) -> Config:
    """Validate an already parsed TOML document.

    Args:
        raw: the parsed document.
        source: file name used in error messages.
        base_dir: folder that a relative ``data_dir`` is resolved against.

    Raises:
        ConfigError: with every offending key.
    """
    problems: Problems = []
    config = build(Config, dict(raw), "", problems)
    if problems:
        raise ConfigError(problems, source)
    if base_dir is not None and "data_dir" in raw and not config.data_dir.is_absolute():
        config = replace(config, data_dir=base_dir / config.data_dir)
    return config


def load(
    path: Path | None = None,
    data_dir: str | None = None,
    environ: Mapping[str, str] | None = None,
) -> Config:
    """Load and validate the configuration.

    Args:
        path: the TOML file; ``None`` uses ``$OCCUR_CONFIG`` if set, else built-in defaults.
        data_dir: the ``--data-dir`` override.
        environ: the environment (defaults to ``os.environ``; injectable for tests).

    Raises:
        ConfigError: unreadable file, bad TOML (with line and column), or invalid keys.
    """
    env = os.environ if environ is None else environ
    if path is None and env.get(CONFIG_ENV):
        path = Path(env[CONFIG_ENV])
    config = Config()
    if path is not None:
        try:
            with path.open("rb") as handle:
                raw = tomllib.load(handle)
        except FileNotFoundError as err:
            raise ConfigError([("<file>", "file not found")], str(path)) from err
        except OSError as err:
            raise ConfigError([("<file>", f"cannot read: {err.strerror}")], str(path)) from err
        except tomllib.TOMLDecodeError as err:
            raise ConfigError([("<syntax>", str(err))], str(path)) from err
        config = from_mapping(raw, str(path), path.parent)
    override = data_dir or env.get(DATA_DIR_ENV)
    if override:
        config = replace(config, data_dir=Path(override))
    return config

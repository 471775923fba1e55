"""Files and folders a configuration refers to, checked by ``occur check-config``.

A config can be valid TOML with valid values and still fail at ``occur run`` because a secret
file is missing. Every string setting whose name ends in ``_file`` (in any section, present or
future) names a file that must exist, be a regular file and be readable; so must the OTA trusted
root when updates are configured, the models folder when one is set, and a replay source.
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path
from typing import Any

DEFAULT_TRUSTED_ROOT = "/etc/occur/ota-root.json"


def referenced(config: Any) -> list[tuple[str, Path, str]]:
    """(dotted key, path, "file" or "folder") for every path the config names."""
    found: list[tuple[str, Path, str]] = []
    for section in dataclasses.fields(config):
        value = getattr(config, section.name)
        if not dataclasses.is_dataclass(value):
            continue
        for item in dataclasses.fields(value):
            setting = getattr(value, item.name)
            if item.name.endswith("_file") and isinstance(setting, str) and setting:
                found.append((f"{section.name}.{item.name}", Path(setting), "file"))
    ota, vision, camera = getattr(config, "ota", None), getattr(config, "vision", None), getattr(config, "camera", None)
    if ota is not None and ota.repository_url:
        found.append(("ota.trusted_root", Path(ota.trusted_root or DEFAULT_TRUSTED_ROOT), "file"))
    if vision is not None and vision.models_dir:
        found.append(("vision.models_dir", Path(vision.models_dir), "folder"))
    if camera is not None and camera.source.startswith("replay:"):
        replay = Path(camera.source.removeprefix("replay:"))
        found.append(("camera.source", replay, "folder" if replay.is_dir() else "file"))
    return found


def check(config: Any) -> list[tuple[str, str]]:
    """One (key, problem) per referenced path that is missing, of the wrong kind or unreadable."""
    problems = []
    for key, path, kind in referenced(config):
        if not path.exists():
            problems.append((key, f"{path}: not found"))
        elif kind == "file" and not path.is_file():
            problems.append((key, f"{path}: not a file"))
        elif kind == "folder" and not path.is_dir():
            problems.append((key, f"{path}: not a folder"))
        elif not os.access(path, os.R_OK | (os.X_OK if kind == "folder" else 0)):
            problems.append((key, f"{path}: not readable by user id {os.geteuid()} (the service user must read it)"))
    return problems

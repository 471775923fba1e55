"""The one helper every config section uses to declare a key: default, help text and checks."""

from __future__ import annotations

from dataclasses import field
from typing import Any


def setting(default: Any, help: str, **checks: object) -> Any:
    """A config key: its default, the help text shown in errors and the checks
    (``min``, ``max``, ``pattern``) that :mod:`firmware.config.tomlcheck` applies."""
    return field(default=default, metadata={"help": help, **checks})

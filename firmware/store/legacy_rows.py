"""Checks and conversions of single legacy rows, for ``occur db import-legacy``.

A row of the original system is refused, with its reason, when the appliance could not keep it
safely: a stranger's picture path that leads outside ``unknown_faces/`` (retention would delete
whatever it names), or a user whose name the firmware could not address or show (see
:func:`firmware.store.users.name_problem`) or that another person already has. Refused rows are
reported and not imported (nor remembered, so a fixed source imports them later).

The original stored ``face_encoding`` as ``face_recognition`` gave it: 128 float64 numbers,
usually as numpy's ``tobytes()`` (1024 bytes), sometimes as text (``"[0.1, -0.2, ...]"``).
:func:`template_vector` reads both without ever unpickling anything.
"""

from __future__ import annotations

import re
import struct
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from firmware.platform.fileio import UnsafePathError, contained
from firmware.store import users
from firmware.store.db import Connection

TEMPLATE_DIM = 128
_NUMBER = re.compile(r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?")


@dataclass(frozen=True)
class Refusal:
    """A source row that was not imported, and why."""

    rowid: int
    reason: str


def picture_problem(root: Path, value: object) -> str | None:
    """Why a stranger's ``snapshot_path`` cannot be kept, or None (NULL is fine: no picture)."""
    if value is None:
        return None
    try:
        contained(root, "unknown_faces", value)
    except UnsafePathError as err:
        return str(err)
    return None


def user_problem(conn: Connection, name: object, mapped: bool) -> str | None:
    """Why a legacy user cannot be imported, or None. ``mapped``: the row is the same person as
    an existing user (same email and name), so the name is theirs already."""
    problem = users.name_problem(name)
    if problem is not None:
        return problem
    assert isinstance(name, str)
    taken = None if mapped else users.name_taken(conn, name)
    if taken is not None:
        return f"a user named {taken[1]!r} already exists here (id {taken[0]}) with another email"
    return None


def template_bytes(value: object) -> tuple[bytes, str]:
    """A legacy ``face_encoding`` value as bytes to seal, and its SQLite type (kept so the
    verbatim copy can be restored exactly)."""
    if isinstance(value, bytes):
        return value, "blob"
    if isinstance(value, str):
        return value.encode("utf-8"), "text"
    return repr(value).encode("ascii"), "integer" if isinstance(value, int) else "real"


def template_vector(value: object) -> npt.NDArray[np.float32] | None:
    """The 128-D dlib descriptor in a legacy ``face_encoding``, or None when it holds none."""
    numbers: tuple[float, ...] | list[float]
    if isinstance(value, bytes) and len(value) == 8 * TEMPLATE_DIM:
        numbers = struct.unpack(f"<{TEMPLATE_DIM}d", value)
    elif isinstance(value, bytes) and len(value) == 4 * TEMPLATE_DIM:
        numbers = struct.unpack(f"<{TEMPLATE_DIM}f", value)
    elif isinstance(value, str) and len(value) < 20_000:
        found = _NUMBER.findall(value)
        if len(found) != TEMPLATE_DIM:
            return None
        numbers = [float(n) for n in found]
    else:
        return None
    wide = np.asarray(numbers, dtype=np.float64)
    if not np.all(np.isfinite(wide)) or not 0.1 < float(np.linalg.norm(wide)) < 10.0:
        return None
    return wide.astype(np.float32)

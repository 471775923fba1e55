"""The platform's camera and pin stack inside the virtualenv, without letting it shadow pins.

Raspberry Pi OS ships picamera2, libcamera's Python bindings and lgpio only as apt packages
(``python3-picamera2``, ``python3-libcamera``, ``python3-lgpio``), built for its own Python; a
plain venv cannot import them, and ``--system-site-packages`` would let every apt Python package
satisfy (and so replace) the pinned ones, because pip then counts them as installed.

Instead ``setup.sh`` writes a ``.pth`` file into the venv that calls :func:`install`, which appends
:class:`PlatformFinder` to the *end* of ``sys.meta_path``: a top-level module is looked for in
the venv first, as always, and only when the venv has no such module at all, in the system's
``dist-packages``. So picamera2, libcamera, lgpio and their apt-only helpers (simplejpeg, prctl,
v4l2, ...) import, while numpy, gpiozero, cryptography and every other pinned package come from
the venv. pip never sees the system packages (the finder offers no distribution metadata), so it
installs every pinned requirement into the venv.

Failure modes: a system extension module built against another ABI of a venv package fails at
its own import with that library's error (why NumPy is held below 2 on ARM, see pyproject.toml).
"""

from __future__ import annotations

import importlib.machinery
import os
import sys
from collections.abc import Sequence
from importlib.machinery import ModuleSpec
from types import ModuleType

SYSTEM_SITE_ENV = "OCCUR_SYSTEM_SITE"
"""``os.pathsep``-separated folders searched instead of the system's ``dist-packages`` (tests use
a stand-in system package; other distributions may keep their packages elsewhere)."""


def system_dirs() -> list[str]:
    """The system interpreter's package folders, Debian's layout (``$OCCUR_SYSTEM_SITE`` overrides)."""
    override = os.environ.get(SYSTEM_SITE_ENV)
    if override is not None:
        return [d for d in override.split(os.pathsep) if d]
    version = f"python{sys.version_info.major}.{sys.version_info.minor}"
    base = sys.base_prefix
    return [
        f"{base}/local/lib/{version}/dist-packages",
        f"{base}/lib/python3/dist-packages",
        f"{base}/lib/{version}/dist-packages",
    ]


class PlatformFinder:
    """A meta path finder consulted after all others: top-level modules from ``dirs`` only.
    Submodules need nothing from it: they are found on their package's ``__path__``."""

    def __init__(self, dirs: Sequence[str]) -> None:
        self.dirs = [d for d in dirs if os.path.isdir(d)]

    def find_spec(
        self, name: str, path: Sequence[str] | None = None, target: ModuleType | None = None
    ) -> ModuleSpec | None:
        """The spec of ``name`` from the system folders; None for submodules and unknown names."""
        if path is not None or "." in name or not self.dirs:
            return None
        return importlib.machinery.PathFinder.find_spec(name, list(self.dirs))


def install() -> bool:
    """Append the finder (once), only inside a virtualenv; returns True when it was added."""
    if sys.prefix == sys.base_prefix or any(isinstance(f, PlatformFinder) for f in sys.meta_path):
        return False
    sys.meta_path.append(PlatformFinder(system_dirs()))
    return True

"""Where the firmware is installed: the tree ``./setup.sh`` ran in (a checkout, or ``/opt/occur``
on an image). The set-up model build (``models/build``) and the provisioning files are found
there; everything else comes from the config."""

from __future__ import annotations

from pathlib import Path


def install_dir() -> Path:
    """The tree this firmware package sits in (the package is installed editable from it)."""
    return Path(__file__).resolve().parents[2]


def built_models_dir() -> Path:
    """``models/build`` of the install tree: where ``./setup.sh`` builds the models, used when
    ``[vision] models_dir`` is empty and no update is installed."""
    return install_dir() / "models" / "build"

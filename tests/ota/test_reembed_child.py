"""The re-embedding child: its failures reach the installer as clear UpdateErrors."""

from __future__ import annotations

from pathlib import Path

import pytest

from firmware.config import load
from firmware.errors import UpdateError
from firmware.ota import reembed_child
from firmware.vision.engine import default_models_dir


def test_a_missing_database_is_refused_in_the_child_not_created(tmp_path: Path) -> None:
    config = load(None, str(tmp_path / "data"))
    with pytest.raises(UpdateError, match="no database"):
        reembed_child.run_isolated(config, default_models_dir(), ["sface"], 120)
    assert not config.paths.database.exists()


def test_an_unknown_model_is_named(tmp_path: Path) -> None:
    config = load(None, str(tmp_path / "data"))
    with pytest.raises(UpdateError, match="has no model nosuchmodel"):
        reembed_child.run_isolated(config, default_models_dir(), ["nosuchmodel"], 120)

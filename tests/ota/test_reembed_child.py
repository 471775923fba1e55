"""The re-embedding child: its failures reach the installer as clear UpdateErrors."""

from __future__ import annotations

from pathlib import Path

import pytest

from firmware.config import load
from firmware.errors import UpdateError
from firmware.ota import reembed_child
from firmware.ota.install import Installer
from firmware.platform.install import built_models_dir
from firmware.store.store import Store
from firmware.vision.embed import Embedder
from tests.conftest import query
from tests.ota.repo_fixture import Site


def test_a_missing_database_is_refused_in_the_child_not_created(tmp_path: Path) -> None:
    config = load(None, str(tmp_path / "data"))
    with pytest.raises(UpdateError, match="no database"):
        reembed_child.run_isolated(config, built_models_dir(), ["sface"], 120)
    assert not config.paths.database.exists()


def test_an_unknown_model_is_named(tmp_path: Path) -> None:
    config = load(None, str(tmp_path / "data"))
    with pytest.raises(UpdateError, match="has no model nosuchmodel"):
        reembed_child.run_isolated(config, built_models_dir(), ["nosuchmodel"], 120)


def test_an_install_loads_no_embedding_model_in_the_door_process(site: Site, monkeypatch: pytest.MonkeyPatch) -> None:
    """The door's process never holds the new models beside its own (README, "Memory")."""

    def refuse(*args: object, **kwargs: object) -> Embedder:
        raise AssertionError("an embedding model was loaded in the door's process")

    monkeypatch.setattr(Embedder, "load", refuse)
    config = load(site.toml, str(site.data))
    with Store.open(config.paths, config.storage) as store:
        outcome = Installer(config, store).apply()
    samples = query(config.paths, "SELECT count(*) FROM face_samples")[0][0]
    assert outcome.status == "installed" and outcome.reembedded == {"sface": samples}
    shas = {r[0] for r in query(config.paths, "SELECT DISTINCT model_sha256 FROM face_encodings WHERE model = 'sface'")}
    assert len(shas) == 2  # the child wrote the new file's encodings beside the running ones

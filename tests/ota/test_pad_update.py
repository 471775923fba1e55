"""An operator-supplied presentation-attack model delivered through the signed update channel:
bundled with self-test vectors by occur-ota, installed after its self-test, used by the door;
a bundle whose expected scores do not match is refused and the running release kept."""

from __future__ import annotations

import json
import shutil
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from firmware import service
from firmware.config import LivenessConfig, load
from firmware.ota import bundle
from firmware.platform.install import built_models_dir
from firmware.vision.liveness.pad_model import PadModel
from tests.conftest import query
from tests.loop.test_run_e2e import build_replay, photo
from tests.ota.repo_fixture import Site, ota, repack
from tests.vision.liveness.pad_models import always

pytest.importorskip("tflite")


def pad_bundle(folder: Path, version: str) -> Path:
    """A bundle carrying only the test model (the detector beside it makes the vectors)."""
    models = folder / f"pad-{version}"
    models.mkdir(parents=True)
    shutil.copy(built_models_dir() / "blazeface_full_range.tflite", models)
    always(models, "testpad", live=False)
    out = folder / f"pad-{version}.bundle"
    done = ota("bundle", models, "--model", "testpad", "--name", "pad", "--version", version,
               "--photos", built_models_dir() / "demo", "--out", out)  # fmt: skip
    assert done.returncode == 0, done.stderr
    return out


def test_a_pad_model_is_installed_after_its_self_test_and_used_by_the_door(site: Site, tmp_path: Path) -> None:
    made = pad_bundle(tmp_path, "1")
    info = bundle.read_info(made)
    assert info.models == ("testpad",) and info.selftests["testpad"].tolerance == pytest.approx(1e-3)
    assert ota("add", site.operator, made).returncode == 0 and ota("publish", site.operator).returncode == 0
    done = site.occur("ota", "apply", "--json")
    assert done.returncode == 0, done.stderr
    outcome = json.loads(done.stdout)
    assert outcome["status"] == "installed" and outcome["selftest"]["testpad"]["vectors"] >= 4
    assert outcome["selftest"]["testpad"]["max_difference"] < 1e-3
    config = load(site.toml, str(site.data))
    current = Path(config.active_vision().models_dir)
    assert PadModel.load(current, "testpad").manifest.version == "test-1"

    # the door loads it from the installed release and fuses it with the cues
    config = replace(config, liveness=LivenessConfig(pad_model="testpad"), door=replace(config.door, pulse_s=0.2))
    build_replay(tmp_path / "replay", [photo("amy", 0)])
    report = service.run(config, f"replay:{tmp_path / 'replay'}", gpio="mock", until_end=True)
    assert [(d.name, d.granted, d.liveness) for d in report.decisions] == [("amy", False, "attack")]
    cues = json.loads(query(config.paths, "SELECT liveness_cues FROM door_events")[0][0])
    assert cues["cue"] == "pad_model"


def wrong_scores(folder: Path, info: bundle.BundleInfo) -> None:
    test = info.selftests["testpad"]
    np.save(folder / test.expected, 1.0 - np.load(folder / test.expected), allow_pickle=False)


def test_a_pad_model_failing_its_self_test_is_refused(site: Site, tmp_path: Path) -> None:
    bad = tmp_path / "bad.bundle"
    repack(pad_bundle(tmp_path, "2"), bad, "-bad", wrong_scores)
    assert ota("add", site.operator, bad).returncode == 0 and ota("publish", site.operator).returncode == 0
    done = site.occur("ota", "apply")
    assert done.returncode != 0
    assert "self-test: testpad scores differ from the expected" in done.stderr
    models = load(site.toml, str(site.data)).paths.models
    assert not (models / "current").exists()

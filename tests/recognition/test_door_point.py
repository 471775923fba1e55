"""The door's operating point with the real models, the shipped calibration and real photos:
nobody named below two people or without a usable calibration (and it says why), a threshold that
falls as enrolment grows, the override warning, and what status and check-config show."""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import replace
from pathlib import Path

import pytest

from firmware import service
from firmware.config import Config, VisionConfig
from firmware.imaging.image import read_image
from firmware.platform.install import built_models_dir
from firmware.recognition.enrol import enrol
from firmware.recognition.recogniser import Recogniser
from firmware.store.store import Store
from firmware.vision.engine import FaceEngine
from firmware.vision.farcurve import load_door_calibration
from firmware.vision.manifest import load_manifests
from tests.conftest import SHARED, Cli, query

FACES = SHARED / "data" / "faces"
BUILD = built_models_dir()


def photos(who: str) -> list[Path]:
    return sorted((FACES / who).glob("*.jpg"))


@pytest.fixture(scope="module")
def engine() -> FaceEngine:
    return FaceEngine.load(VisionConfig().for_photos())


def named(recogniser: Recogniser, path: Path) -> str | None:
    return recogniser.identify(read_image(path))[0].name


def test_the_shipped_calibration_fits_every_installed_model_combination() -> None:
    manifests = load_manifests(BUILD)
    for combo in (("sface",), ("dlib",), ("sface", "dlib"), ("sface-f16", "dlib-f16"), ("sface-f16",), ("dlib-f16",)):
        calibration = load_door_calibration(BUILD, {m: manifests[m].sha256 for m in combo})
        assert calibration.problem is None and calibration.curves is not None, combo
        for curve in calibration.curves.curves.values():
            assert all(b > a for a, b in zip(curve.thresholds, curve.thresholds[1:], strict=False))
            assert all(b > a for a, b in zip(curve.far, curve.far[1:], strict=False))
            assert curve.far[0] <= 1e-6 < curve.measured_floor  # down to 1e-6, by the fitted tail


def test_nobody_is_named_below_two_people_and_the_threshold_falls_as_enrolment_grows(
    engine: FaceEngine, store: Store
) -> None:
    recogniser = Recogniser(store, engine)
    assert recogniser.point().closed is not None and "holds 0 people" in recogniser.point().closed
    enrol(store, engine, "Amy", photos("amy")[1:])
    assert named(recogniser, photos("amy")[0]) is None
    assert "holds 1 person" in str(recogniser.point().closed)
    enrol(store, engine, "Raj", photos("raj")[1:2])
    assert named(recogniser, photos("amy")[0]) == "Amy"  # the gallery reloaded through its counter
    two = recogniser.point()
    assert two.closed is None and two.people == 2 and two.threshold is not None
    for who in ("sheldon", "leonard", "penny", "howard"):
        enrol(store, engine, who, photos(who)[1:2])
    six = recogniser.point()
    assert six.people == 6 and six.threshold is not None and six.threshold < two.threshold
    assert six.expected_rate is not None and six.expected_rate <= six.target_rate * (1 + 1e-6)
    assert named(recogniser, photos("amy")[0]) == "Amy" and named(recogniser, photos("raj")[0]) == "Raj"


def models_folder(tmp_path: Path, fusion: str | None) -> Path:
    """The set-up build with another fusion.json (None = none at all)."""
    folder = tmp_path / "models"
    folder.mkdir()
    for path in BUILD.iterdir():
        if path.is_file() and path.name != "fusion.json":
            (folder / path.name).symlink_to(path)
    if fusion is not None:
        (folder / "fusion.json").write_text(fusion)
    return folder


def foreign() -> str:
    doc = json.loads((BUILD / "fusion.json").read_text())
    for entry in doc["models"]:
        entry["sha256"] = entry["sha256"][::-1]  # the statistics of other model files
    return json.dumps(doc)


@pytest.mark.parametrize(
    ("fusion", "reason"),
    [(None, "is missing"), ('{"format": 2, "models": [', "is corrupt"), ("foreign", "made for other model files")],
)
def test_a_bad_calibration_file_names_nobody_and_says_why(
    tmp_path: Path, cli: Cli, fusion: str | None, reason: str
) -> None:
    folder = models_folder(tmp_path, foreign() if fusion == "foreign" else fusion)
    config = Config(data_dir=tmp_path / "data", vision=VisionConfig(models_dir=str(folder)))
    engine = FaceEngine.load(config.vision.for_photos())
    with Store.open(config.paths) as store:
        for who in ("amy", "raj", "sheldon"):
            enrol(store, engine, who, photos(who)[1:])
        recogniser = Recogniser(store, engine)
        found = recogniser.identify(read_image(photos("amy")[0]))[0]
        assert found.name is None and found.match.decision == "unknown" and found.match.user_id is None
        assert found.match.score is not None  # scores are still shown, nobody is named
        assert reason in str(recogniser.point().closed)
        assert recogniser.verify(1, read_image(photos("amy")[0]))[0] is False
    toml = tmp_path / "occur.toml"
    toml.write_text(f'data_dir = "{tmp_path / "data"}"\n[vision]\nmodels_dir = "{folder}"\n')
    result = cli("check-config", str(toml))
    assert result.status == 0 and "door: names nobody: calibration file" in result.out and reason in result.out


def test_occur_run_says_at_start_why_nobody_is_named_and_status_shows_the_point(tmp_path: Path) -> None:
    config = Config(data_dir=tmp_path / "data")
    config = replace(config, camera=replace(config.camera, fps=0.0))
    engine = FaceEngine.load(config.vision.for_photos())
    frames = tmp_path / "frames"
    frames.mkdir()
    for n in range(6):
        shutil.copy(photos("amy")[0], frames / f"{n:03d}.jpg")
    with Store.open(config.paths) as store:
        enrol(store, engine, "Amy", photos("amy")[1:])
    report = service.run(config, f"replay:{frames}", gpio="mock", until_end=True)
    assert all(d.user_id is None and not d.granted for d in report.decisions)
    events = query(config.paths, "SELECT details FROM system_events WHERE event_type = 'recognition_disabled'")
    assert len(events) == 1 and "holds 1 person" in str(events[0][0])
    status = json.loads((config.paths.root / "run" / "status.json").read_text())
    assert status["gallery_people"] == 1 and status["door_threshold"] is None
    assert status["recognition"].startswith("names nobody")

    with Store.open(config.paths) as store:
        enrol(store, engine, "Raj", photos("raj")[1:])
    report = service.run(config, f"replay:{frames}", gpio="mock", until_end=True)
    assert [d.name for d in report.decisions] == ["Amy"]
    status = json.loads((config.paths.root / "run" / "status.json").read_text())
    assert status["gallery_people"] == 2 and status["recognition"] == "ok" and status["door_threshold"] > 0
    assert 0 < status["stranger_accept_expected"] <= status["stranger_accept_target"] == 0.001


def test_a_fixed_threshold_over_the_target_is_warned_about(tmp_path: Path, cli: Cli, engine: FaceEngine) -> None:
    data = tmp_path / "data"
    with Store.open(Config(data_dir=data).paths) as store:
        for who in ("amy", "raj"):
            enrol(store, engine, who, photos(who)[1:2])
    toml = tmp_path / "occur.toml"
    toml.write_text(f'data_dir = "{data}"\n[vision]\nthreshold = 0.8\n')
    result = cli("check-config", str(toml))
    assert result.status == 0 and "threshold 0.8000 (override)" in result.out
    assert "door: warning: the fixed threshold 0.8000 lets in about" in result.out
    toml.write_text(f'data_dir = "{data}"\n[vision]\nthreshold = 0.2\n')
    result = cli("check-config", str(toml))
    assert result.status == 0 and "warning" not in result.out
    toml.write_text(f'data_dir = "{data}"\n[vision]\nstranger_accept_rate = 0.01\n')
    looser = cli("check-config", str(toml)).out
    toml.write_text(f'data_dir = "{data}"\n')
    default = cli("check-config", str(toml)).out
    assert "(target 0.01)" in looser and "(target 0.001)" in default
    assert float(looser.split("threshold ")[1].split()[0]) > float(default.split("threshold ")[1].split()[0])
    assert os.environ.get("OCCUR_CONFIG") is None


def test_fusion_for_one_model_gives_its_one_to_one_rule_or_refuses(tmp_path: Path, engine: FaceEngine) -> None:
    from firmware.errors import ModelError
    from firmware.vision.engine import fusion_for

    dlib = [e for e in engine.embedders if e.name == "dlib"]
    single = fusion_for(BUILD, dlib)
    rule = load_door_calibration(BUILD, {"dlib": dlib[0].manifest.sha256})
    assert single.calibrations == dict(rule.calibrations) and rule.curves is not None
    assert single.threshold == pytest.approx(rule.curves.threshold_for(0.001, [1]))
    assert fusion_for(BUILD, dlib, threshold=0.3).threshold == 0.3
    with pytest.raises(ModelError, match="is missing"):
        fusion_for(models_folder(tmp_path, None), dlib)

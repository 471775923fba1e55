"""The liveness stage inside ``occur run``: replayed photos through the whole loop on mock pins,
per-role policies, the operator model, a challenge on the LEDs, and what every decision records
(door_events and the MQTT event in the outbox)."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from firmware import service
from firmware.config import Config, LivenessConfig, VisionConfig
from firmware.hw import door as door_module
from firmware.platform.install import built_models_dir
from firmware.vision.engine import FaceEngine
from tests.conftest import query
from tests.loop.test_run_e2e import build_replay, enrol_people, make_config, photo, relay_rises
from tests.vision.liveness.pad_models import always


@pytest.fixture(scope="module")
def engine() -> FaceEngine:
    return FaceEngine.load(Config().vision)


def run(config: Config, tmp_path: Path, visits: list[Path]) -> service.RunReport:
    build_replay(tmp_path / "replay", visits)
    return service.run(config, f"replay:{tmp_path / 'replay'}", gpio="mock", until_end=True)


def liveness_rows(config: Config) -> list[tuple[Any, ...]]:
    return query(config.paths, "SELECT outcome, reason, liveness, liveness_cues FROM door_events ORDER BY id")


def test_default_policy_lets_a_still_photo_in_and_records_not_proven(tmp_path: Path, engine: FaceEngine) -> None:
    config = make_config(tmp_path)
    enrol_people(config, engine, {"amy": "staff", "raj": None})  # two people: the door names nobody with one
    report = run(config, tmp_path, [photo("amy", 0), photo("howard", 0)])
    assert [(d.name, d.granted, d.liveness) for d in report.decisions] == [
        ("amy", True, "not_proven"),
        (None, False, "not_proven"),
    ]
    rows = liveness_rows(config)
    assert [r[:3] for r in rows] == [
        ("granted", "recognised and allowed", "not_proven"),
        ("denied", "unknown face", "not_proven"),
    ]
    cues = json.loads(rows[0][3])
    assert cues["policy"] == "deny_attacks" and cues["verdict"] == "not_proven"
    assert cues["reason"].startswith("no attack cue; liveness not proven")
    assert cues["cues"]["usable"] >= 3
    events = [
        json.loads(r[0]) for r in query(config.paths, "SELECT payload FROM outbox WHERE kind = 'access' ORDER BY seq")
    ]
    assert [e["liveness"]["verdict"] for e in events] == ["not_proven", "not_proven"]
    assert report.stage_ms.get("landmarks")  # the landmark model ran once per face and frame


def test_require_live_per_role_refuses_a_still_photo(tmp_path: Path, engine: FaceEngine) -> None:
    config = replace(make_config(tmp_path), liveness=LivenessConfig(roles=("staff require_live",)))
    enrol_people(config, engine, {"john_savage": "staff", "raj": None})
    report = run(config, tmp_path, [photo("john_savage", 0), photo("raj", 0)])
    assert [(d.name, d.granted) for d in report.decisions] == [("john_savage", False), ("raj", True)]
    assert report.decisions[0].reason == "liveness not proven before the visit ended: no head turn or blink yet"
    rows = liveness_rows(config)
    assert json.loads(rows[0][3])["policy"] == "require_live" and json.loads(rows[1][3])["policy"] == "deny_attacks"
    assert relay_rises(report) == 1


def test_an_attack_cue_never_opens_the_door(tmp_path: Path, engine: FaceEngine) -> None:
    """The operator's model (here one that always says attack) is fused with the cues."""
    models = tmp_path / "models"
    models.mkdir()
    for path in built_models_dir().iterdir():
        if path.is_file():
            (models / path.name).symlink_to(path)
    always(models, "alwaysattack", live=False)
    base = make_config(tmp_path)
    config = replace(
        base,
        vision=replace(base.vision, models_dir=str(models)),
        liveness=LivenessConfig(policy="deny_attacks", pad_model="alwaysattack"),
    )
    enrol_people(
        config, FaceEngine.load(config.vision.for_photos()), {"amy": "staff", "raj": None}
    )  # two people: the door names nobody with one
    report = run(config, tmp_path, [photo("amy", 0)])
    assert [(d.name, d.granted, d.liveness) for d in report.decisions] == [("amy", False, "attack")]
    assert report.decisions[0].reason == "presentation attack: pad_model"
    cues = json.loads(liveness_rows(config)[0][3])
    assert cues["cue"] == "pad_model" and cues["cues"]["pad_model"] < 0.01
    assert relay_rises(report) == 0


def test_a_challenge_is_shown_on_the_leds_and_a_photo_cannot_answer_it(
    tmp_path: Path, engine: FaceEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    shown: list[str] = []
    original = door_module.Door.show

    def show(self: door_module.Door, state: str) -> None:
        shown.append(state)
        original(self, state)

    monkeypatch.setattr(door_module.Door, "show", show)
    config = replace(make_config(tmp_path), liveness=LivenessConfig(policy="challenge"))
    config = replace(config, camera=replace(config.camera, fps=15.0))
    enrol_people(config, engine, {"amy": "staff", "raj": None})  # two people: the door names nobody with one
    build_replay(tmp_path / "replay", [photo("amy", 0)], frames=75, gap=10)
    report = service.run(config, f"replay:{tmp_path / 'replay'}", gpio="mock", until_end=True)
    assert [(d.name, d.granted) for d in report.decisions] == [("amy", False)]
    assert report.decisions[0].reason.startswith("challenge not answered")
    assert {"challenge_turn", "challenge_blink"} & set(shown)
    cues = json.loads(liveness_rows(config)[0][3])
    assert cues["challenge"]["kind"] in ("turn", "blink")
    assert relay_rises(report) == 0


def test_policy_off_computes_nothing_and_records_that(tmp_path: Path, engine: FaceEngine) -> None:
    config = replace(make_config(tmp_path), liveness=LivenessConfig(policy="off"))
    enrol_people(config, engine, {"amy": "staff", "raj": None})  # two people: the door names nobody with one
    report = run(config, tmp_path, [photo("amy", 0)])
    assert [(d.granted, d.frame) for d in report.decisions] == [(True, 2)]  # at the third agreeing frame
    assert "landmarks" not in report.stage_ms
    outcome, _reason, verdict, cues = liveness_rows(config)[0]
    assert (outcome, verdict) == ("granted", None) and json.loads(cues)["policy"] == "off"


def test_a_missing_operator_model_stops_the_door_from_starting(tmp_path: Path) -> None:
    from firmware.errors import ModelError

    config = replace(make_config(tmp_path), liveness=LivenessConfig(pad_model="nosuchmodel"))
    build_replay(tmp_path / "replay", [photo("amy", 0)])
    with pytest.raises(ModelError, match="'nosuchmodel' not found"):
        service.run(config, f"replay:{tmp_path / 'replay'}", gpio="mock", until_end=True)
    assert VisionConfig  # the set-up models folder is untouched


def test_a_visit_cut_off_by_the_end_of_the_replay_is_still_judged_and_recorded(
    tmp_path: Path, engine: FaceEngine
) -> None:
    """The last visit's track never ends inside the replay (no gap after it), and its 5 frames
    (0.25 s at 20 fps) are shorter than ``observe_s``: the end of the stream judges it."""
    config = make_config(tmp_path)
    enrol_people(config, engine, {"amy": "staff", "raj": None})
    build_replay(tmp_path / "replay", [photo("amy", 0)], frames=5, gap=0)
    report = service.run(config, f"replay:{tmp_path / 'replay'}", gpio="mock", until_end=True)
    assert [(d.name, d.granted) for d in report.decisions] == [("amy", True)]
    assert [r[0] for r in liveness_rows(config)] == ["granted"]

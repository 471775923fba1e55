"""Look-alikes at enrolment, on real photos: a sample that matches another user better than its
own person is refused; a new person close to someone enrolled is enrolled with a warning."""

from __future__ import annotations

from pathlib import Path

import pytest

from firmware.config import VisionConfig
from firmware.errors import InvalidInputError
from firmware.recognition.enrol import enrol
from firmware.store.store import Store
from firmware.vision.engine import FaceEngine
from tests.conftest import SHARED, Cli, query

FACES = SHARED / "data" / "faces"
CALIBRATION = SHARED / "data" / "calibration"


def photos(who: str) -> list[Path]:
    return sorted((FACES / who).glob("*.jpg"))


@pytest.fixture(scope="module")
def engine() -> FaceEngine:
    return FaceEngine.load(VisionConfig().for_photos())


def test_a_sample_matching_another_user_better_than_its_own_is_refused(engine: FaceEngine, store: Store) -> None:
    enrol(store, engine, "Amy", photos("amy")[1:])
    enrol(store, engine, "Raj", photos("raj")[1:3])
    report = enrol(store, engine, "Raj", [photos("raj")[3], photos("amy")[0]])
    assert report.accepted == [str(photos("raj")[3])]
    reasons = report.rejected[str(photos("amy")[0])]
    assert len(reasons) == 1 and "matches Amy" in reasons[0] and "better than Raj's other samples" in reasons[0]
    counts = query(
        store.paths, "SELECT u.name, count(*) FROM face_samples s JOIN users u ON u.id = s.user_id GROUP BY u.name"
    )
    assert dict(counts) == {"Amy": 4, "Raj": 3}
    with pytest.raises(InvalidInputError, match="nothing enrolled"):
        enrol(store, engine, "Raj", [photos("amy")[0]])  # its only sample refused: nothing stored
    # a new person whose photos include one of an enrolled user: that photo is refused
    report = enrol(store, engine, "Sheldon", [photos("sheldon")[0], photos("sheldon")[1], photos("amy")[0]])
    assert str(photos("amy")[0]) in report.rejected and len(report.accepted) == 2 and report.warnings == []


def test_a_new_person_close_to_an_enrolled_one_is_enrolled_with_a_warning(engine: FaceEngine, store: Store) -> None:
    """The dev set's obama and the calibration set's Barack_Obama are one man under two names."""
    enrol(store, engine, "obama", photos("obama"))
    enrol(store, engine, "Raj", photos("raj")[:2])
    report = enrol(store, engine, "Barack", [CALIBRATION / "Barack_Obama" / "Barack_Obama_01.jpg"])
    assert report.accepted and report.rejected == {}
    assert len(report.warnings) == 1 and "Barack looks like obama" in report.warnings[0]
    assert "under the door threshold" in report.warnings[0] and "margin" in report.warnings[0]
    assert enrol(store, engine, "Sheldon", photos("sheldon")[:2]).warnings == []


def test_the_cli_prints_refusals_and_warnings(cli: Cli, tmp_path: Path) -> None:
    data = str(tmp_path / "data")
    for who in ("obama", "raj"):
        assert (
            "created user" in cli("--data-dir", data, "enroll", "--consent-by", "desk", who, *map(str, photos(who))).out
        )
    result = cli("--data-dir", data, "enroll", "--consent-by", "desk", "Barack",
                 str(CALIBRATION / "Barack_Obama" / "Barack_Obama_02.jpg"), str(photos("raj")[2]))  # fmt: skip
    assert result.status == 1
    assert f"rejected {photos('raj')[2]}: matches raj" in result.err
    assert "warning: Barack looks like obama" in result.err

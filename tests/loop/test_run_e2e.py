"""``occur run`` end to end: replayed photos through detection, tracking, decisions, the relay on
gpiozero's MockFactory pins, and every database row and file it should leave."""

from __future__ import annotations

import itertools
import shutil
import threading
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from firmware import service
from firmware.config import Config, DoorConfig, LoopConfig
from firmware.errors import StoreError
from firmware.loop import door_loop
from firmware.recognition.enrol import enrol
from firmware.store import users
from firmware.store.store import Store
from firmware.vision.engine import FaceEngine
from tests.conftest import SHARED, query

FACES = SHARED / "data" / "faces"
RELAY = 17


def photo(who: str, index: int) -> Path:
    return sorted((FACES / who).glob("*.jpg"))[index]


NOFACE = [FACES / "noface" / n for n in ("faceapi_white.jpg", "compreface_landscape.jpg", "coco_000000098261.jpg")]


def build_replay(folder: Path, visits: list[Path], frames: int = 10, gap: int = 10) -> None:
    """Each visit: ``frames`` copies of one photo; between visits ``gap`` no-face frames."""
    folder.mkdir()
    n = 0
    for i, path in enumerate(visits):
        for _ in range(frames):
            shutil.copy(path, folder / f"{n:05d}{path.suffix}")
            n += 1
        for _ in range(gap):
            filler = NOFACE[(i + _) % len(NOFACE)]
            shutil.copy(filler, folder / f"{n:05d}{filler.suffix}")
            n += 1


@pytest.fixture(scope="module")
def engine() -> FaceEngine:
    return FaceEngine.load(Config().vision)


def make_config(tmp_path: Path, **door: Any) -> Config:
    """Replay paced at 40 fps: a 20-frame visit lasts 0.5 s, longer than the 0.2 s door pulse,
    so each grant shows as its own relay pulse."""
    config = Config(data_dir=tmp_path / "data")
    return replace(
        config,
        door=DoorConfig(pulse_s=0.2, **door),
        loop=LoopConfig(cooldown_s=0.0),
        camera=replace(config.camera, fps=40.0),
    )


def enrol_people(config: Config, engine: FaceEngine, people: dict[str, str | None]) -> dict[str, int]:
    ids = {}
    with Store.open(config.paths) as store:
        for who, role in people.items():
            images = sorted((FACES / who).glob("*.jpg"))[1:]
            ids[who] = enrol(store, engine, who, images, role=role).user_id or 0
    return ids


def relay_rises(report: service.RunReport) -> int:
    states = [s.state for s in report.pin_factory.pin(RELAY).states]
    return sum(1 for a, b in itertools.pairwise(states) if not a and b)


def test_replay_of_enrolled_people_and_strangers(tmp_path: Path, engine: FaceEngine) -> None:
    config = make_config(tmp_path)
    ids = enrol_people(config, engine, {"john_savage": "staff", "sheldon": "staff", "raj": None})
    visits = [
        photo("john_savage", 0),
        photo("penny", 0),
        photo("sheldon", 0),
        photo("penny", 1),
        photo("raj", 0),
        photo("leonard", 0),
    ]
    build_replay(tmp_path / "replay", visits)
    report = service.run(config, f"replay:{tmp_path / 'replay'}", gpio="mock", until_end=True)

    got = [(d.name, d.kind, d.granted) for d in report.decisions]
    assert got == [
        ("john_savage", "recognized", True),
        (None, "unknown", False),
        ("sheldon", "recognized", True),
        (None, "unknown", False),
        ("raj", "recognized", True),
        (None, "unknown", False),
    ]
    assert report.frames == len(visits) * 20
    assert relay_rises(report) == 3
    assert report.pin_factory.pin(RELAY).state is False

    paths = config.paths
    events = query(paths, "SELECT event_type, user_id, image_path FROM face_events ORDER BY id")
    assert [(e[0], e[1]) for e in events] == [
        ("recognized", str(ids["john_savage"])),
        ("unknown", None),
        ("recognized", str(ids["sheldon"])),
        ("unknown", None),
        ("recognized", str(ids["raj"])),
        ("unknown", None),
    ]
    for _, _, image_path in events:
        assert (paths.root / str(image_path)).is_file()
    attendance = query(paths, "SELECT user_id, status, snapshot_path FROM attendance_logs ORDER BY id")
    assert [(a[0], a[1]) for a in attendance] == [
        (ids["john_savage"], "recognized"),
        (ids["sheldon"], "recognized"),
        (ids["raj"], "recognized"),
    ]
    door = query(paths, "SELECT outcome, reason, user_id, face_event_id FROM door_events ORDER BY id")
    assert [d[0] for d in door] == ["granted", "denied", "granted", "denied", "granted", "denied"]
    assert [d[3] for d in door] == [1, 2, 3, 4, 5, 6]
    # Penny came twice: one stranger row, seen twice; Leonard is another stranger
    unknown = query(paths, "SELECT id, seen_count, snapshot_path FROM unknown_faces ORDER BY id")
    assert [u[1] for u in unknown] == [2, 1]
    assert all((paths.root / str(u[2])).is_file() and str(u[2]).startswith("unknown_faces/unknown_") for u in unknown)
    kinds = [r[0] for r in query(paths, "SELECT event_type FROM system_events ORDER BY id")]
    assert kinds == ["system_start", "system_stop"]


@pytest.mark.parametrize("fps", [0.0, 40.0], ids=["as-fast-as-possible", "paced-40fps"])
def test_one_decision_per_visit_paced_or_not(tmp_path: Path, engine: FaceEngine, fps: float) -> None:
    config = make_config(tmp_path)
    config = replace(config, camera=replace(config.camera, fps=fps))
    enrol_people(config, engine, {"amy": None, "raj": None})  # two people: the margin rule needs a second-best
    visits = [photo("amy", 0), photo("howard", 0), photo("amy", 0), photo("stuart", 0)]
    build_replay(tmp_path / "replay", visits)
    report = service.run(config, f"replay:{tmp_path / 'replay'}", gpio="mock", until_end=True)
    assert [(d.name, d.granted) for d in report.decisions] == [
        ("amy", True),
        (None, False),
        ("amy", True),
        (None, False),
    ]
    # A stranger is decided at his third agreeing frame. Under the default liveness policy
    # (deny_attacks) a recognised person is watched for [liveness] observe_s (1 s) from her first
    # frame, or until her visit ends (5 frames without her): frame 15 either way, paced or not.
    assert [d.frame for d in report.decisions] == [15, 22, 55, 62]
    assert query(config.paths, "SELECT count(*) FROM face_events") == [(4,)]


def test_a_person_standing_at_the_door_is_recorded_once(tmp_path: Path, engine: FaceEngine) -> None:
    config = replace(make_config(tmp_path), loop=LoopConfig(cooldown_s=60.0))
    enrol_people(config, engine, {"amy": None, "raj": None})  # two people: the margin rule needs a second-best
    build_replay(tmp_path / "replay", [photo("amy", 0)] * 3, frames=10, gap=8)
    report = service.run(config, f"replay:{tmp_path / 'replay'}", gpio="mock", until_end=True)
    assert [d.recorded for d in report.decisions] == [True, False, False]
    assert query(config.paths, "SELECT count(*) FROM attendance_logs") == [(1,)]
    assert relay_rises(report) == 3  # the door still opens for her each time


def test_disallowed_role_and_disabled_user_never_open_the_door(tmp_path: Path, engine: FaceEngine) -> None:
    config = make_config(tmp_path, allowed_roles=("staff",))
    ids = enrol_people(config, engine, {"amy": "visitor", "raj": "staff"})
    with Store.open(config.paths) as store:
        from firmware.platform.clock import now_iso
        from firmware.store import door_records

        store.write(lambda c: door_records.set_user_active(c, ids["raj"], False, now_iso()))
        with store.reader() as conn:
            assert users.find_user(conn, "raj").role == "staff"
    build_replay(tmp_path / "replay", [photo("amy", 0), photo("raj", 0)])
    report = service.run(config, f"replay:{tmp_path / 'replay'}", gpio="mock", until_end=True)
    assert [(d.name, d.granted, d.reason) for d in report.decisions] == [
        ("amy", False, "role visitor not allowed at this door"),
        ("raj", False, "user disabled"),
    ]
    assert relay_rises(report) == 0


def test_a_fault_while_recording_keeps_the_door_locked(
    tmp_path: Path, engine: FaceEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = make_config(tmp_path)
    enrol_people(config, engine, {"amy": None, "raj": None})  # two people: the margin rule needs a second-best
    build_replay(tmp_path / "replay", [photo("amy", 0)])

    def broken(*_: object) -> None:
        raise StoreError("disk on fire")

    monkeypatch.setattr(door_loop, "write_decision", broken)
    report = service.run(config, f"replay:{tmp_path / 'replay'}", gpio="mock", until_end=True)
    assert [(d.name, d.granted, d.recorded) for d in report.decisions] == [("amy", False, False)]
    assert relay_rises(report) == 0
    failures = query(config.paths, "SELECT details FROM system_events WHERE event_type = 'decision_failed'")
    assert len(failures) == 1 and "disk on fire" in str(failures[0][0])


def test_stop_event_ends_a_live_run_and_leaves_the_relay_locked(tmp_path: Path, engine: FaceEngine) -> None:
    config = make_config(tmp_path)
    config = replace(config, camera=replace(config.camera, fps=20.0))
    enrol_people(config, engine, {"amy": None, "raj": None})  # two people: the margin rule needs a second-best
    build_replay(tmp_path / "replay", [photo("amy", 0)] * 20)
    stop = threading.Event()
    decided: list[object] = []
    timer = threading.Timer(20.0, stop.set)
    timer.start()
    try:
        report = service.run(
            config,
            f"replay:{tmp_path / 'replay'}",
            gpio="mock",
            stop=stop,
            on_decision=lambda d: (decided.append(d), stop.set()),
        )
    finally:
        timer.cancel()
    assert len(decided) == 1 and report.frames < 400
    assert report.pin_factory.pin(RELAY).state is False
    assert [r[0] for r in query(config.paths, "SELECT event_type FROM system_events")] == [
        "system_start",
        "system_stop",
    ]


def test_every_relay_pulse_has_its_door_record(tmp_path: Path, engine: FaceEngine) -> None:
    """Re-grants within ``cooldown_s`` open the door again: each opening is a ``door_events`` row
    (and an MQTT event), while the visit itself is recorded once."""
    config = replace(make_config(tmp_path), loop=LoopConfig(cooldown_s=60.0))
    ids = enrol_people(config, engine, {"amy": None, "raj": None})  # one person alone is never named
    build_replay(tmp_path / "replay", [photo("amy", 0)] * 4, frames=10, gap=8)
    report = service.run(config, f"replay:{tmp_path / 'replay'}", gpio="mock", until_end=True)
    assert [d.granted for d in report.decisions] == [True] * 4
    assert relay_rises(report) == 4
    door = query(config.paths, "SELECT outcome, user_id, face_event_id, reason FROM door_events ORDER BY id")
    assert [(d[0], d[1]) for d in door] == [("granted", ids["amy"])] * 4
    assert door[0][2] == 1 and [d[2] for d in door[1:]] == [None] * 3
    assert all("cooldown" in str(d[3]) for d in door[1:])
    assert query(config.paths, "SELECT count(*) FROM face_events") == [(1,)]
    assert query(config.paths, "SELECT count(*) FROM attendance_logs") == [(1,)]
    granted = query(config.paths, 'SELECT count(*) FROM outbox WHERE payload LIKE \'%"type":"granted"%\'')
    assert granted == [(4,)]

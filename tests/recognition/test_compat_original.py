"""``firmware.compat`` takes what the original's callers pass (``000_dd9cc05724c3fc18.txt``):
``capture_snapshot`` boxes as (x, y, w, h), ``log_face_event`` with an int user id and a
``Path``, ``store_face_encoding`` with the user's name or id; and people imported from the
original with a ``face_encoding`` are recognised by ``verify_face`` and at the door."""

from __future__ import annotations

import sqlite3
import struct
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from firmware import compat, service
from firmware.config import Config, DoorConfig, LoopConfig, Paths
from firmware.errors import NotFoundError
from firmware.imaging.image import decode_image, read_image_limited
from firmware.store import legacy, users
from firmware.store.store import Store
from firmware.vision.engine import FaceEngine
from tests.conftest import SHARED, query
from tests.loop.test_run_e2e import build_replay, relay_rises
from tests.store.test_legacy import PLUS2
from tests.store.test_schema import DOCUMENTED_DDL

FACES = SHARED / "data" / "faces"


def opened_snapshot(paths: Paths, relative: str) -> tuple[int, int]:
    store = compat._store()
    jpeg = store.sealer.open_picture("snapshot", (paths.root / relative).read_bytes())
    image = decode_image(jpeg, relative)
    return int(image.shape[1]), int(image.shape[0])


def test_capture_snapshot_takes_the_documented_x_y_w_h_box(compat_env: Paths) -> None:
    frame = np.zeros((100, 100, 3), np.uint8)
    path = compat.capture_snapshot(frame, (10, 20, 30, 40), user_id=3)
    # the box is 30 wide and 40 high from (10, 20); 40 % margin each side, clipped to the frame
    assert opened_snapshot(compat_env, path) == (53, 73)
    seed_style = compat.capture_snapshot(frame, (60, 50, 20, 30))  # w < x: refused by the old reading
    assert opened_snapshot(compat_env, seed_style) == (37, 55)
    for bad in ((10, 10, 0, 5), (10, 10, 5, -1), (10, 10, float("nan"), 5), (200, 200, 5, 5)):
        with pytest.raises(ValueError):
            compat.capture_snapshot(frame, bad)


def test_log_face_event_takes_an_int_user_id_and_a_path(compat_env: Paths) -> None:
    compat.log_face_event("recognized", user_id=7, image_path=Path("/srv/pictures/x.jpg"), confidence=0.9)
    compat.log_face_event("unknown", image_path=Path("unknown_faces/y.jpg"))
    assert query(compat_env, "SELECT user_id, image_path FROM face_events ORDER BY id") == [
        ("7", "/srv/pictures/x.jpg"),
        (None, "unknown_faces/y.jpg"),
    ]
    for bad in (True, 1.5, object()):
        with pytest.raises(ValueError):
            compat.log_face_event("recognized", user_id=bad)  # type: ignore[arg-type]


def test_store_face_encoding_takes_the_name_or_the_id(compat_env: Paths) -> None:
    store = compat._store()
    alice = store.write(lambda c: users.add_user(c, "Alice Smith"))
    a = np.random.default_rng(1).normal(0, 0.1, 128)
    compat.store_face_encoding("Alice Smith", a)
    compat.store_face_encoding("alice smith", a + 0.001)  # names match case-insensitively
    compat.store_face_encoding(str(alice), a - 0.001)
    assert np.allclose(compat.retrieve_face_encoding("Alice Smith"), a - 0.001, atol=1e-6)
    result = compat.verify_face(a)
    assert result.verified and result.user_id == alice and result.name == "Alice Smith"
    with pytest.raises(NotFoundError):
        compat.store_face_encoding("Nobody", a)


def legacy_main_db(folder: Path, rows: list[tuple[str, object]]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    main = folder / "occur_call.db"
    conn = sqlite3.connect(main)
    conn.execute(DOCUMENTED_DDL["users"])
    conn.executemany("INSERT INTO users (name, face_encoding) VALUES (?, ?)", rows)
    conn.commit()
    conn.close()
    return main


def test_verify_face_uses_templates_imported_from_the_original(compat_env: Paths, tmp_path: Path) -> None:
    rng = np.random.default_rng(2)
    john, jane = rng.normal(0, 0.1, 128), rng.normal(0, 0.1, 128)
    main = legacy_main_db(
        tmp_path / "orig",
        [
            ("John Doe", struct.pack("<128d", *john)),  # numpy float64 .tobytes(), as face_recognition gave
            ("Jane Roe", "[" + ", ".join(repr(float(v)) for v in jane) + "]"),  # a TEXT list
        ],
    )
    legacy.import_legacy(compat._store(), None, main, PLUS2)
    found = compat.verify_face(john + 0.01)
    assert found.verified and found.name == "John Doe"
    assert compat.verify_face(jane - 0.01).name == "Jane Roe"
    assert np.allclose(compat.retrieve_face_encoding("John Doe"), john, atol=1e-6)


def test_the_door_recognises_a_person_imported_with_only_the_originals_template(tmp_path: Path) -> None:
    engine = FaceEngine.load(Config().vision)
    image, _ = read_image_limited(sorted((FACES / "amy").glob("*.jpg"))[1])
    face = engine.faces(image)[0]
    template = face.embeddings["dlib"].astype(np.float64)  # the original's dlib ResNet descriptor
    raj_image, _ = read_image_limited(sorted((FACES / "raj").glob("*.jpg"))[0])
    raj = engine.faces(raj_image)[0].embeddings["dlib"].astype(np.float64)  # two people: the door names nobody alone
    main = legacy_main_db(tmp_path / "orig", [("Amy Farrah", template.tobytes()), ("Raj", raj.tobytes())])
    config = Config(data_dir=tmp_path / "data")
    config = replace(
        config, door=DoorConfig(pulse_s=0.2), loop=LoopConfig(cooldown_s=0.0), camera=replace(config.camera, fps=0.0)
    )
    with Store.open(config.paths) as store:
        legacy.import_legacy(store, None, main, PLUS2)
    visitors = [sorted((FACES / "amy").glob("*.jpg"))[0], sorted((FACES / "penny").glob("*.jpg"))[0]]
    build_replay(tmp_path / "replay", visitors)
    report = service.run(config, f"replay:{tmp_path / 'replay'}", gpio="mock", until_end=True)
    assert [(d.name, d.granted) for d in report.decisions] == [("Amy Farrah", True), (None, False)]
    assert relay_rises(report) == 1


def test_the_original_templates_name_nobody_while_the_door_is_closed(tmp_path: Path) -> None:
    """One person in the gallery closes the door (too few people to set a threshold): the
    original-template path must not reopen it."""
    from firmware.config import Paths
    from firmware.recognition.recogniser import Recogniser

    engine = FaceEngine.load(Config().vision)
    photos = sorted((FACES / "amy").glob("*.jpg"))
    template = engine.faces(read_image_limited(photos[1])[0])[0].embeddings["dlib"].astype(np.float64)
    main = legacy_main_db(tmp_path / "orig", [("Amy Farrah", template.tobytes())])
    with Store.open(Paths(tmp_path / "data")) as store:
        legacy.import_legacy(store, None, main, PLUS2)
        recogniser = Recogniser(store, engine)
        found = recogniser.identify(read_image_limited(photos[0])[0])[0]
        assert recogniser.point().closed
        assert (found.match.decision, found.name) == ("unknown", None)

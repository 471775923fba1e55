"""The documented API: names, signatures, validation, durability, data folder from the env."""

from __future__ import annotations

import inspect
import math
import threading
from pathlib import Path

import pytest

from firmware import compat
from firmware.config import Paths
from firmware.platform.clock import parse_iso
from tests.conftest import query


def test_documented_signatures() -> None:
    face = inspect.signature(compat.log_face_event)
    assert list(face.parameters) == ["event_type", "user_id", "image_path", "confidence"]
    assert [p.default for p in list(face.parameters.values())[1:]] == [None, None, None]
    system = inspect.signature(compat.log_system_event)
    assert list(system.parameters) == ["event_type", "details"]
    assert system.parameters["details"].default is None
    assert list(inspect.signature(compat.initialize_db).parameters) == []


def test_initialize_db_creates_every_table(compat_env: Paths) -> None:
    compat.initialize_db()
    compat.initialize_db()
    names = {r[0] for r in query(compat_env, "SELECT name FROM sqlite_schema WHERE type='table'")}
    assert {"face_events", "system_events", "users", "attendance_logs", "unknown_faces"} <= names


def test_documented_examples(compat_env: Paths) -> None:
    assert compat.log_face_event(event_type="recognized", user_id="john_doe", confidence=0.95) is None
    compat.log_face_event(event_type="unknown", image_path="/path/to/unknown_face.jpg")
    compat.log_face_event("auto_register", "jane")
    compat.log_system_event(event_type="system_start", details="AI Camera system started successfully")
    compat.log_system_event(event_type="error", details="Camera initialization failed")
    face = query(
        compat_env, "SELECT timestamp, event_type, user_id, image_path, confidence FROM face_events ORDER BY id"
    )
    assert [r[1:] for r in face] == [
        ("recognized", "john_doe", None, 0.95),
        ("unknown", None, "/path/to/unknown_face.jpg", None),
        ("auto_register", "jane", None, None),
    ]
    system = query(compat_env, "SELECT timestamp, event_type, details FROM system_events ORDER BY id")
    assert [r[1:] for r in system] == [
        ("system_start", "AI Camera system started successfully"),
        ("error", "Camera initialization failed"),
    ]
    for stamp in [r[0] for r in face + system]:
        moment = parse_iso(str(stamp))  # raises without an offset
        assert moment.utcoffset() is not None and moment.utcoffset().total_seconds() == 0  # type: ignore[union-attr]
        assert str(stamp).endswith("+00:00")


@pytest.mark.parametrize(
    "kwargs",
    [
        {"event_type": "recognised"},
        {"event_type": ""},
        {"event_type": None},
        {"event_type": "recognized", "confidence": 1.5},
        {"event_type": "recognized", "confidence": -0.01},
        {"event_type": "recognized", "confidence": math.nan},
        {"event_type": "recognized", "confidence": "0.9"},
        {"event_type": "recognized", "confidence": True},
        {"event_type": "recognized", "user_id": 4.2},  # an int id is taken (the original's callers pass one)
        {"event_type": "recognized", "user_id": True},
        {"event_type": "recognized", "user_id": "a\x00b"},
        {"event_type": "unknown", "image_path": "x" * 5000},
    ],
)
def test_bad_face_events_raise_and_write_nothing(compat_env: Paths, kwargs: dict[str, object]) -> None:
    compat.initialize_db()
    with pytest.raises(ValueError) as info:
        compat.log_face_event(**kwargs)  # type: ignore[arg-type]
    assert str(info.value)  # a message that says what is wrong
    assert query(compat_env, "SELECT count(*) FROM face_events") == [(0,)]


@pytest.mark.parametrize(
    "kwargs", [{"event_type": ""}, {"event_type": "   "}, {"event_type": 3}, {"event_type": "x", "details": b"raw"}]
)
def test_bad_system_events_raise_and_write_nothing(compat_env: Paths, kwargs: dict[str, object]) -> None:
    compat.initialize_db()
    with pytest.raises(ValueError):
        compat.log_system_event(**kwargs)  # type: ignore[arg-type]
    assert query(compat_env, "SELECT count(*) FROM system_events") == [(0,)]


def test_boundaries_accepted(compat_env: Paths) -> None:
    compat.log_face_event("recognized", "a", confidence=0.0)
    compat.log_face_event("recognized", "b", confidence=1)
    assert query(compat_env, "SELECT confidence FROM face_events ORDER BY id") == [(0.0,), (1.0,)]


def test_row_is_visible_to_another_connection_when_call_returns(compat_env: Paths) -> None:
    for n in range(20):
        compat.log_face_event("recognized", f"user{n}")
        assert query(compat_env, "SELECT count(*) FROM face_events") == [(n + 1,)]


def test_data_dir_is_read_at_call_time(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    first, second = tmp_path / "one", tmp_path / "two"
    try:
        monkeypatch.setenv("OCCUR_DATA_DIR", str(first))
        compat.log_system_event("a")
        monkeypatch.setenv("OCCUR_DATA_DIR", str(second))
        compat.log_system_event("b")
        compat.log_system_event("c")
    finally:
        compat.close_all()
    assert query(Paths(first), "SELECT event_type FROM system_events") == [("a",)]
    assert query(Paths(second), "SELECT event_type FROM system_events ORDER BY id") == [("b",), ("c",)]


def test_concurrent_callers_all_recorded(compat_env: Paths) -> None:
    def worker(n: int) -> None:
        for i in range(50):
            compat.log_face_event("recognized", f"t{n}-{i}", confidence=0.5)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    got = {r[0] for r in query(compat_env, "SELECT user_id FROM face_events")}
    assert got == {f"t{n}-{i}" for n in range(8) for i in range(50)}

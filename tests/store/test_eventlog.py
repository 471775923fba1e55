"""The one event path in the store: every system event gets its MQTT outbox row in the same
transaction, with the store's origin, whoever writes it (real SQLite)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from firmware.config import Paths
from firmware.errors import StoreError
from firmware.store import eventlog
from firmware.store.eventlog import Origin
from firmware.store.store import Store
from tests.conftest import REPO, query

ORIGINAL_SYSTEM = {"firmware/original_system.py"}  # reproduces the original design's own database
# (store/legacy.py copies an original system's historical rows generically: old records, not news)


def test_nothing_but_the_event_path_inserts_system_events() -> None:
    writers = {
        str(p.relative_to(REPO))
        for p in (REPO / "firmware").rglob("*.py")
        if "INTO system_events (" in p.read_text().replace("\n", " ")
    }
    assert writers - ORIGINAL_SYSTEM == {"firmware/store/eventlog.py"}


def test_a_system_event_and_its_message_are_one_transaction(tmp_path: Path) -> None:
    paths = Paths(tmp_path / "data")
    with Store.open(paths, origin=Origin("gate-7", 100)) as store:
        store.log_system_event("decision_failed", "track 3: disk on fire")

        def fails_after_writing(conn: object) -> None:
            eventlog.system(conn, store.origin, "2026-12-02T00:00:00.000000+00:00", "x", "y")  # type: ignore[arg-type]
            raise StoreError("rolled back")

        with pytest.raises(StoreError):
            store.write(fails_after_writing)
    assert query(paths, "SELECT event_type FROM system_events") == [("decision_failed",)]
    rows = query(paths, "SELECT event_id, topic, kind, payload FROM outbox")
    assert len(rows) == 1
    event_id, topic, kind, payload = rows[0]
    message = json.loads(str(payload))
    assert (topic, kind) == ("events", "system") and message["id"] == event_id
    assert message["type"] == "system" and message["device"] == "gate-7"
    assert message["reason"] == "decision_failed: track 3: disk on fire"


def test_system_messages_respect_the_outbox_bound(tmp_path: Path) -> None:
    paths = Paths(tmp_path / "data")
    with Store.open(paths, origin=Origin("door-1", 5)) as store:
        for i in range(8):
            store.log_system_event("camera_outage", f"outage {i}")
    assert len(query(paths, "SELECT id FROM system_events")) == 8  # the record is kept
    reasons = [json.loads(str(r[0]))["reason"] for r in query(paths, "SELECT payload FROM outbox ORDER BY seq")]
    assert reasons == [f"camera_outage: outage {i}" for i in range(3, 8)]  # the oldest messages went first


def test_a_long_detail_is_kept_whole_in_the_row_and_cut_in_the_message(tmp_path: Path) -> None:
    paths = Paths(tmp_path / "data")
    with Store.open(paths) as store:
        store.log_system_event("fill", "x" * 5000)
    assert query(paths, "SELECT length(details) FROM system_events") == [(5000,)]
    reason = json.loads(str(query(paths, "SELECT payload FROM outbox")[0][0]))["reason"]
    assert len(reason) == eventlog.REASON_MAX and reason.startswith("fill: xxx") and reason.endswith("…")

"""Readers never block the writer (WAL), including Debian's sqlite3 CLI; locks are waited for."""

from __future__ import annotations

import shutil
import subprocess
import threading
import time

import pytest

from firmware.config import Paths, StorageConfig
from firmware.errors import DatabaseBusyError
from firmware.store.db import open_plain
from firmware.store.store import Store


def writer_thread(store: Store, stop: threading.Event, written: list[int]) -> threading.Thread:
    def run() -> None:
        while not stop.is_set():
            written.append(store.log_face_event("recognized", "reader-test", None, 0.5))

    thread = threading.Thread(target=run)
    thread.start()
    return thread


def test_readers_see_a_growing_consistent_database(store: Store) -> None:
    stop, written = threading.Event(), []  # type: ignore[var-annotated]
    thread = writer_thread(store, stop, written)
    counts = []
    try:
        deadline = time.monotonic() + 20
        while (len(counts) < 200 or counts[-1] == counts[0]) and time.monotonic() < deadline:
            with store.reader() as conn:
                counts.append(conn.execute("SELECT count(*) FROM face_events").fetchone()[0])
    finally:
        stop.set()
        thread.join()
    assert counts == sorted(counts), "a reader saw the count go backwards"
    assert counts[-1] > counts[0], "the writer made no progress while readers read"
    with store.reader() as conn:
        assert conn.execute("SELECT count(*) FROM face_events").fetchone()[0] == len(written)


def test_sqlite3_cli_reads_the_live_database(store: Store) -> None:
    sqlite3 = shutil.which("sqlite3")
    assert sqlite3, "the sqlite3 CLI is missing: run ./setup.sh --dev"
    stop, written = threading.Event(), []  # type: ignore[var-annotated]
    thread = writer_thread(store, stop, written)
    counts = []
    try:
        for _ in range(25):
            out = subprocess.run(
                [sqlite3, "-readonly", str(store.paths.database), "SELECT count(*) FROM face_events;"],
                capture_output=True, text=True, timeout=30,
            )  # fmt: skip
            assert out.returncode == 0, out.stderr
            counts.append(int(out.stdout))
    finally:
        stop.set()
        thread.join()
    assert counts == sorted(counts) and counts[-1] > 0
    store.log_system_event("after-cli")  # the writer is unharmed
    with store.reader() as conn:
        assert conn.execute("SELECT count(*) FROM face_events").fetchone()[0] == len(written)
        assert [r[0] for r in conn.execute("PRAGMA integrity_check")] == ["ok"]


def hold_write_lock(paths: Paths, seconds: float, holding: threading.Event) -> threading.Thread:
    def run() -> None:
        other = open_plain(paths.database, readonly=False)
        try:
            other.execute("BEGIN IMMEDIATE")
            other.execute(
                "INSERT INTO system_events (timestamp, event_type) VALUES ('2026-01-01T00:00:00+00:00', 'other')"
            )
            holding.set()
            time.sleep(seconds)
            other.execute("COMMIT")
        finally:
            other.close()

    thread = threading.Thread(target=run)
    thread.start()
    return thread


def test_a_short_lock_is_waited_for(store: Store) -> None:
    holding = threading.Event()
    thread = hold_write_lock(store.paths, 0.3, holding)
    assert holding.wait(10)
    store.log_system_event("waited")  # blocks until the other connection commits
    thread.join()
    with store.reader() as conn:
        assert [r[0] for r in conn.execute("SELECT event_type FROM system_events ORDER BY id")] == ["other", "waited"]


def test_a_long_lock_fails_cleanly_and_the_store_recovers(paths: Paths) -> None:
    store = Store.open(paths, StorageConfig(busy_timeout_ms=200))
    try:
        holding = threading.Event()
        thread = hold_write_lock(paths, 1.5, holding)
        assert holding.wait(10)
        with pytest.raises(DatabaseBusyError, match="locked"):
            store.log_system_event("too-late")
        thread.join()
        store.log_system_event("later")
        with store.reader() as conn:
            assert [r[0] for r in conn.execute("SELECT event_type FROM system_events ORDER BY id")] == [
                "other",
                "later",
            ]
    finally:
        store.close()

"""Group commit: writes queued together share a transaction, and a bad write fails alone."""

from __future__ import annotations

import pytest

from firmware.errors import StoreError
from firmware.store import eventlog
from firmware.store.eventlog import Origin
from firmware.store.store import Store


def insert(n: int) -> object:
    return lambda c: eventlog.system(c, Origin(), "2026-01-01T00:00:00.000000+00:00", f"e{n}", None)


def test_queued_writes_share_commits(store: Store) -> None:
    before = store.writer.commits
    pending = [store.submit(insert(n)) for n in range(500)]  # type: ignore[arg-type]
    ids = [p.result(30) for p in pending]
    assert len(set(ids)) == 500
    assert store.writer.commits - before < 500
    with store.reader() as conn:
        assert conn.execute("SELECT count(*) FROM system_events").fetchone()[0] == 500


def test_bad_write_in_a_group_fails_alone(store: Store) -> None:
    def bad(c: object) -> int:
        c.execute("INSERT INTO attendance_logs (user_id, status) VALUES (NULL, 'nope')")  # type: ignore[attr-defined]
        return 0

    pending = [store.submit(insert(n)) for n in range(100)]  # type: ignore[arg-type]
    failing = store.submit(bad)
    pending += [store.submit(insert(n)) for n in range(100, 200)]  # type: ignore[arg-type]
    for p in pending:
        p.result(30)
    with pytest.raises(Exception, match="CHECK"):
        failing.result(30)
    with store.reader() as conn:
        assert conn.execute("SELECT count(*) FROM system_events").fetchone()[0] == 200
        assert conn.execute("SELECT count(*) FROM attendance_logs").fetchone()[0] == 0


def test_result_is_the_write_functions_value(store: Store) -> None:
    assert store.write(lambda c: 41 + 1) == 42


def test_closed_store_refuses_writes(store: Store) -> None:
    store.close()
    store.close()  # idempotent
    with pytest.raises(StoreError, match="closed"):
        store.log_system_event("late")


def test_a_threads_writes_commit_in_program_order(store: Store) -> None:
    """An async submit followed by a blocking write must not be overtaken by the lone-caller
    fast path, which commits on the calling thread."""
    for n in range(300):
        first = store.submit(insert(2 * n))  # type: ignore[arg-type]
        second_id = store.write(insert(2 * n + 1))  # type: ignore[arg-type]
        assert first.result(30) < second_id


def test_lone_writes_and_groups_both_land(store: Store) -> None:
    import threading

    ids = [store.write(insert(n)) for n in range(50)]  # type: ignore[arg-type]
    assert ids == sorted(ids) and len(set(ids)) == 50
    threads = [threading.Thread(target=lambda: [store.write(insert(0)) for _ in range(100)]) for _ in range(8)]  # type: ignore[arg-type]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    with store.reader() as conn:
        assert conn.execute("SELECT count(*) FROM system_events").fetchone()[0] == 850

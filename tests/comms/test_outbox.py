"""The outbox's bound and ordering (real SQLite)."""

from __future__ import annotations

from firmware.store import outbox
from firmware.store.ids import new_id
from firmware.store.store import Store


def add(store: Store, kind: str, n: int, max_rows: int) -> None:
    for _ in range(n):
        event_id = new_id()
        store.write(lambda c, e=event_id: outbox.add(c, e, "t", "events", kind, {"id": e}, max_rows))


def test_when_full_system_then_door_rows_go_and_access_rows_never(store: Store) -> None:
    add(store, "system", 60, 100)
    add(store, "door", 30, 100)
    add(store, "access", 30, 100)  # 120 rows: 20 oldest system rows dropped
    with store.reader() as conn:
        assert outbox.depth(conn) == 100
        kinds = [r[0] for r in conn.execute("SELECT kind FROM outbox ORDER BY seq")]
    assert kinds.count("system") == 40 and kinds.count("door") == 30 and kinds.count("access") == 30
    add(store, "access", 150, 100)  # system and door rows all go; then the bound is exceeded
    with store.reader() as conn:
        kinds = [r[0] for r in conn.execute("SELECT kind FROM outbox ORDER BY seq")]
    assert kinds == ["access"] * 180


def test_ids_sort_in_creation_order_and_pending_follows_seq(store: Store) -> None:
    ids = [new_id() for _ in range(1000)]
    assert ids == sorted(ids) and len(set(ids)) == 1000 and all(len(i) == 26 for i in ids)
    add(store, "access", 5, 100)
    with store.reader() as conn:
        rows = outbox.pending(conn, 0, 10)
    assert [r.seq for r in rows] == sorted(r.seq for r in rows)
    store.write(lambda c: outbox.mark_sent(c, [rows[0].seq, rows[1].seq], "now"))
    with store.reader() as conn:
        assert [r.seq for r in outbox.pending(conn)] == [r.seq for r in rows[2:]]
        assert outbox.depth(conn) == 3


def test_nonces_are_single_use(store: Store) -> None:
    assert store.write(lambda c: outbox.remember_nonce(c, "abcdefgh", "2026-01-02", "2026-01-01")) is True
    assert store.write(lambda c: outbox.remember_nonce(c, "abcdefgh", "2026-01-02", "2026-01-01")) is False
    assert store.write(lambda c: outbox.remember_nonce(c, "abcdefgh", "2026-01-05", "2026-01-03")) is True  # forgotten

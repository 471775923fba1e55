"""The secure log: encrypted, chained, signed; every kind of tampering is named by verify."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from firmware import compat
from firmware.config import Paths
from firmware.crypto.keys import IntegrityError, KeyFileError, Keys
from firmware.security.securelog import CHECKPOINT_EVERY, SecureLog
from firmware.store.store import Store
from tests.conftest import Cli


def fill(store: Store, log: SecureLog, n: int) -> None:
    for i in range(n):
        store.write(lambda c, i=i: log.append(c, "enrolment", {"i": i, "secret": f"value-{i}"}, str(i % 3)))


@pytest.fixture
def log(paths: Paths) -> SecureLog:
    return SecureLog(Keys(paths.keys, create=True), "door-1")


def raw(store: Store, sql: str, args: tuple[object, ...] = ()) -> None:
    """Tamper as an attacker with the SD card would: straight SQL on the file, triggers off."""

    def job(conn: object) -> None:
        conn.execute("DROP TRIGGER IF EXISTS secure_log_no_update")  # type: ignore[attr-defined]
        conn.execute(sql, args)  # type: ignore[attr-defined]

    store.write(job)


def test_entries_are_sealed_listed_and_verified(store: Store, log: SecureLog, paths: Paths) -> None:
    fill(store, log, CHECKPOINT_EVERY + 5)
    with store.reader() as conn:
        assert log.verify(conn) == []
        mine = log.entries(conn, "1")
        assert [e.data["i"] for e in mine][:3] == [1, 4, 7] and mine[0].event_type == "enrolment"
        checkpoints = conn.execute("SELECT seq FROM secure_log_checkpoints").fetchall()
        queued = conn.execute("SELECT topic, payload FROM outbox WHERE topic = 'audit'").fetchall()
    assert [c[0] for c in checkpoints] == [CHECKPOINT_EVERY]
    assert json.loads(queued[0][1])["seq"] == CHECKPOINT_EVERY
    database = paths.database.read_bytes() + b"".join(p.read_bytes() for p in paths.root.glob("occur.db-wal"))
    assert b"value-7" not in database  # data is never stored in the clear


def test_sql_cannot_update_entries(store: Store, log: SecureLog) -> None:
    fill(store, log, 3)
    with pytest.raises(Exception, match="append-only"):
        store.write(lambda c: c.execute("UPDATE secure_log SET event_type = 'x' WHERE seq = 1"))


def flipped(column: str, at: int) -> str:
    """SQL for byte ``at`` (1-based) of ``column`` changed: 0x00, or 0x01 where it already was 0x00
    (a fixed 0x00 left one entry in 256 untouched, and the test failed when the hash began so)."""
    return f"(CASE WHEN substr({column}, {at}, 1) = x'00' THEN x'01' ELSE x'00' END)"


@pytest.mark.parametrize(
    ("tamper", "expected"),
    [
        (
            f"UPDATE secure_log SET sealed = CAST(substr(sealed, 1, 20) || {flipped('sealed', 21)} || substr(sealed, 22)"
            " AS BLOB) WHERE seq = 5",
            "entry 5 does not chain",
        ),
        ("UPDATE secure_log SET event_type = 'export' WHERE seq = 7", "entry 7 does not chain"),
        ("UPDATE secure_log SET user_id = '9' WHERE seq = 3", "entry 3 does not chain"),
        ("DELETE FROM secure_log WHERE seq = 4", "entry 4 is missing"),
        ("UPDATE secure_log SET seq = seq + 1000 WHERE seq = 6", "entry 6 is missing"),
        (
            f"UPDATE secure_log SET chain = CAST({flipped('chain', 1)} || substr(chain, 2) AS BLOB) WHERE seq = 9",
            "entry 9 does not chain",
        ),
        ("DELETE FROM secure_log WHERE seq > 95", "were signed but are gone"),
        (
            f"UPDATE secure_log_checkpoints SET signature = CAST({flipped('signature', 1)} || substr(signature, 2) AS BLOB)",
            "bad signature",
        ),
    ],
)
def test_tampering_is_found_and_named(store: Store, log: SecureLog, tamper: str, expected: str) -> None:
    fill(store, log, CHECKPOINT_EVERY)
    raw(store, tamper)
    with store.reader() as conn:
        problems = log.verify(conn)
    assert problems and any(expected in p for p in problems), problems


def test_a_forged_entry_without_the_key_is_found(store: Store, log: SecureLog, paths: Paths, tmp_path: Path) -> None:
    fill(store, log, 5)
    forger = SecureLog(Keys(tmp_path / "attacker-keys", create=True))  # a well-formed entry, chained with another key
    store.write(lambda c: forger.append(c, "export", {"all": True}, "1"))
    with store.reader() as conn:
        problems = log.verify(conn)
        with pytest.raises(IntegrityError):
            log.entries(conn, "1")
    assert problems[0] == "entry 6 does not chain to the one before it (altered, reordered or forged)"


def test_key_files_readable_by_others_are_refused(paths: Paths) -> None:
    Keys(paths.keys, create=True)
    os.chmod(paths.keys / "data.key", 0o644)
    with pytest.raises(KeyFileError, match="chmod 600"):
        Keys(paths.keys)


def test_compat_secure_log_api(compat_env: Paths) -> None:
    seq = compat.log_secure_event("consent", {"text_version": "v1"}, user_id=12)
    compat.log_secure_event("other", {"x": 1}, user_id=13)
    entries = compat.retrieve_secure_logs(12)
    assert [(e["seq"], e["event_type"], e["data"]) for e in entries] == [(seq, "consent", {"text_version": "v1"})]
    assert compat.retrieve_secure_logs(12, ("2000-01-01", "2000-01-02")) == []
    with pytest.raises(ValueError, match="JSON"):
        compat.log_secure_event("bad", {"x": object()})
    with pytest.raises(ValueError):
        compat.retrieve_secure_logs(12, ("yesterday", "today"))


def test_audit_cli_lists_verifies_and_fails_on_tampering(cli: Cli, tmp_path: Path) -> None:
    d = str(tmp_path / "data")
    assert cli("--data-dir", d, "users", "add", "Ada").status == 0
    assert cli("--data-dir", d, "users", "remove", "Ada").status == 0
    listed = json.loads(cli("--data-dir", d, "audit", "list", "--json").out)
    assert [e["event_type"] for e in listed] == ["user_removed"]
    assert cli("--data-dir", d, "audit", "checkpoint").out.startswith("checkpoint signed at entry")
    ok = cli("--data-dir", d, "audit", "verify")
    assert ok.status == 0 and "intact" in ok.out
    with Store.open(Paths(tmp_path / "data")) as store:
        raw(store, "UPDATE secure_log SET event_type = 'nothing' WHERE seq = 1")
    bad = cli("--data-dir", d, "audit", "verify")
    assert bad.status == 7 and "entry 1 does not chain" in bad.err


@pytest.mark.parametrize(
    ("tamper", "expected"),
    [
        ("DELETE FROM secure_log WHERE seq > 100", "entries after 100 are gone"),  # the tail after the last checkpoint
        ("DELETE FROM secure_log WHERE seq > 50; DELETE FROM secure_log_checkpoints", "entries after 50 are gone"),
        ("DELETE FROM secure_log; DELETE FROM secure_log_checkpoints", "the log is empty"),
    ],
    ids=["tail-after-checkpoint", "entries-and-checkpoints", "everything"],
)
def test_deletions_anchored_outside_the_table_are_found(
    store: Store, log: SecureLog, paths: Paths, tamper: str, expected: str
) -> None:
    fill(store, log, CHECKPOINT_EVERY + 5)
    with store.reader() as conn:
        assert log.verify(conn) == []
    for statement in tamper.split(";"):
        raw(store, statement)
    with store.reader() as conn:
        problems = log.verify(conn)
    assert problems and any(expected in p for p in problems), problems


def test_the_head_file_and_the_counter_each_catch_a_deleted_tail(store: Store, log: SecureLog, paths: Paths) -> None:
    """Either anchor alone is enough: the counter when the head file was deleted too, the head
    file when the counter was reset too (an attacker with SQL access can do that)."""
    fill(store, log, 7)
    raw(store, "DELETE FROM secure_log WHERE seq > 5")
    head = paths.keys / "secure_log.head"
    saved = head.read_bytes()
    head.unlink()
    with store.reader() as conn:
        problems = log.verify(conn)
    assert any("entries after 5 are gone" in p for p in problems) and any("head file" in p for p in problems)
    head.write_bytes(saved)
    raw(store, "DROP TRIGGER IF EXISTS secure_log_head_only_grows")
    raw(store, "UPDATE secure_log_head SET seq = 5")
    with store.reader() as conn:
        problems = log.verify(conn)
    assert any("entries after 5 are gone" in p for p in problems), problems
    head.write_bytes(b'{"seq": 5, "chain": "00", "mac": "00"}')
    with store.reader() as conn:
        assert any("head file" in p and "altered" in p for p in log.verify(conn))


def test_retention_at_a_checkpoint_still_verifies(store: Store, log: SecureLog) -> None:
    fill(store, log, CHECKPOINT_EVERY)
    raw(store, f"DELETE FROM secure_log WHERE seq <= {CHECKPOINT_EVERY}")  # retention cuts at a checkpoint
    with store.reader() as conn:
        assert log.verify(conn) == []


def test_audit_verify_cli_refuses_a_truncated_log_and_checks_an_outside_checkpoint(cli: Cli, tmp_path: Path) -> None:
    d = str(tmp_path / "data")
    for name in ("Ada", "Bob", "Cy"):
        assert cli("--data-dir", d, "users", "add", name).status == 0
        assert cli("--data-dir", d, "users", "remove", name).status == 0
    assert cli("--data-dir", d, "audit", "checkpoint").status == 0
    with Store.open(Paths(tmp_path / "data")) as store, store.reader() as conn:
        payload = conn.execute("SELECT payload FROM outbox WHERE topic = 'audit' ORDER BY seq DESC LIMIT 1").fetchone()
    held = tmp_path / "checkpoint.json"
    held.write_text(payload[0])  # what a subscriber to <prefix>/audit holds
    ok = cli("--data-dir", d, "audit", "verify", "--checkpoint", str(held))
    assert ok.status == 0, ok.err
    assert "cannot prove" in ok.out  # says plainly what a clean result does not cover
    with Store.open(Paths(tmp_path / "data")) as store:
        raw(store, "DELETE FROM secure_log")
        raw(store, "DELETE FROM secure_log_checkpoints")
        raw(store, "DROP TRIGGER IF EXISTS secure_log_head_only_grows")
        raw(store, "UPDATE secure_log_head SET seq = 0")
    (tmp_path / "data" / "keys" / "secure_log.head").unlink()
    assert cli("--data-dir", d, "audit", "verify").status == 0  # nothing left on the device can tell
    outside = cli("--data-dir", d, "audit", "verify", "--checkpoint", str(held))
    assert outside.status == 7 and "checkpoint" in outside.err

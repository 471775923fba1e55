"""Names a person can be found by: unique (case-insensitively), never a number, never hidden
characters; every user addressable by id; status visible; read-only commands write nothing."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from firmware.config import Paths
from firmware.store.store import Store
from tests.conftest import SHARED, Cli, query
from tests.store.test_schema import DOCUMENTED_DDL

FACES = SHARED / "data" / "faces"


@pytest.mark.parametrize("ref", ["²", "٣", "１２", "0x1", "-1", "1.0", "99999999999999999999999"])
def test_odd_user_references_are_a_clean_not_found(tmp_path: Path, cli: Cli, ref: str) -> None:
    d = str(tmp_path / "data")
    assert cli("--data-dir", d, "users", "add", "Ada").status == 0
    for action in (("users", "forget", ref), ("users", "remove", ref), ("users", "disable", ref)):
        done = cli("--data-dir", d, *action)
        assert done.status == 6, (action, done.err)
        assert done.err.startswith("occur: error: no user") and "Traceback" not in done.err


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("123", "a number"),
        ("²", "a number"),
        ("٣٤", "a number"),
        ("Eve\u202egnp.exe", "U+202E"),
        ("Nul\x00Byte", "U+0000"),
        ("Zero\u200bWidth", "U+200B"),
        ("   ", "printable"),
    ],
)
def test_names_that_cannot_be_addressed_or_shown_are_refused(tmp_path: Path, cli: Cli, name: str, reason: str) -> None:
    done = cli("--data-dir", str(tmp_path / "data"), "users", "add", name)
    assert done.status == 2 and reason in done.err, done.err


def test_names_are_unique_case_insensitively_and_everyone_has_an_id(tmp_path: Path, cli: Cli) -> None:
    d = str(tmp_path / "data")
    assert cli("--data-dir", d, "users", "add", "Amy").status == 0
    for twin in ("Amy", "amy", " AMY ", "ＡＭＹ"):
        dup = cli("--data-dir", d, "users", "add", twin)
        assert dup.status == 2 and "already" in dup.err and "id 1" in dup.err, dup.err
    assert cli("--data-dir", d, "users", "add", "Émile").status == 0
    assert cli("--data-dir", d, "users", "add", "E\u0301mile").status == 2  # the same name, decomposed
    photos = [str(p) for p in sorted((FACES / "amy").glob("*.jpg"))[1:3]]
    by_id = cli("--data-dir", d, "enroll", "1", *photos, "--consent-by", "hr", "--json")
    assert by_id.status in (0, 1) and json.loads(by_id.out)["user_id"] == 1, by_id.err
    assert len(json.loads(by_id.out)["accepted"]) >= 1
    by_case = cli("--data-dir", d, "users", "disable", "AMY")
    assert by_case.status == 0 and "user 1 (Amy) disabled" in by_case.out
    listed = json.loads(cli("--data-dir", d, "users", "list", "--json").out)
    assert [(u["id"], u["name"], u["active"]) for u in listed] == [(1, "Amy", False), (2, "Émile", True)]
    table = cli("--data-dir", d, "users", "list").out
    assert "active" in table.splitlines()[0] and "no" in table.splitlines()[1]


def test_duplicates_from_before_stay_addressable_by_id(tmp_path: Path, cli: Cli) -> None:
    d = tmp_path / "data"
    with Store.open(Paths(d)) as store:  # two Amys made by an older firmware
        store.write(lambda c: c.execute("INSERT INTO users (name) VALUES ('Amy'), ('amy')"))
    ambiguous = cli("--data-dir", str(d), "users", "disable", "Amy")
    assert ambiguous.status == 2 and "ids 1, 2" in ambiguous.err
    assert cli("--data-dir", str(d), "users", "disable", "2").status == 0
    assert cli("--data-dir", str(d), "users", "forget", "1").status == 0


def test_legacy_names_are_checked_like_new_ones(tmp_path: Path, cli: Cli) -> None:
    main = tmp_path / "occur_call.db"
    conn = sqlite3.connect(main)
    conn.execute(DOCUMENTED_DDL["users"])
    conn.executemany(
        "INSERT INTO users (id, name, email) VALUES (?, ?, ?)",
        [
            (1, "Good Name", "good@x.org"),
            (2, "Nul\x00Byte", None),
            (3, "Eve\u202egnp.exe", None),
            (4, "12345", None),
            (5, "good name", "other@x.org"),  # the same name as user 1 for another person
        ],
    )
    conn.commit()
    conn.close()
    d = str(tmp_path / "data")
    done = cli("--data-dir", d, "db", "import-legacy", "--main-db", str(main), "--json")
    assert done.status == 1
    table = next(t for t in json.loads(done.out)["tables"] if t["source_table"] == "users")
    reasons = {r["rowid"]: r["reason"] for r in table["refused"]}
    assert sorted(reasons) == [2, 3, 4, 5], reasons
    assert "U+0000" in reasons[2] and "U+202E" in reasons[3] and "number" in reasons[4] and "already" in reasons[5]
    assert query(Paths(tmp_path / "data"), "SELECT name FROM users") == [("Good Name",)]


@pytest.mark.parametrize(
    "command",
    [
        ("users", "list"),
        ("events",),
        ("attendance", "list"),
        ("attendance", "export"),
        ("unknown", "list"),
        ("audit", "list"),
        ("audit", "verify"),
        ("snapshots", "export", "out"),
        ("status",),
        ("backup", "list"),
        ("db", "stats"),
        ("db", "check"),
        ("ota", "status"),
        ("identify", str(FACES / "amy" / "amy1.jpg")),
        ("verify", "Amy", str(FACES / "amy" / "amy1.jpg")),
    ],
)
def test_read_only_commands_never_create_a_data_folder(
    tmp_path: Path, cli: Cli, monkeypatch: pytest.MonkeyPatch, command: tuple[str, ...]
) -> None:
    monkeypatch.chdir(tmp_path)
    done = cli(*command)
    assert done.status != 0 or command in (("backup", "list"), ("ota", "status")), done.out
    assert "Traceback" not in done.err
    assert not (tmp_path / "data").exists(), f"{command} created ./data"
    assert sorted(p.name for p in tmp_path.iterdir()) == [], list(tmp_path.iterdir())

"""The ``occur`` CLI: help everywhere, exit statuses, JSON output, users and events commands."""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

import pytest

from firmware.cli import build_parser
from firmware.config import Paths
from firmware.store.store import Store
from tests.conftest import Cli


def walk(
    parser: argparse.ArgumentParser, prefix: tuple[str, ...] = ()
) -> list[tuple[tuple[str, ...], argparse.ArgumentParser]]:
    found = [(prefix, parser)]
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, child in action.choices.items():
                found += walk(child, (*prefix, name))
    return found


def test_every_command_has_help() -> None:
    commands = walk(build_parser())
    names = {" ".join(p) for p, _ in commands}
    for expected in (
        "demo",
        "check-config",
        "db migrate",
        "db check",
        "db stats",
        "db import-legacy",
        "db recover",
        "events",
        "users add",
        "users list",
        "users remove",
        "bench db",
        "bench import",
    ):
        assert expected in names
    for prefix, parser in commands:
        assert parser.format_help().strip(), prefix
        if prefix:
            parent = build_parser() if len(prefix) == 1 else dict(commands)[prefix[:-1]]
            sub = next(a for a in parent._actions if isinstance(a, argparse._SubParsersAction))
            helps = {c.dest: c.help for c in sub._choices_actions}
            assert helps.get(prefix[-1]), f"'{' '.join(prefix)}' has no help line"


def test_console_script_runs() -> None:
    exe = Path(sys.executable).parent / "occur"
    out = subprocess.run([str(exe), "--version"], capture_output=True, text=True, check=True)
    assert out.stdout.startswith("occur ")
    bad = subprocess.run([str(exe), "no-such-command"], capture_output=True, text=True)
    assert bad.returncode == 2


def test_users_lifecycle(tmp_path: Path, cli: Cli) -> None:
    d = str(tmp_path / "data")
    run = cli
    added = run(
        "--data-dir", d, "users", "add", "Ada Lovelace", "--email", "ada@example.org", "--role", "staff", "--json"
    )
    assert added.status == 0
    user = json.loads(added.out)
    assert user["name"] == "Ada Lovelace" and user["role"] == "staff" and user["created_at"].endswith("+00:00")
    twin = run("--data-dir", d, "users", "add", "Ada Lovelace")
    assert twin.status == 2 and "already exists (id 1)" in twin.err  # names are unique
    assert run("--data-dir", d, "users", "add", "Ada King").status == 0
    dup = run("--data-dir", d, "users", "add", "Other", "--email", "ada@example.org")
    assert dup.status == 2 and "already used" in dup.err
    bad = run("--data-dir", d, "users", "add", "Bob", "--email", "not-an-email")
    assert bad.status == 2 and "email" in bad.err
    listed = json.loads(run("--data-dir", d, "users", "list", "--json").out)
    assert [u["name"] for u in listed] == ["Ada Lovelace", "Ada King"]
    missing = run("--data-dir", d, "users", "remove", "Nobody")
    assert missing.status == 6

    with Store.open(Paths(Path(d))) as store:
        store.write(lambda c: c.execute("INSERT INTO attendance_logs (user_id, status) VALUES (1, 'manual')"))
    refused = run("--data-dir", d, "users", "remove", "1")
    assert refused.status == 2 and "attendance" in refused.err
    assert len(json.loads(run("--data-dir", d, "users", "list", "--json").out)) == 2
    removed = run("--data-dir", d, "users", "remove", "1", "--delete-attendance")
    assert removed.status == 0 and "1 attendance" in removed.out
    assert [u["id"] for u in json.loads(run("--data-dir", d, "users", "list", "--json").out)] == [2]


def test_events_filters(tmp_path: Path, cli: Cli) -> None:
    d = tmp_path / "data"
    with Store.open(Paths(d)) as store:
        store.write(
            lambda c: c.execute(
                "INSERT INTO face_events (timestamp, event_type, user_id, confidence) VALUES "
                "('2026-01-01T10:00:00.000000+00:00', 'recognized', 'u1', 0.9),"
                "('2026-01-02T10:00:00.000000+00:00', 'unknown', NULL, NULL),"
                "('2026-01-03T10:00:00.000000+00:00', 'recognized', 'u2', 0.8)"
            )
        )
        store.write(
            lambda c: c.execute(
                "INSERT INTO system_events (timestamp, event_type, details) VALUES "
                "('2026-01-02T12:00:00.000000+00:00', 'system_start', 'boot')"
            )
        )
    run = cli
    every = json.loads(run("--data-dir", str(d), "events", "--json").out)
    assert [(e["kind"], e["timestamp"][:10]) for e in every] == [
        ("face", "2026-01-01"),
        ("face", "2026-01-02"),
        ("system", "2026-01-02"),
        ("face", "2026-01-03"),
    ]
    face = json.loads(run("--data-dir", str(d), "events", "--kind", "face", "--json").out)
    assert {e["kind"] for e in face} == {"face"} and len(face) == 3
    # 11:00 at +01:00 is 10:00 UTC: the offset is honoured
    since = json.loads(run("--data-dir", str(d), "events", "--since", "2026-01-02T11:00:00+01:00", "--json").out)
    assert [e["timestamp"][:13] for e in since] == ["2026-01-02T10", "2026-01-02T12", "2026-01-03T10"]
    last = json.loads(run("--data-dir", str(d), "events", "--limit", "1", "--json").out)
    assert [e["user_id"] for e in last] == ["u2"]
    table = run("--data-dir", str(d), "events").out
    assert "confidence=0.900" in table and "system_start" in table
    by_date = json.loads(run("--data-dir", str(d), "events", "--since", "2026-01-03", "--json").out)
    assert [e["timestamp"][:10] for e in by_date] == ["2026-01-03"]
    naive = run("--data-dir", str(d), "events", "--since", "2026-01-02T11:00")
    assert naive.status == 2 and "offset" in naive.err


def test_read_commands_need_a_database(tmp_path: Path, cli: Cli) -> None:
    result = cli("--data-dir", str(tmp_path / "none"), "events")
    assert result.status == 4
    assert "occur db migrate" in result.err
    assert not (tmp_path / "none").exists()


def test_db_migrate_check_stats(tmp_path: Path, cli: Cli) -> None:
    d = str(tmp_path / "data")
    run = cli
    first = run("--data-dir", d, "db", "migrate")
    assert first.status == 0 and "0001_original_schema.sql" in first.out
    again = run("--data-dir", d, "db", "migrate", "--json")
    assert json.loads(again.out)["applied"] == []
    check = run("--data-dir", d, "db", "check", "--full", "--json")
    assert check.status == 0 and json.loads(check.out)["ok"] is True
    stats = json.loads(run("--data-dir", d, "db", "stats", "--json").out)
    assert stats["tables"]["face_events"] == 0 and stats["sqlite_version"].startswith("3.")


def test_env_data_dir(tmp_path: Path, cli: Cli, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OCCUR_DATA_DIR", str(tmp_path / "env"))
    assert cli("db", "migrate").status == 0
    assert (tmp_path / "env" / "occur.db").exists()

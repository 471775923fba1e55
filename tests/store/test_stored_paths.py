"""Paths read from the database or from an import never leave their folder, and a data key that
disappears stops everything instead of being replaced.

A hostile original database can name any file in its ``unknown`` table; retention (``occur
retention run``, and ``occur run`` every 10 minutes) deletes the stranger pictures of old rows.
Each path must be relative, free of ``..`` and resolve, symlinks included, inside its folder:
checked at import (the row is refused with its reason) and again where it is used.
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from firmware.config import Config, Paths
from firmware.crypto.keys import KeyFileError
from firmware.records import retention
from firmware.security.audit import secure_log
from firmware.store import users
from firmware.store.store import Store
from tests.conftest import Cli, query
from tests.store.test_schema import DOCUMENTED_DDL

OLD = "2020-01-01 10:00:00"  # long past the strangers' 30 days


def hostile_main_db(folder: Path, canary: Path, paths: list[str]) -> Path:
    """An original main database whose ``unknown`` table names ``paths``."""
    folder.mkdir(parents=True, exist_ok=True)
    main = folder / "occur_call.db"
    conn = sqlite3.connect(main)
    conn.execute(DOCUMENTED_DDL["users"])
    conn.execute(
        "CREATE TABLE unknown (snapshot_path TEXT, first_seen TIMESTAMP, last_seen TIMESTAMP, seen_count INTEGER)"
    )
    conn.executemany("INSERT INTO unknown VALUES (?, ?, ?, 1)", [(p, OLD, OLD) for p in paths])
    conn.commit()
    conn.close()
    return main


def hostile_paths(paths: Paths, canary: Path) -> list[str]:
    escape = "../" * (len(paths.root.parts) + 2)
    return [
        "keys/data.key",
        "occur.db",
        str(canary),  # absolute
        f"{escape}{str(canary).lstrip('/')}",  # relative, climbing out
        "unknown_faces/../keys/device_ed25519.key",
        "unknown_faces/k/data.key",  # through a symlink in the folder
        "unknown_faces/\x00.jpg",
        "",
    ]


def test_hostile_legacy_paths_are_refused_at_import_and_retention_deletes_nothing_outside(
    tmp_path: Path, cli: Cli
) -> None:
    config = Config(data_dir=tmp_path / "data")
    paths = config.paths
    canary = tmp_path / "canary.txt"
    canary.write_text("must survive")
    with Store.open(paths) as store:
        store.write(lambda c: users.add_user(c, "Amy"))
        store.sealer  # noqa: B018 - the keys exist from here on
    paths.unknown_faces.mkdir()
    (paths.unknown_faces / "k").symlink_to("../keys")
    good = "unknown_faces/unknown_20240115_143022.jpg"
    (paths.root / good).write_bytes(b"old picture")
    bad = hostile_paths(paths, canary)
    main = hostile_main_db(tmp_path / "orig", canary, [good, *bad])

    done = cli("--data-dir", str(paths.root), "db", "import-legacy", "--main-db", str(main), "--json")
    assert done.status == 1, done.err  # some rows were refused
    report = json.loads(done.out)
    table = next(t for t in report["tables"] if t["source_table"] == "unknown")
    assert table["imported"] == 1
    refused = {r["rowid"]: r["reason"] for r in table["refused"]}
    assert sorted(refused) == list(range(2, 2 + len(bad)))
    assert "outside unknown_faces/" in refused[2] and "absolute" in refused[4] and ".." in refused[5]
    assert "symlink" in refused[7] or "outside" in refused[7]
    assert query(paths, "SELECT snapshot_path FROM unknown_faces") == [(good,)]
    assert query(paths, "SELECT count(*) FROM legacy_imports") == [(1,)]  # refused rows are not kept either
    text = cli("--data-dir", str(paths.root), "db", "import-legacy", "--main-db", str(main))
    assert text.status == 1 and text.err.count("refused unknown row") == len(bad)

    keys_before = {p.name: p.read_bytes() for p in paths.keys.iterdir()}
    assert cli("--data-dir", str(paths.root), "retention", "run").status == 0
    assert not (paths.root / good).exists()  # the one inside its folder went with its row
    assert canary.read_text() == "must survive"
    assert all((paths.keys / name).read_bytes() == data for name, data in keys_before.items())
    assert paths.database.exists()
    assert cli("--data-dir", str(paths.root), "users", "list").status == 0


def test_paths_already_in_the_database_are_checked_again_where_used(tmp_path: Path) -> None:
    """A row that reached the table some other way (an adopted original database, direct SQL)
    is never acted on either: retention skips it and says so."""
    config = Config(data_dir=tmp_path / "data")
    paths = config.paths
    canary = tmp_path / "canary.txt"
    canary.write_text("must survive")
    with Store.open(paths) as store:
        store.sealer  # noqa: B018
        paths.unknown_faces.mkdir()
        (paths.unknown_faces / "k").symlink_to("../keys")
        (paths.unknown_faces / "fine.jpg").write_bytes(b"x")
        rows = [*hostile_paths(paths, canary), "unknown_faces/fine.jpg"]
        store.write(
            lambda c: c.executemany(
                "INSERT INTO unknown_faces (snapshot_path, first_seen, last_seen, seen_count) VALUES (?, ?, ?, 1)",
                [(p, "2020-01-01T10:00:00+00:00", "2020-01-01T10:00:00+00:00") for p in rows],
            )
        )
        keys_before = {p.name: p.read_bytes() for p in paths.keys.iterdir()}
        report = retention.run(store, config, secure_log(paths))
    assert report.removed["unknown_faces"] == len(rows)
    assert report.removed["unsafe_paths_skipped"] == len(rows) - 2  # the empty path names no file
    assert not (paths.unknown_faces / "fine.jpg").exists()
    assert canary.read_text() == "must survive"
    assert all((paths.keys / name).read_bytes() == data for name, data in keys_before.items())
    assert paths.database.exists()


def test_a_missing_data_key_stops_everything_and_is_never_replaced(tmp_path: Path, cli: Cli) -> None:
    paths = Paths(tmp_path / "data")
    with Store.open(paths) as store:
        amy = store.write(lambda c: users.add_user(c, "Amy"))
        store.write(lambda c: store.sealer.user_key(c, amy, create=True))  # sealed data now exists
    (paths.keys / "data.key").unlink()
    with pytest.raises(KeyFileError, match=r"data\.key"):
        Store.open(paths)
    done = cli("--data-dir", str(paths.root), "users", "list")
    assert done.status != 0 and "data.key" in done.err and "Traceback" not in done.err
    assert not (paths.keys / "data.key").exists()  # no new key was made


def test_a_data_key_replaced_by_another_is_refused(tmp_path: Path) -> None:
    paths = Paths(tmp_path / "data")
    with Store.open(paths) as store:
        amy = store.write(lambda c: users.add_user(c, "Amy"))
        store.write(lambda c: store.sealer.user_key(c, amy, create=True))
    (paths.keys / "data.key").write_bytes(b"\x01" * 32)
    with pytest.raises(KeyFileError, match="does not match"):
        Store.open(paths)


def test_a_fresh_data_folder_still_gets_its_keys(tmp_path: Path) -> None:
    paths = Paths(tmp_path / "data")
    with Store.open(paths):
        assert (paths.keys / "data.key").exists()
    with Store.open(paths):
        pass


def test_a_data_key_deleted_while_the_door_runs_stops_it(tmp_path: Path) -> None:
    """Noticed at the next health check (once a second): the run ends with an error naming the
    key, and no new key is made."""
    import threading
    from dataclasses import replace

    from firmware import service
    from firmware.errors import StoreError
    from tests.loop.test_run_e2e import NOFACE

    config = Config(data_dir=tmp_path / "data")
    config = replace(config, camera=replace(config.camera, fps=10.0))
    with Store.open(config.paths) as store:
        amy = store.write(lambda c: users.add_user(c, "Amy"))
        store.write(lambda c: store.sealer.user_key(c, amy, create=True))
    replay = tmp_path / "replay"
    replay.mkdir()
    for i in range(300):  # thirty seconds of an empty doorway
        (replay / f"{i:03d}.jpg").write_bytes(NOFACE[i % len(NOFACE)].read_bytes())
    timer = threading.Timer(2.0, (config.paths.keys / "data.key").unlink)
    timer.start()
    try:
        with pytest.raises(StoreError, match=r"data\.key"):
            service.run(config, f"replay:{replay}", gpio="mock")
    finally:
        timer.cancel()
    assert not (config.paths.keys / "data.key").exists()

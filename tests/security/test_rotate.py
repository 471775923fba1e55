"""``occur keys rotate``: everything still opens under the new key, nothing opens under the old one,
and an interrupted rotation is finished or undone."""

from __future__ import annotations

import json
import shutil
from dataclasses import replace
from pathlib import Path

from firmware import service
from firmware.config import Config, Paths
from firmware.crypto.keys import Keys
from firmware.store.sealing import Sealer
from tests.conftest import SHARED, Cli, assert_enrolled, query

FACES = SHARED / "data" / "faces"


def identify(cli: Cli, data: Path, path: Path) -> str | None:
    doc = json.loads(cli("--data-dir", str(data), "identify", str(path), "--json").out)
    return doc["images"][0]["faces"][0]["name"]


def test_rotation_keeps_everything_readable_and_retires_the_old_key(cli: Cli, tmp_path: Path) -> None:
    data = tmp_path / "data"
    photos = sorted((FACES / "amy").glob("*.jpg"))
    done = cli("--data-dir", str(data), "enroll", "amy", *map(str, photos[1:]), "--consent-by", "hr", "--json")
    assert_enrolled(done.status, done.out, minimum=2)
    raj = str(sorted((FACES / "raj").glob("*.jpg"))[0])
    assert cli("--data-dir", str(data), "enroll", "raj", raj, "--consent-by", "hr").status == 0  # two: see door point
    config = replace(Config(data_dir=data), camera=replace(Config().camera, fps=0.0))
    replay = tmp_path / "r"
    replay.mkdir()
    for i in range(6):
        shutil.copy(FACES / "howard" / "howard1.jpg", replay / f"{i}.jpg")
    service.run(config, f"replay:{replay}", gpio="mock", until_end=True)  # a stranger, snapshots
    old_key = (data / "keys" / "data.key").read_bytes()
    result = cli("--data-dir", str(data), "keys", "rotate", "--json")
    assert result.status == 0, result.err
    report = json.loads(result.out)
    assert report["user_keys"] == 2 and report["stranger_templates"] >= 1 and report["pictures"] == 2
    assert (data / "keys" / "data.key").read_bytes() != old_key and not (data / "keys" / "data.key.next").exists()
    assert identify(cli, data, photos[0]) == "amy"  # templates still open
    assert cli("--data-dir", str(data), "audit", "verify").status == 0
    assert cli("--data-dir", str(data), "snapshots", "export", str(tmp_path / "x"), "--unknown-faces").status == 0
    # the stranger is still recognised as the same stranger
    service.run(config, f"replay:{replay}", gpio="mock", until_end=True)
    assert query(Paths(data), "SELECT seen_count FROM unknown_faces") == [(2,)]
    # the old key opens nothing any more
    stale = Sealer(Keys(data / "keys", old_key))
    wrapped = query(Paths(data), "SELECT user_id, vector, dim, model FROM face_encodings LIMIT 1")[0]
    from firmware.store.store import Store

    with Store.open(Paths(data)) as store, store.reader() as conn:
        try:
            stale.user_key(conn, int(wrapped[0]), create=False)
            opened = True
        except Exception:
            opened = False
    assert not opened
    kinds = [e["event_type"] for e in json.loads(cli("--data-dir", str(data), "audit", "list", "--json").out)]
    assert "key_rotation" in kinds


def test_an_interrupted_rotation_blocks_then_is_undone(cli: Cli, tmp_path: Path) -> None:
    data = tmp_path / "data"
    assert cli("--data-dir", str(data), "users", "add", "Ada").status == 0
    assert cli("--data-dir", str(data), "audit", "checkpoint").status == 0  # makes the keys
    before = (data / "keys" / "data.key").read_bytes()
    (data / "keys" / "data.key.next").write_bytes(b"\x01" * 32)
    (data / "keys" / "data.key.next").chmod(0o600)
    blocked = cli("--data-dir", str(data), "users", "remove", "Ada")
    assert blocked.status != 0 and "rotation was interrupted" in blocked.err
    resumed = cli("--data-dir", str(data), "keys", "rotate", "--resume")
    assert resumed.status == 0 and "rotation undone" in resumed.out
    assert (data / "keys" / "data.key").read_bytes() == before
    assert cli("--data-dir", str(data), "users", "remove", "Ada").status == 0

"""Moving a door to new hardware: a backup restored on a replacement device cannot open its
people's templates, and says so (naming them) before anything changes; an operator-sealed
migration export carries what is needed, is never kept in the backup rotation, and brings
recognition and a verifiable secure log back on the new device."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from firmware.config import Paths
from firmware.store.store import Store
from tests.backup.test_archive import FACES, identify, setup
from tests.conftest import Cli, query


def enrol(cli: Cli, toml: str, data: Path, who: str) -> None:
    photos = [str(p) for p in sorted((FACES / who).glob("*.jpg"))][1:]
    done = cli("--config", toml, "--data-dir", str(data), "enroll", who, *photos, "--consent-by", "hr", "--json")
    assert done.status in (0, 1) and json.loads(done.out)["accepted"], done.err


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_a_backup_restored_on_a_replacement_device_names_who_must_enrol_again(cli: Cli, tmp_path: Path) -> None:
    toml, key, old = setup(tmp_path)
    enrol(cli, toml, old, "amy")
    enrol(cli, toml, old, "raj")
    assert cli("--config", toml, "--data-dir", str(old), "backup", "create").status == 0
    archive = next((old / "backups").glob("*.occbak"))
    new = tmp_path / "new-device"
    Store.open(Paths(new)).close()  # a provisioned replacement: its own keys, an empty database
    before = digest(new / "occur.db")

    refused = cli("--config", toml, "--data-dir", str(new), "backup", "restore", str(archive), "--key", str(key))
    assert refused.status == 7, refused.err
    assert "amy" in refused.err and "raj" in refused.err and "enrol" in refused.err
    assert "migration" in refused.err  # names the supported path
    assert digest(new / "occur.db") == before  # nothing changed

    accepted = cli(
        "--config", toml, "--data-dir", str(new), "backup", "restore", str(archive), "--key", str(key),
        "--allow-reenrolment",
    )  # fmt: skip
    assert accepted.status == 0, accepted.err
    assert "amy" in accepted.out and "raj" in accepted.out and "enrol" in accepted.out
    assert sorted(r[0] for r in query(Paths(new), "SELECT name FROM users")) == ["amy", "raj"]
    assert identify(cli, new, "amy") is None
    assert cli("--data-dir", str(new), "audit", "verify").status == 0  # the old device's log is not left half-valid


def test_a_migration_export_moves_the_door_to_new_hardware(cli: Cli, tmp_path: Path) -> None:
    toml, key, old = setup(tmp_path)
    enrol(cli, toml, old, "amy")
    enrol(cli, toml, old, "raj")  # the door names nobody with one person enrolled
    export = tmp_path / "transfer" / "front-door.occmig"
    done = cli("--config", toml, "--data-dir", str(old), "backup", "migration-export", str(export))
    assert done.status == 0, done.err
    assert export.exists() and b"amy" not in export.read_bytes()  # sealed to the operator
    assert not list((old / "backups").glob("*.occmig"))  # never in the rotation (nor pushed)
    listed = cli("--data-dir", str(old), "backup", "list", "--json")
    assert all(not b["path"].endswith(".occmig") for b in json.loads(listed.out))
    audit = json.loads(cli("--data-dir", str(old), "audit", "list", "--json").out)
    assert any(e["event_type"] == "migration_export" for e in audit)

    new = tmp_path / "new-device"
    Store.open(Paths(new)).close()
    restored = cli("--config", toml, "--data-dir", str(new), "backup", "restore", str(export), "--key", str(key))
    assert restored.status == 0, restored.err
    assert identify(cli, new, "amy") == "amy"
    assert (new / "keys" / "data.key").read_bytes() != (old / "keys" / "data.key").read_bytes()
    verified = cli("--data-dir", str(new), "audit", "verify")
    assert verified.status == 0, verified.err
    entries = json.loads(cli("--data-dir", str(new), "audit", "list", "--json").out)
    assert any(e["event_type"] == "enrolment" for e in entries)  # the old device's log came along, re-sealed
    assert any(e["event_type"] == "device_migration" for e in entries)

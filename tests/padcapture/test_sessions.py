"""The capture protocol: ``occur pad record`` stores consented sessions sealed on the device,
``occur pad report`` computes APCER per species (and the worst) and BPCER from them."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from firmware.config import Paths
from firmware.store.sealing import MAGIC
from tests.conftest import SHARED, Cli, query

PHOTO = sorted((SHARED / "data" / "faces" / "amy").glob("*.jpg"))[0]


def still(folder: Path, frames: int) -> str:
    """A replay of one still photo: what a print held perfectly still, or a person who does not move, shows."""
    folder.mkdir()
    for i in range(frames):
        shutil.copy(PHOTO, folder / f"{i:04d}.jpg")
    return f"replay:{folder}"


def test_sessions_are_recorded_sealed_and_reported(cli: Cli, tmp_path: Path) -> None:
    data = str(tmp_path / "data")
    assert cli("--data-dir", data, "db", "migrate").status == 0  # a provisioned door: database and keys exist
    source = still(tmp_path / "still", 12)
    base = ("--data-dir", data, "pad", "record", "--source", source)
    refused = cli(*base, "--species", "bona_fide", "--subject", "s1")
    assert refused.status == 2 and "consent is required" in refused.err
    assert not (tmp_path / "data" / "pad").exists()
    assert cli(*base, "--species", "bona_fide", "--subject", "s1", "--consent-by", "hr").status == 0
    assert (
        cli(*base, "--species", "print", "--subject", "s1", "--consent-by", "hr", "--instrument", "inkjet A4").status
        == 0
    )
    long = still(tmp_path / "long", 45)
    shown = cli("--data-dir", data, "pad", "record", "--source", long, "--species", "bona_fide", "--subject", "s2",
                "--consent-by", "hr", "--challenge", "--gpio", "mock", "--json")  # fmt: skip
    assert shown.status == 0, shown.err
    session = json.loads(shown.out)
    assert session["challenge"]["kind"] in ("turn", "blink") and 1.0 <= session["challenge"]["shown_at"] <= 2.1

    paths = Paths(tmp_path / "data")
    folders = [Path(r[0]) for r in query(paths, "SELECT folder FROM pad_sessions ORDER BY id")]
    files = sorted((paths.root / folders[0]).iterdir())
    assert len(files) == 13  # 12 frames and their times
    assert all(f.read_bytes().startswith(MAGIC) for f in files)  # sealed: no viewable picture on disk
    assert query(paths, "SELECT species, subject, consent_by, frames FROM pad_sessions ORDER BY id") == [
        ("bona_fide", "s1", "hr", 12),
        ("print", "s1", "hr", 12),
        ("bona_fide", "s2", "hr", 45),
    ]

    result = cli("--data-dir", data, "pad", "report", "--json")
    assert result.status == 0, result.err
    report = json.loads(result.out)
    deny, live, challenge = (report["policies"][p] for p in ("deny_attacks", "require_live", "challenge"))
    # a still print is not stopped by deny_attacks, and a still person is not proven live
    assert deny["apcer"]["print"]["errors"] == 1 and deny["apcer"]["print"]["presentations"] == 1
    assert deny["apcer_worst"]["species"] == "print" and deny["apcer_worst"]["value"] == 1.0
    assert deny["bpcer"] == {"errors": 0, "presentations": 2, "value": 0.0, "upper_95": deny["bpcer"]["upper_95"]}
    assert 0.77 < deny["bpcer"]["upper_95"] < 0.78  # two sessions prove little, and the bound says so
    assert live["apcer"]["print"]["errors"] == 0 and live["bpcer"]["errors"] == 2
    assert challenge["bpcer"]["presentations"] == 1 and challenge["bpcer"]["errors"] == 1  # only s2 had one
    assert "print" not in challenge["apcer"]

    table = cli("--data-dir", data, "pad", "report")
    assert "APCER worst (print)" in table.out and "BPCER" in table.out

    assert cli("--data-dir", data, "pad", "delete", "2").status == 0
    assert not (paths.root / folders[1]).exists()
    assert [r[0] for r in query(paths, "SELECT id FROM pad_sessions ORDER BY id")] == [1, 3]
    assert cli("--data-dir", data, "pad", "delete", "2").status == 6
    logged = query(paths, "SELECT count(*) FROM secure_log")[0][0]
    assert logged >= 4  # three recordings and one erasure, plus the consent checks' own entries


def test_unknown_species_and_names_as_subjects_are_refused(cli: Cli, tmp_path: Path) -> None:
    source = still(tmp_path / "still", 3)
    assert cli("--data-dir", str(tmp_path / "data"), "db", "migrate").status == 0
    bad = cli("--data-dir", str(tmp_path / "data"), "pad", "record", "--source", source, "--species", "poster",
              "--subject", "s1", "--consent-by", "hr")  # fmt: skip
    assert bad.status == 2 and "species 'poster' is not one of" in bad.err
    assert not any((tmp_path / "data" / "pad").glob("*"))


def test_sessions_stay_readable_after_a_key_rotation(cli: Cli, tmp_path: Path) -> None:
    data = str(tmp_path / "data")
    assert cli("--data-dir", data, "db", "migrate").status == 0
    source = still(tmp_path / "still", 5)
    assert cli("--data-dir", data, "pad", "record", "--source", source, "--species", "phone", "--subject", "s1",
               "--consent-by", "hr").status == 0  # fmt: skip
    frame = next((tmp_path / "data" / "pad").rglob("frame_00000.jpg"))
    before = frame.read_bytes()
    rotated = cli("--data-dir", data, "keys", "rotate")
    assert rotated.status == 0, rotated.err
    assert frame.read_bytes() != before  # re-sealed under the new key
    result = cli("--data-dir", data, "pad", "report", "--json")
    assert result.status == 0, result.err
    assert json.loads(result.out)["policies"]["deny_attacks"]["apcer"]["phone"]["presentations"] == 1

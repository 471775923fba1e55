"""Enrolment, identification and verification through the CLI, on real photos and real models."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest

from firmware.config import Paths, VisionConfig
from firmware.imaging.image import decode_image, read_image
from firmware.recognition.recogniser import Recogniser
from firmware.store.store import Store
from firmware.vision.engine import FaceEngine
from tests.conftest import SHARED, Cli, query

FACES = SHARED / "data" / "faces"


def photos(who: str) -> list[str]:
    return [str(p) for p in sorted((FACES / who).glob("*.jpg"))]


@pytest.fixture
def data(tmp_path: Path) -> Path:
    return tmp_path / "data"


def enrol(cli: Cli, data: Path, name: str, *images: str) -> dict[str, object]:
    result = cli("--data-dir", str(data), "enroll", "--consent-by", "reception", name, *images, "--json")
    assert result.status in (0, 1), result.err
    return dict(json.loads(result.out))


def test_enrolment_stores_samples_chips_and_one_encoding_per_model(cli: Cli, data: Path) -> None:
    report = enrol(cli, data, "Amy Farrah", *photos("amy"), "--email", "amy@example.org", "--role", "staff")
    assert report["created"] is True and len(report["accepted"]) == 5 and report["rejected"] == {}
    paths = Paths(data)
    rows = query(paths, "SELECT model, count(*), min(dim), max(dim) FROM face_encodings GROUP BY model ORDER BY model")
    assert rows == [("dlib", 5, 128, 128), ("sface", 5, 128, 128)]
    samples = query(paths, "SELECT chip_path, keypoints FROM face_samples ORDER BY id")
    assert len(samples) == 5
    for chip_path, keypoints in samples:
        assert re.fullmatch(r"face_db/user_001/sample_\d{8}_\d{6}(_\d+)?\.jpg", str(chip_path))
        body = (data / str(chip_path)).read_bytes()
        assert not body.startswith(b"\xff\xd8")  # not a JPEG on disk: sealed under Amy's key
        with Store.open(paths) as store, store.reader() as conn:
            jpeg = store.sealer.open_user_blob(conn, 1, "chip", body)
        assert jpeg is not None and decode_image(jpeg).shape == (224, 224, 3)
        assert (data / str(chip_path)).stat().st_mode & 0o777 == 0o600
        assert len(json.loads(str(keypoints))) == 6
    assert query(paths, "SELECT name, email, role FROM users") == [("Amy Farrah", "amy@example.org", "staff")]


def test_a_second_enrolment_adds_samples_to_the_same_user(cli: Cli, data: Path) -> None:
    enrol(cli, data, "Raj", *photos("raj")[:2])
    report = enrol(cli, data, "Raj", *photos("raj")[2:])
    assert report["created"] is False and report["user_id"] == 1
    assert query(Paths(data), "SELECT count(*) FROM face_samples WHERE user_id = 1") == [(5,)]


def test_bad_images_are_rejected_with_reasons_and_nothing_from_them_is_stored(
    cli: Cli, data: Path, tmp_path: Path
) -> None:
    corrupt = tmp_path / "corrupt.jpg"
    corrupt.write_bytes((FACES / "amy" / "amy1.jpg").read_bytes()[:600])
    text = tmp_path / "notes.jpg"
    text.write_text("not an image")
    group = str(FACES / "group" / "faceapi_bbt4.jpg")
    noface = str(FACES / "noface" / "compreface_landscape.jpg")
    result = cli(
        "--data-dir",
        str(data),
        "enroll",
        "--consent-by",
        "reception",
        "Howard",
        photos("howard")[0],
        str(corrupt),
        str(text),
        group,
        noface,
    )
    assert result.status == 1
    assert "created user 1 (Howard): 1 sample(s) enrolled" in result.out
    assert re.search(r"rejected .*corrupt\.jpg: .*not a decodable image", result.err)
    assert re.search(r"rejected .*notes\.jpg: .*not a decodable image", result.err)
    assert re.search(
        r"rejected .*faceapi_bbt4\.jpg: \d faces found; an enrolment photo must show one person", result.err
    )
    assert re.search(r"rejected .*compreface_landscape\.jpg: no face found", result.err)
    assert query(Paths(data), "SELECT count(*) FROM face_samples") == [(1,)]
    assert len(list((data / "face_db" / "user_001").iterdir())) == 1


def test_when_no_image_is_usable_no_user_is_created(cli: Cli, data: Path) -> None:
    result = cli(
        "--data-dir",
        str(data),
        "enroll",
        "--consent-by",
        "reception",
        "Nobody",
        str(FACES / "noface" / "faceapi_white.jpg"),
    )
    assert result.status == 2 and "no usable face in any image; nothing enrolled" in result.err
    assert query(Paths(data), "SELECT count(*) FROM users") == [(0,)]


def test_identify_names_enrolled_people_and_leaves_strangers_unknown(cli: Cli, data: Path) -> None:
    enrol(cli, data, "Amy", *photos("amy")[1:])
    enrol(cli, data, "Raj", *photos("raj")[1:])
    result = cli("--data-dir", str(data), "identify", photos("amy")[0], photos("raj")[0], photos("penny")[0], "--json")
    assert result.status == 0, result.err
    images = json.loads(result.out)["images"]
    decisions = [(i["faces"][0]["name"], i["faces"][0]["decision"]) for i in images]
    assert decisions == [("Amy", "match"), ("Raj", "match"), (None, "unknown")]
    amy = images[0]["faces"][0]
    assert set(amy["distances"]) == {"sface", "dlib"} and amy["margin"] > 0.05 and len(amy["box"]) == 4


def test_identify_reports_a_corrupt_image_and_carries_on(cli: Cli, data: Path, tmp_path: Path) -> None:
    bad = tmp_path / "bad.png"
    bad.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 40)
    assert cli("--data-dir", str(data), "db", "migrate").status == 0  # identify reads and audits; it creates nothing
    result = cli("--data-dir", str(data), "identify", str(bad), photos("amy")[0])
    assert result.status == 1
    assert "bad.png: not a decodable image" in result.err and "amy1.jpg" in result.out


def test_verify_exits_0_for_the_person_and_1_otherwise(cli: Cli, data: Path) -> None:
    enrol(cli, data, "Sheldon", *photos("sheldon")[1:])
    same = cli("--data-dir", str(data), "verify", "Sheldon", photos("sheldon")[0])
    assert same.status == 0 and same.out.startswith("same person: Sheldon, score")
    other = cli("--data-dir", str(data), "verify", "Sheldon", photos("leonard")[0])
    assert other.status == 1 and other.out.startswith("different person")
    noface = cli("--data-dir", str(data), "verify", "Sheldon", str(FACES / "noface" / "faceapi_white.jpg"))
    assert noface.status == 1 and "no face found" in noface.out
    missing = cli("--data-dir", str(data), "verify", "Penny", photos("penny")[0])
    assert missing.status == 6


def test_embed_writes_the_largest_face_per_image_and_lists_the_rest(cli: Cli, tmp_path: Path) -> None:
    out = tmp_path / "e.npz"
    images = [photos("amy")[0], str(FACES / "noface" / "faceapi_white.jpg")]
    result = cli("embed", "--out", str(out), *images)
    assert result.status == 0 and f"left out {images[1]}: no face found" in result.err
    saved = np.load(out)
    assert list(saved.keys()) == [images[0]] and saved[images[0]].shape == (128,)
    sface = cli("embed", "--out", str(out), "--model", "sface", images[0])
    assert sface.status == 0 and abs(float(np.linalg.norm(np.load(out)[images[0]])) - 1) < 1e-5


def test_eval_pairs_decides_and_reports_rates(cli: Cli, tmp_path: Path) -> None:
    a, b = photos("john_savage")[:2]
    pairs = tmp_path / "pairs.tsv"
    pairs.write_text(
        f"{a}\t{b}\t1\n{a}\t{photos('john_simm')[0]}\t0\n{a}\t{FACES / 'noface' / 'faceapi_white.jpg'}\t0\n"
    )
    result = cli("eval-pairs", str(pairs), "--json")
    assert result.status == 0, result.err
    doc = json.loads(result.out)
    assert [p["decision"] for p in doc["pairs"]] == ["same", "different", "different"]
    assert doc["pairs"][2]["distance"] is None and "no face" in doc["pairs"][2]["note"]
    assert doc["summary"]["accuracy"] == 1.0 and doc["summary"]["genuine"] == 1
    bad = tmp_path / "bad.tsv"
    bad.write_text(f"{a} {b}\n")
    assert cli("eval-pairs", str(bad)).status == 2


def test_a_running_recogniser_sees_new_enrolments_without_restart(cli: Cli, data: Path) -> None:
    engine = FaceEngine.load(VisionConfig().for_photos())
    store = Store.open(Paths(data))
    try:
        recogniser = Recogniser(store, engine)
        probe = read_image(Path(photos("stuart")[0]))
        assert recogniser.identify(probe)[0].match.decision == "unknown"
        accepted = len(enrol(cli, data, "Stuart", *photos("stuart")[1:])["accepted"])  # through another store
        assert recogniser.identify(probe)[0].name is None  # one person: the door names nobody
        for who in ("raj", "howard"):
            enrol(cli, data, who, photos(who)[0])
        found = recogniser.identify(probe)[0]
        assert found.match.decision == "match" and found.name == "Stuart"
        listed = json.loads(cli("--data-dir", str(data), "users", "list", "--json").out)
        assert accepted >= 2 and listed[0]["encodings"] == {"dlib": accepted, "sface": accepted}
        removed = cli("--data-dir", str(data), "users", "remove", "Stuart")
        assert removed.status == 0 and f"{accepted} face sample image(s) deleted" in removed.out
        assert recogniser.identify(probe)[0].match.decision == "unknown"
        assert not (data / "face_db" / "user_001").exists()
        assert query(Paths(data), "SELECT count(*) FROM face_encodings WHERE user_id = 1") == [(0,)]
        assert query(Paths(data), "SELECT count(*) FROM face_samples WHERE user_id = 1") == [(0,)]
    finally:
        store.close()


def test_reembed_rebuilds_encodings_for_a_new_or_updated_model(cli: Cli, data: Path, tmp_path: Path) -> None:
    sface_only = tmp_path / "sface.toml"
    sface_only.write_text('[vision]\nmodels = ["sface"]\n')
    result = cli(
        "--config",
        str(sface_only),
        "--data-dir",
        str(data),
        "enroll",
        "--consent-by",
        "reception",
        "Penny",
        *photos("penny")[1:],
    )
    assert result.status in (0, 1), result.err
    paths = Paths(data)
    assert query(paths, "SELECT DISTINCT model FROM face_encodings") == [("sface",)]
    enrol(cli, data, "Raj", photos("raj")[0])  # a second person, with both models
    penny = query(paths, "SELECT count(*) FROM face_samples WHERE user_id = 1")[0][0]
    probe = photos("penny")[0]
    # the fused door needs dlib encodings too: until re-embedded, Penny is not recognised
    assert (
        json.loads(cli("--data-dir", str(data), "identify", probe, "--json").out)["images"][0]["faces"][0]["decision"]
        == "unknown"
    )
    first = cli("--data-dir", str(data), "reembed", "--json")
    assert first.status == 0, first.err
    samples = query(paths, "SELECT count(*) FROM face_samples")[0][0]
    assert json.loads(first.out)["embedded"] == {"sface": 0, "dlib": penny}
    found = json.loads(cli("--data-dir", str(data), "identify", probe, "--json").out)["images"][0]["faces"][0]
    assert (found["name"], found["decision"]) == ("Penny", "match")
    # an updated sface file: old vectors are ignored by the door until re-embedded
    with Store.open(paths) as store:
        store.write(lambda c: c.execute("UPDATE face_encodings SET model_sha256 = 'old' WHERE model = 'sface'"))
    stale = json.loads(cli("--data-dir", str(data), "identify", probe, "--json").out)["images"][0]["faces"][0]
    assert stale["decision"] == "unknown"
    again = json.loads(cli("--data-dir", str(data), "reembed", "--json").out)
    assert again["embedded"] == {"sface": samples, "dlib": 0}
    assert query(paths, "SELECT count(*) FROM face_encodings WHERE model_sha256 = 'old'") == [(0,)]
    found = json.loads(cli("--data-dir", str(data), "identify", probe, "--json").out)["images"][0]["faces"][0]
    assert found["decision"] == "match"


def test_enrolment_needs_recorded_consent(cli: Cli, data: Path, tmp_path: Path) -> None:
    refused = cli("--data-dir", str(data), "enroll", "Amy", photos("amy")[0])
    assert refused.status == 2 and "consent is required" in refused.err
    assert not (data / "occur.db").exists() or query(Paths(data), "SELECT count(*) FROM users") == [(0,)]
    enrol(cli, data, "Amy", photos("amy")[0])
    assert query(Paths(data), "SELECT user_id, given_by, text_version FROM consents") == [(1, "reception", "v1")]
    elsewhere = tmp_path / "elsewhere.toml"
    elsewhere.write_text('[privacy]\nconsent = "collected_elsewhere"\nconsent_text_version = "2026-11"\n')
    ok = cli("--config", str(elsewhere), "--data-dir", str(data), "enroll", "Raj", photos("raj")[0])
    assert ok.status == 0, ok.err
    assert query(Paths(data), "SELECT given_by, text_version FROM consents WHERE user_id = 2") == [
        ("collected elsewhere", "2026-11")
    ]
    logged = json.loads(cli("--data-dir", str(data), "audit", "list", "--json").out)
    assert [e["event_type"] for e in logged].count("consent") == 2


def test_when_every_photo_fails_each_reason_is_printed(cli: Cli, data: Path, tmp_path: Path) -> None:
    """Not one line hiding them all: a missing file, a file that is not an image, a photo without
    a face and one whose face is turned away each get their own reason, then one error line."""
    strict = tmp_path / "strict.toml"
    strict.write_text("[vision]\nmax_yaw_deg = 0.01\n")  # every real face is a little turned
    text = tmp_path / "notes.jpg"
    text.write_text("not an image")
    missing = tmp_path / "gone.jpg"
    noface = FACES / "noface" / "compreface_landscape.jpg"
    turned = photos("amy")[0]
    result = cli(
        "--config", str(strict), "--data-dir", str(data), "enroll", "--consent-by", "reception", "Amy",
        str(missing), str(text), str(noface), turned,
    )  # fmt: skip
    assert result.status == 2
    lines = result.err.splitlines()
    assert lines[-1].startswith("occur: error:") and "nothing enrolled" in lines[-1]
    reasons = {line.split(": ", 1)[0].removeprefix("rejected "): line for line in lines[:-1]}
    assert "No such file" in reasons[str(missing)]
    assert "not a decodable image" in reasons[str(text)]
    assert "no face found" in reasons[str(noface)]
    assert "face turned away" in reasons[turned]
    assert not (data / "occur.db").exists() or query(Paths(data), "SELECT count(*) FROM users") == [(0,)]


def test_identify_shows_why_a_face_is_low_quality(cli: Cli, data: Path, tmp_path: Path) -> None:
    strict = tmp_path / "strict.toml"
    strict.write_text("[vision]\nmax_yaw_deg = 0.01\n")
    assert cli("--data-dir", str(data), "db", "migrate").status == 0  # identify reads an existing gallery
    result = cli("--config", str(strict), "--data-dir", str(data), "identify", photos("amy")[0])
    assert result.status == 0, result.err
    row = next(line for line in result.out.splitlines() if "low_quality" in line)
    assert "face turned away" in row

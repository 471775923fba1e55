"""``occur users forget``: no byte of the person's template or face pictures stays anywhere."""

from __future__ import annotations

import json
from pathlib import Path

from firmware.config import Paths
from firmware.store import encodings
from firmware.store.store import Store
from tests.conftest import SHARED, Cli, query

FACES = SHARED / "data" / "faces"


def every_file_bytes(root: Path) -> bytes:
    return b"".join(p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file())


def test_forget_leaves_no_template_or_picture_bytes(cli: Cli, tmp_path: Path) -> None:
    d = tmp_path / "data"
    photos = [str(p) for p in sorted((FACES / "amy").glob("*.jpg"))]
    assert cli("--data-dir", str(d), "enroll", "--consent-by", "reception", "Amy", *photos[1:]).status in (0, 1)
    assert cli(
        "--data-dir",
        str(d),
        "enroll",
        "--consent-by",
        "reception",
        "Raj",
        *[str(p) for p in sorted((FACES / "raj").glob("*.jpg"))][1:],
    ).status in (0, 1)
    assert cli("--data-dir", str(d), "attendance", "mark", "Amy").status == 0
    paths = Paths(d)
    with Store.open(paths) as store, store.reader() as conn:
        sealer = store.sealer
        amy_vectors = encodings.encodings_of(conn, 1, "sface", sealer=sealer) + encodings.encodings_of(
            conn, 1, "dlib", sealer=sealer
        )
        raj_vectors = encodings.encodings_of(conn, 2, "sface", sealer=sealer)
    amy_sealed = [bytes(r[0]) for r in query(paths, "SELECT vector FROM face_encodings WHERE user_id = 1")]
    raj_sealed = [bytes(r[0]) for r in query(paths, "SELECT vector FROM face_encodings WHERE user_id = 2")]
    chips = [p.read_bytes() for p in (d / "face_db" / "user_001").iterdir()]
    before = every_file_bytes(d)
    assert len(amy_vectors) == len(amy_sealed) > 0 and raj_vectors
    assert not any(v.tobytes() in before for v in amy_vectors + raj_vectors)  # templates never stored in the clear
    assert all(s in before for s in amy_sealed)  # the search does find what is stored
    assert all(c in before for c in chips)

    result = cli("--data-dir", str(d), "users", "forget", "Amy", "--json")
    assert result.status == 0, result.err
    receipt = json.loads(result.out)
    assert receipt["encodings"] == len(amy_sealed) and receipt["samples"] == len(chips)
    assert receipt["attendance_detached"] == 1 and receipt["pseudonym"].startswith("forgotten:")

    after = every_file_bytes(d)
    for vector in amy_vectors:
        raw = vector.tobytes()
        assert raw not in after
        assert raw[:64] not in after and raw[-64:] not in after
    for sealed in amy_sealed:
        assert sealed[12:76] not in after  # nor the sealed copies
    assert query(paths, "SELECT count(*) FROM user_keys WHERE user_id = 1") == [(0,)]  # key destroyed
    for chip in chips:  # compare picture data, not the JPEG header tables every chip shares
        middle = len(chip) // 2
        assert chip[middle : middle + 256] not in after
    assert all(s in after for s in raj_sealed)  # nobody else was touched
    assert not (d / "face_db" / "user_001").exists()
    assert query(paths, "SELECT count(*) FROM users WHERE name = 'Amy'") == [(0,)]
    assert query(paths, "SELECT user_id, snapshot_path FROM attendance_logs") == [(None, None)]
    audit = json.loads(cli("--data-dir", str(d), "audit", "list", "--json").out)
    erasure = [e for e in audit if e["event_type"] == "erasure"]
    assert len(erasure) == 1 and erasure[0]["user_id"] == receipt["pseudonym"]
    assert "Amy" not in json.dumps(erasure)
    assert cli("--data-dir", str(d), "audit", "verify").status == 0

"""``occur users forget``: no byte of the person's template or face pictures stays anywhere."""

from __future__ import annotations

import json
from pathlib import Path

from firmware.config import Paths
from firmware.store import encodings
from firmware.store.store import Store
from tests.conftest import SHARED, Cli, assert_enrolled, query

FACES = SHARED / "data" / "faces"


def every_file_bytes(root: Path) -> bytes:
    return b"".join(p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file())


def test_forget_leaves_no_template_or_picture_bytes(cli: Cli, tmp_path: Path) -> None:
    d = tmp_path / "data"
    photos = [str(p) for p in sorted((FACES / "amy").glob("*.jpg"))]
    for who, pictures in (("Amy", photos[1:]), ("Raj", [str(p) for p in sorted((FACES / "raj").glob("*.jpg"))][1:])):
        done = cli("--data-dir", str(d), "enroll", "--consent-by", "reception", who, *pictures, "--json")
        assert_enrolled(done.status, done.out, minimum=2)
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


def test_forget_after_a_legacy_import_leaves_no_copy_of_the_person(cli: Cli, tmp_path: Path) -> None:
    """The original's users row is kept verbatim in ``legacy_imports``: erasure must reach it, and
    a template the original stored as TEXT is never stored in the clear, in any column or copy."""
    import sqlite3
    import struct

    from tests.store.test_schema import DOCUMENTED_DDL

    blob = struct.pack("<128d", *[(i - 64) / 300 for i in range(128)])
    text = "[" + ", ".join(f"{(i - 64) / 301:.8f}" for i in range(128)) + "]"
    main = tmp_path / "occur_call.db"
    conn = sqlite3.connect(main)
    conn.execute(DOCUMENTED_DDL["users"])
    conn.execute(DOCUMENTED_DDL["attendance_logs"])
    conn.execute(
        "INSERT INTO users (id, name, email, role, face_encoding) VALUES (3, 'Zelda Quux', 'zelda@x.org', 'warden', ?)",
        (blob,),
    )
    conn.execute(
        "INSERT INTO users (id, name, email, role, face_encoding) VALUES (4, 'Yorick Text', NULL, NULL, ?)", (text,)
    )
    conn.execute("INSERT INTO attendance_logs (user_id, status, snapshot_path) VALUES (3, 'manual', NULL)")
    conn.commit()
    conn.close()
    d = tmp_path / "data"
    done = cli("--data-dir", str(d), "db", "import-legacy", "--main-db", str(main), "--legacy-tz", "UTC")
    assert done.status == 0, done.err
    imported = every_file_bytes(d)
    assert text.encode() not in imported and text[1:60].encode() not in imported  # TEXT template sealed too
    assert blob not in imported and blob[:64] not in imported
    assert query(Paths(d), "SELECT typeof(face_encoding) FROM users ORDER BY id") == [("blob",), ("blob",)]

    for who in ("Zelda Quux", "Yorick Text"):
        result = cli("--data-dir", str(d), "users", "forget", who, "--json")
        assert result.status == 0, result.err
    after = every_file_bytes(d)
    for personal in (b"Zelda Quux", b"zelda@x.org", b"warden", b"Yorick Text"):
        assert personal not in after, personal
    rows = query(Paths(d), "SELECT target_table, source_row FROM legacy_imports WHERE target_table = 'users'")
    assert len(rows) == 2 and all("forgotten:" in str(r[1]) for r in rows)  # pseudonymised, not deleted
    again = cli("--data-dir", str(d), "db", "import-legacy", "--main-db", str(main), "--json")
    assert again.status == 0 and sum(t["imported"] for t in json.loads(again.out)["tables"]) == 0  # stays erased
    assert query(Paths(d), "SELECT count(*) FROM users") == [(0,)]

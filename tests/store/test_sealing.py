"""Pictures sealed at rest: snapshots and strangers' pictures are not JPEG on disk, export decrypts,
an altered file is refused; a sealed template moved to another row does not open."""

from __future__ import annotations

import json
import shutil
from dataclasses import replace
from pathlib import Path

import numpy as np

from firmware import service
from firmware.config import Config, Paths
from firmware.crypto.keys import Keys
from firmware.imaging.image import decode_image
from firmware.store.sealing import Sealer
from firmware.store.store import Store
from tests.conftest import SHARED, Cli, assert_enrolled

FACES = SHARED / "data" / "faces"


def test_pictures_are_sealed_and_export_decrypts(cli: Cli, tmp_path: Path) -> None:
    config = Config(data_dir=tmp_path / "data")
    config = replace(config, camera=replace(config.camera, fps=0.0))
    replay = tmp_path / "r"
    replay.mkdir()
    for i in range(6):
        shutil.copy(FACES / "howard" / "howard1.jpg", replay / f"{i}.jpg")
    service.run(config, f"replay:{replay}", gpio="mock", until_end=True)
    pictures = list((tmp_path / "data" / "snapshots").rglob("*.jpg")) + list(
        (tmp_path / "data" / "unknown_faces").glob("*.jpg")
    )
    assert len(pictures) == 2 and not any(p.read_bytes().startswith(b"\xff\xd8") for p in pictures)
    out = tmp_path / "export"
    result = cli("--data-dir", str(tmp_path / "data"), "snapshots", "export", str(out), "--unknown-faces", "--json")
    assert result.status == 0, result.err
    written = json.loads(result.out)["written"]
    assert len(written) == 2
    for relative in written:
        assert decode_image((out / relative).read_bytes()).shape[2] == 3
    victim = pictures[0]
    body = bytearray(victim.read_bytes())
    body[-5] ^= 1
    victim.write_bytes(bytes(body))
    tampered = cli(
        "--data-dir", str(tmp_path / "data"), "snapshots", "export", str(tmp_path / "again"), "--unknown-faces"
    )
    assert tampered.status == 1 and "could not open" in tampered.err
    audit = json.loads(cli("--data-dir", str(tmp_path / "data"), "audit", "list", "--json").out)
    assert [e["event_type"] for e in audit].count("export") == 2


def test_a_sealed_template_does_not_open_for_another_user_or_model(tmp_path: Path) -> None:
    with Store.open(Paths(tmp_path / "data")) as store:
        from firmware.store import users

        a = store.write(lambda c: users.add_user(c, "A"))
        b = store.write(lambda c: users.add_user(c, "B"))
        sealer = Sealer(Keys(tmp_path / "data" / "keys"))
        vector = np.arange(128, dtype="<f4").tobytes()
        sealed = store.write(lambda c: sealer.seal_template(c, a, "sface", vector))
        with store.reader() as conn:
            opened = sealer.open_template(conn, a, "sface", sealed, 128)
            assert opened is not None and opened.tobytes() == vector
            assert sealer.open_template(conn, a, "dlib", sealed, 128) is None
            store.write(lambda c: sealer.user_key(c, b, create=True))
            assert sealer.open_template(conn, b, "sface", sealed, 128) is None


def test_a_flipped_byte_in_a_sealed_template_row_is_refused(tmp_path: Path, cli: Cli) -> None:
    from firmware.store import encodings

    data = tmp_path / "data"
    photos = sorted((FACES / "amy").glob("*.jpg"))
    done = cli("--data-dir", str(data), "enroll", "amy", *map(str, photos[1:3]), "--consent-by", "hr", "--json")
    assert_enrolled(done.status, done.out, minimum=2)  # both photos: the test counts two templates
    with Store.open(Paths(data)) as store:
        with store.reader() as conn:
            before = len(encodings.encodings_of(conn, 1, "sface", sealer=store.sealer))
        store.write(
            lambda c: c.execute(
                "UPDATE face_encodings SET vector = CAST(substr(vector, 1, 40) || x'ff' || substr(vector, 42) AS BLOB)"
                " WHERE id = (SELECT min(id) FROM face_encodings WHERE model = 'sface')"
            )
        )
        with store.reader() as conn:
            after = encodings.encodings_of(conn, 1, "sface", sealer=store.sealer)
    assert before == 2 and len(after) == 1  # the altered template no longer opens; the other still does

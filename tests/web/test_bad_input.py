"""Bad input to the console: uploads that are not photos, image bombs, huge forms, unknown ids,
concurrent edits of one person. Each gets a clear message, nothing half-stored, and the door
keeps deciding."""

from __future__ import annotations

import struct
import time
import urllib.parse
import zlib
from collections.abc import Iterator

import pytest

from tests.conftest import query
from tests.web.door import ADMIN, ADMIN_PW, FACES, Door, multipart, running_door

FORM = {"Content-Type": "application/x-www-form-urlencoded"}


@pytest.fixture(scope="module")
def door(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Door]:
    with running_door(tmp_path_factory.mktemp("bad-input-door"), max_upload_mb=2.0) as running:
        yield running


@pytest.fixture(scope="module")
def admin(door: Door) -> tuple[str, str]:
    return door.login(ADMIN, ADMIN_PW)


def png_bomb(width: int, height: int) -> bytes:
    """A valid PNG header claiming ``width`` x ``height``, with a tiny compressed body."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    chunk = struct.pack(">I", len(ihdr)) + b"IHDR" + ihdr + struct.pack(">I", zlib.crc32(b"IHDR" + ihdr))
    data = zlib.compress(b"\x00" * 65536)
    idat = struct.pack(">I", len(data)) + b"IDAT" + data + struct.pack(">I", zlib.crc32(b"IDAT" + data))
    return b"\x89PNG\r\n\x1a\n" + chunk + idat


def jpeg_bomb(width: int, height: int) -> bytes:
    """A JPEG start with a frame header claiming ``width`` x ``height``."""
    sof = b"\xff\xc0" + struct.pack(">HBHHB", 11, 8, height, width, 1) + b"\x01\x11\x00"
    return b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00" + sof + b"\xff\xd9"


def stored(door: Door) -> tuple[int, int, int]:
    paths = door.config.paths
    users = int(query(paths, "SELECT count(*) FROM users")[0][0])
    samples = int(query(paths, "SELECT count(*) FROM face_samples")[0][0])
    chips = sum(1 for p in paths.face_db.rglob("*") if p.is_file()) if paths.face_db.exists() else 0
    return users, samples, chips


def enrol(door: Door, admin: tuple[str, str], files: list[tuple[str, str, bytes]], path: str = "/people/enrol",
          **fields: str) -> tuple[int, str]:  # fmt: skip
    body, headers = multipart({"_csrf": admin[1], "consent_by": "desk", **fields}, files)
    status, _, page = door.request("POST", path, body, headers, admin[0])
    return status, page.decode()


def test_uploads_that_are_not_photos_and_image_bombs(door: Door, admin: tuple[str, str]) -> None:
    before = stored(door)
    status, page = enrol(door, admin, [
        ("photos", "notes.jpg", b"these are not the photos you are looking for"),
        ("photos", "empty.png", b""),
        ("photos", "bomb.png", png_bomb(30000, 30000)),
        ("photos", "long.png", png_bomb(1, 1_000_000)),
        ("photos", "bomb.jpg", jpeg_bomb(12000, 12000)),
        ("photos", "huge.png", png_bomb(8000, 8000)),
        ("photos", "truncated.jpg", (FACES / "raj" / "raj1.jpg").read_bytes()[:600]),
    ], name="raj")  # fmt: skip
    assert status == 400 and "Nothing was enrolled" in page
    assert "1. notes.jpg" in page and "not a JPEG or PNG photo" in page
    assert "30000x30000 pixels: no face photo has sides over 16384 px" in page
    assert "8000x8000 pixels (64 MP); a PNG may have at most 4 MP" in page
    assert "1x1000000 pixels: no face photo has sides over 16384 px" in page
    assert "12000x12000 pixels (144 MP); a JPEG may have at most 50 MP" in page
    assert "7. truncated.jpg" in page and "not a decodable photo" in page
    assert stored(door) == before


def test_a_huge_form_gets_a_clear_page(door: Door, admin: tuple[str, str]) -> None:
    before = stored(door)
    big = (FACES / "raj" / "raj1.jpg").read_bytes() + b"\x00" * (3 * 2**20)
    status, page = enrol(door, admin, [("photos", "raj1.jpg", big)], name="raj")
    assert status == 413 and "the most accepted is 2 MiB" in page and "nothing was stored" in page
    long_name = urllib.parse.urlencode({"_csrf": admin[1], "name": "x" * 5000, "consent_by": "desk"}).encode()
    status, _, body = door.request("POST", "/people/enrol", long_name, FORM, admin[0])
    assert status == 400 and b"name must be 1-200 printable characters" in body
    assert stored(door) == before


def test_unknown_ids_are_named(door: Door, admin: tuple[str, str]) -> None:
    cookie, csrf = admin
    status, _, page = door.request("GET", "/people/999999", cookie=cookie)
    assert status == 404 and b"no user 999999" in page
    for path, fields, message in (
        ("/people/999999/active", {"active": "0"}, b"no user 999999"),
        ("/strangers/424242/promote", {"name": "x", "consent_by": "desk"}, b"no stranger 424242"),
        ("/strangers/424242/dismiss", {}, b"no stranger 424242"),
        ("/attendance/777777/correct", {"at": "2026-01-01T10:00"}, b"no attendance record 777777"),
    ):
        body = urllib.parse.urlencode({"_csrf": csrf, **fields}).encode()
        status, _, page = door.request("POST", path, body, FORM, cookie)
        assert status == 404 and message in page, (path, page)
    status, _, page = door.request("GET", "/people/99999999999999999999999", cookie=cookie)
    assert status == 404


def test_concurrent_edits_of_one_person(door: Door, admin: tuple[str, str]) -> None:
    cookie, csrf = admin
    status, page = enrol(door, admin, [("photos", "raj1.jpg", (FACES / "raj" / "raj1.jpg").read_bytes())], name="raj")
    assert status == 200
    raj = int(query(door.config.paths, "SELECT id FROM users WHERE name = 'raj'")[0][0])
    _, _, first = door.request("GET", f"/people/{raj}", cookie=cookie)
    version = first.decode().split('name="version" value="')[1].split('"')[0]
    edit = {"_csrf": csrf, "version": version}
    status, _, _ = door.request("POST", f"/people/{raj}/role", urllib.parse.urlencode({**edit, "role": "night"}).encode(),
                                FORM, cookie)  # fmt: skip
    assert status == 303
    status, _, page = door.request("POST", f"/people/{raj}/active",
                                   urllib.parse.urlencode({**edit, "active": "0"}).encode(), FORM, cookie)  # fmt: skip
    assert status == 409 and b"was changed by someone else" in page and b"nothing was changed" in page
    assert query(door.config.paths, "SELECT count(*) FROM user_access WHERE user_id = ? AND active = 0", (raj,)) == [
        (0,)
    ]
    before = stored(door)
    status, page = enrol(door, admin, [("photos", "raj2.jpg", (FACES / "raj" / "raj2.jpg").read_bytes())],
                         f"/people/{raj}/enrol", version=version)  # fmt: skip
    assert status == 409 and stored(door) == before
    status, _, page = door.request("POST", f"/people/{raj}/forget",
                                   urllib.parse.urlencode({**edit, "confirm_name": "raj"}).encode(), FORM, cookie)  # fmt: skip
    assert status == 409
    assert query(door.config.paths, "SELECT role FROM users WHERE id = ?", (raj,)) == [("night",)]


def test_the_door_is_unaffected(door: Door) -> None:
    before = len(door.decisions)
    door.camera.visit(FACES / "raj" / "raj3.jpg")
    deadline = time.monotonic() + 30
    while len(door.decisions) == before and time.monotonic() < deadline:
        time.sleep(0.1)
    assert door.decisions[-1].name == "raj" and door.decisions[-1].granted


def test_pictures_never_touch_the_disk_in_the_clear(door: Door) -> None:
    uploaded = [(FACES / "raj" / n).read_bytes()[200:264] for n in ("raj1.jpg", "raj2.jpg")]
    files = [p for p in door.config.paths.root.rglob("*") if p.is_file()]
    assert any(p.is_relative_to(door.config.paths.face_db) for p in files)  # raj's chips are there, sealed
    for path in files:
        data = path.read_bytes()
        assert not data.startswith(b"\xff\xd8\xff"), path
        assert all(marker not in data for marker in uploaded), path

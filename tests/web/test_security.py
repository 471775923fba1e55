"""The console's protections, over real HTTPS against a running door: nothing without a login,
CSRF, roles, lock-out, throttling, picture URLs, expired sessions, cookie and cache headers."""

from __future__ import annotations

import time
import urllib.parse
from collections.abc import Iterator
from pathlib import Path

import pytest

from firmware.web.routes import routes
from tests.conftest import query
from tests.web.door import ADMIN, ADMIN_PW, FACES, VIEWER, VIEWER_PW, Door, running_door

FORM = {"Content-Type": "application/x-www-form-urlencoded"}


@pytest.fixture(scope="module")
def door(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Door]:
    with running_door(tmp_path_factory.mktemp("security-door"), login_rate_per_min=100) as running:
        yield running


def post(door: Door, path: str, fields: dict[str, str], cookie: str = "", **headers: str) -> tuple[int, str]:
    body = urllib.parse.urlencode(fields).encode()
    status, _, data = door.request("POST", path, body, {**FORM, **headers}, cookie)
    return status, data.decode()


def door_rows(door: Door) -> int:
    return int(query(door.config.paths, "SELECT count(*) FROM door_events")[0][0])


def example_path(pattern: str) -> str:
    return (
        pattern.replace(r"(?P<id>[0-9]{1,18})", "1").replace(r"(?P<user>[0-9]{1,18})", "1")
        .replace(r"(?P<kind>event|attendance|stranger)", "event").replace(r"(?P<kind>sample)", "sample")
        .replace(r"(?P<action>check|install|rollback)", "check").replace(r"(?P<name>[A-Za-z0-9_.@-]{1,64})", "x")
        .replace(r"(?P<action>unlock|password|remove)", "unlock").replace("\\", "")
    )  # fmt: skip


def test_nothing_without_a_login(door: Door) -> None:
    checked = 0
    for route in routes():
        if route.access in ("public", "api-public"):
            continue
        path = example_path(route.pattern)
        for method in route.methods:
            status, headers, body = door.request(method, path, b"" if method == "POST" else None, FORM)
            checked += 1
            if route.access.startswith("api:"):
                assert status == 401 and b"token" in body, (method, path, status)
            elif method == "GET" and not route.name.startswith(("picture", "still")):
                assert (status, headers["location"]) == (303, "/login?next=" + urllib.parse.quote(path)), path
            else:
                assert status == 401 and b"log in" in body, (method, path, status, body)
            assert b"alice" not in body and b"unlock now" not in body.lower()
    assert checked > 30
    assert door_rows(door) == 0


def test_a_form_without_its_csrf_token_is_refused(door: Door) -> None:
    cookie, csrf = door.login(ADMIN, ADMIN_PW)
    for fields in ({}, {"_csrf": "forged"}, {"_csrf": ""}):
        status, page = post(door, "/door/unlock", fields, cookie)
        assert status == 403 and "CSRF token" in page
    assert door_rows(door) == 0
    status, page = post(door, "/door/unlock", {"_csrf": csrf}, cookie, Origin="https://evil.example")
    assert status == 403 and "cross-origin" in page
    status, page = post(door, "/door/unlock", {"_csrf": csrf}, cookie, **{"Sec-Fetch-Site": "cross-site"})
    assert status == 403 and "cross-site" in page
    assert door_rows(door) == 0
    status, _ = post(door, "/door/unlock", {"_csrf": csrf}, cookie)
    assert status == 303
    assert query(door.config.paths, "SELECT outcome, reason FROM door_events") == [
        ("granted", f"web console unlock by {ADMIN}")
    ]


def test_a_viewer_cannot_unlock_or_enrol(door: Door) -> None:
    cookie, csrf = door.login(VIEWER, VIEWER_PW)
    before = door_rows(door)
    status, page = post(door, "/door/unlock", {"_csrf": csrf}, cookie)
    assert status == 403 and "viewer" in page
    photo = (FACES / "raj" / "raj1.jpg").read_bytes()
    boundary = "----occurtest"
    body = (
        (
            f'--{boundary}\r\nContent-Disposition: form-data; name="_csrf"\r\n\r\n{csrf}\r\n'
            f'--{boundary}\r\nContent-Disposition: form-data; name="name"\r\n\r\nraj\r\n'
            f'--{boundary}\r\nContent-Disposition: form-data; name="consent_by"\r\n\r\nme\r\n'
            f'--{boundary}\r\nContent-Disposition: form-data; name="photos"; filename="raj1.jpg"\r\n'
            "Content-Type: image/jpeg\r\n\r\n"
        ).encode()
        + photo
        + f"\r\n--{boundary}--\r\n".encode()
    )
    status, _, data = door.request(
        "POST", "/people/enrol", body, {"Content-Type": f"multipart/form-data; boundary={boundary}"}, cookie
    )
    assert status == 403 and b"viewer" in data
    assert door_rows(door) == before
    assert query(door.config.paths, "SELECT count(*) FROM users") == [(0,)]
    status, _, page = door.request("GET", "/", cookie=cookie)
    assert status == 200 and b'id="unlock"' not in page  # the viewer's dashboard has no unlock button


def test_five_wrong_passwords_lock_the_account(door: Door) -> None:
    from firmware.security import accounts
    from firmware.store.store import Store

    with Store.open(door.config.paths) as store:
        accounts.create(store, "mallory", "viewer", "mallory password", "test")
    for _ in range(4):
        assert "Wrong account name or password" in login_page(door, "mallory", "guess " * 2)
    assert "locked" in login_page(door, "mallory", "guess " * 2)
    page = login_page(door, "mallory", "mallory password")
    assert "locked" in page and "Wrong" not in page
    assert query(door.config.paths, "SELECT locked_until IS NOT NULL FROM web_accounts WHERE name='mallory'") == [(1,)]
    for _ in range(4):  # a name that is no account answers the same way
        assert "Wrong account name or password" in login_page(door, "nobody", "guess " * 2)
    assert "locked" in login_page(door, "nobody", "guess " * 2)


def login_page(door: Door, name: str, password: str) -> str:
    _, headers, body = door.request("GET", "/login")
    pre = headers["set-cookie"].split(";")[0]
    token = body.decode().split('name="_csrf" value="')[1].split('"')[0]
    status, page = post(door, "/login", {"name": name, "password": password, "_csrf": token}, pre)
    assert status in (403, 303), status
    return page


def test_picture_urls_with_dots_or_another_users_id_are_refused(door: Door) -> None:
    from firmware.recognition.enrol import enrol
    from firmware.store.store import Store
    from firmware.vision.engine import FaceEngine

    engine = FaceEngine.load(door.config.active_vision().for_photos())
    with Store.open(door.config.paths) as store:
        howard = enrol(store, engine, "howard", [FACES / "howard" / "howard1.jpg"])
        leonard = enrol(store, engine, "leonard", [FACES / "leonard" / "leonard1.jpg"])
    cookie, _ = door.login(ADMIN, ADMIN_PW)
    own = f"/pictures/sample/{howard.user_id}/{howard.sample_ids[0]}.jpg"
    status, headers, body = door.request("GET", own, cookie=cookie)
    assert status == 200 and body[:3] == b"\xff\xd8\xff" and headers["cache-control"] == "no-store, private"
    for path in (
        f"/pictures/sample/{leonard.user_id}/{howard.sample_ids[0]}.jpg",  # howard's sample under leonard's id
        f"/pictures/sample/{howard.user_id}/../{leonard.user_id}/{leonard.sample_ids[0]}.jpg",
        "/pictures/event/../../keys/data.key",
        "/pictures/sample/1/%2e%2e/2/1.jpg",
        "/pictures/stranger/999999.jpg",
    ):
        status, _, body = door.request("GET", path, cookie=cookie)
        assert status == 404 and b"\xff\xd8" not in body, path
    with Store.open(door.config.paths) as store:  # a row pointing outside its folder is not served
        store.write(lambda c: c.execute("INSERT INTO face_events (timestamp, event_type, image_path) VALUES"
                                        " ('2026-01-01T00:00:00+00:00', 'unknown', 'keys/data.key')"))  # fmt: skip
        bad = int(query(door.config.paths, "SELECT max(id) FROM face_events")[0][0])
    status, _, body = door.request("GET", f"/pictures/event/{bad}.jpg", cookie=cookie)
    assert status == 404


def test_sessions_cookies_and_headers(door: Door) -> None:
    _, headers, _ = door.request("GET", "/login")
    assert "Secure; HttpOnly; SameSite=Strict" in headers["set-cookie"]
    cookie, csrf = door.login(ADMIN, ADMIN_PW)
    status, headers, _ = door.request("GET", "/people", cookie=cookie)
    assert status == 200 and headers["cache-control"] == "no-store"
    assert "frame-ancestors 'none'" in headers["content-security-policy"] and headers["x-frame-options"] == "DENY"
    status, _ = post(door, "/logout", {"_csrf": csrf}, cookie)
    assert status == 303
    status, headers, _ = door.request("GET", "/people", cookie=cookie)
    assert (status, headers["location"]) == (303, "/login?next=/people")
    status, _, _ = door.request("GET", "/", cookie="__Host-occur_session=made-up")
    assert status == 303


def test_an_expired_session_is_refused(tmp_path: Path) -> None:
    with running_door(tmp_path, session_idle_s=1.0) as short:
        cookie, csrf = short.login(ADMIN, ADMIN_PW)
        assert short.request("GET", "/people", cookie=cookie)[0] == 200
        time.sleep(1.5)
        status, headers, _ = short.request("GET", "/people", cookie=cookie)
        assert (status, headers["location"]) == (303, "/login?next=/people")
        status, _ = post(short, "/door/unlock", {"_csrf": csrf}, cookie)
        assert status == 401
        assert query(short.config.paths, "SELECT count(*) FROM door_events") == [(0,)]


def test_logins_are_throttled_per_address(tmp_path: Path) -> None:
    with running_door(tmp_path, login_rate_per_min=3) as door:
        for _ in range(3):
            login_page(door, "nobody", "wrong password")
        _, headers, body = door.request("GET", "/login")
        pre = headers["set-cookie"].split(";")[0]
        token = body.decode().split('name="_csrf" value="')[1].split('"')[0]
        status, page = post(door, "/login", {"name": ADMIN, "password": ADMIN_PW, "_csrf": token}, pre)
        assert status == 429 and "Too many login attempts" in page

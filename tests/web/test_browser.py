"""The console in a real browser (Debian's Chromium through Playwright) against a running door:
log in, enrol from the dev photos with one refused, a visit's decision with its picture, promote
a stranger, correct and export attendance, forget a person and see the receipt.

Most tests share one running door and one browser page and tell a story in order (log in, enrol,
visit, ...); a test that needs only a logged-in admin and the door's camera sets that up itself
(``admin_page``), and the last one makes the people, records and log entries it counts, so both
pass alone too. Each saves screenshots of the pages it visits under the pytest temporary folder
(``.../screenshots0/``).
"""

from __future__ import annotations

import csv
import io
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import query
from tests.web.browser import chromium, shot
from tests.web.door import ADMIN, ADMIN_PW, FACES, Door, running_door

AMY = sorted((FACES / "amy").glob("*.jpg"))
NOFACE = FACES / "noface" / "coco_000000052891.jpg"


@pytest.fixture(scope="module")
def door(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Door]:
    with running_door(tmp_path_factory.mktemp("browser-door")) as running:
        yield running


@pytest.fixture(scope="module")
def shots(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("screenshots")


@pytest.fixture(scope="module")
def browser(door: Door, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    with chromium(tmp_path_factory.mktemp("chromium-profile"), door.pin) as context:
        yield context


@pytest.fixture(scope="module")
def page(browser: Any) -> Any:
    return browser.new_page()


@contextmanager
def own_admin_page(door: Door, browser: Any) -> Iterator[Any]:
    """A page of its own, logged in as the admin through the form whatever the shared page did
    before; the shared browser's cookies are put back afterwards, so the story's page is left
    logged in, or not, as it was."""
    saved = browser.cookies()
    browser.clear_cookies()
    own = browser.new_page()
    try:
        own.goto(door.url + "/login")
        own.fill("input[name=name]", ADMIN)
        own.fill("input[name=password]", ADMIN_PW)
        own.click("button[type=submit]")
        own.wait_for_url(door.url + "/")
        assert own.inner_text(".who") == f"{ADMIN} (admin)"
        yield own
    finally:
        own.close()
        browser.clear_cookies()
        if saved:
            browser.add_cookies(saved)


@pytest.fixture
def admin_page(door: Door, browser: Any) -> Iterator[Any]:
    """:func:`own_admin_page` for a whole test."""
    with own_admin_page(door, browser) as own:
        yield own


def wait_for(condition: Any, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.1)


def picture_shown(locator: Any) -> bool:
    return bool(locator.evaluate("img => img.complete && img.naturalWidth > 0"))


def test_log_in(door: Door, page: Any, shots: Path) -> None:
    page.goto(door.url + "/")
    assert page.url.startswith(door.url + "/login")
    shot(page, shots, "01-login")
    page.fill("input[name=name]", ADMIN)
    page.fill("input[name=password]", "not the password")
    page.click("button[type=submit]")
    assert "Wrong account name or password" in page.inner_text("#login-error")
    page.fill("input[name=password]", ADMIN_PW)
    page.click("button[type=submit]")
    page.wait_for_url(door.url + "/")
    assert page.inner_text("#door-state") == "Locked"
    assert page.inner_text(".who") == f"{ADMIN} (admin)"
    wait_for(lambda: picture_shown(page.locator("#live")), 10)
    shot(page, shots, "02-dashboard")


def test_enrol_from_dev_photos_with_one_refused(door: Door, page: Any, shots: Path) -> None:
    page.goto(door.url + "/people")
    page.fill("#add-person input[name=name]", "amy")
    page.fill("#add-person input[name=role]", "staff")
    page.fill("#add-person input[name=consent_by]", "reception desk")
    page.set_input_files("#add-person input[name=photos]", [str(p) for p in AMY[1:]] + [str(NOFACE)])
    page.click("#enrol-upload")
    page.wait_for_selector("#enrol-summary")
    shot(page, shots, "03-enrolment-result")
    assert "4 photo(s) enrolled, 1 refused" in page.inner_text("#enrol-summary")
    accepted = page.locator("tr.photo.accepted")
    refused = page.locator("tr.photo.refused")
    assert accepted.count() == 4 and refused.count() == 1
    assert NOFACE.name in refused.inner_text() and "no face found" in refused.locator(".reasons").inner_text()
    for i in range(4):
        assert picture_shown(accepted.nth(i).locator("img.chip"))
    page.click("#enrol-summary a")
    assert page.inner_text("#role") == "staff"
    shot(page, shots, "04-person")


def test_a_visit_shows_its_decision_with_its_picture(door: Door, page: Any, shots: Path) -> None:
    before = len(door.decisions)
    door.camera.visit(AMY[0])
    wait_for(lambda: len(door.decisions) > before)
    assert (door.decisions[-1].name, door.decisions[-1].granted) == ("amy", True)
    page.goto(door.url + "/")
    row = page.locator("tr.decision").first
    assert row.locator(".who").inner_text() == "amy" and row.locator(".outcome").inner_text() == "granted"
    wait_for(lambda: picture_shown(row.locator("img.thumb")), 10)
    assert page.inner_text("#gallery-size") == "1 people"  # the door's own operating point
    assert float(page.inner_text("#threshold").split()[0]) > 0 and "curve" in page.inner_text("#threshold")
    assert "target 0.100 %" in page.inner_text("#far")
    shot(page, shots, "05-dashboard-decision")
    page.goto(door.url + "/events")
    assert page.locator("tr.decision.granted").count() >= 1
    shot(page, shots, "06-events")


def test_promote_a_stranger(door: Door, page: Any, shots: Path) -> None:
    before = len(door.decisions)
    door.camera.visit(FACES / "penny" / "penny1.jpg")
    wait_for(lambda: len(door.decisions) > before)
    assert door.decisions[-1].kind == "unknown"
    page.goto(door.url + "/strangers")
    row = page.locator("tr.stranger").first
    assert row.locator(".seen").inner_text() == "1×"
    assert picture_shown(row.locator("img.thumb"))
    shot(page, shots, "07-strangers")
    row.locator("input[name=name]").fill("penny")
    row.locator("input[name=consent_by]").fill("reception desk")
    row.locator("form.promote button").click()
    page.wait_for_selector(".flash")
    assert "is now penny" in page.inner_text(".flash")
    assert page.locator("img.chip").count() == 1
    page.goto(door.url + "/strangers")
    assert page.locator("tr.stranger").count() == 0


def test_correct_and_export_attendance(door: Door, page: Any, shots: Path) -> None:
    page.goto(door.url + "/attendance")
    row = page.locator("tr.record").first
    assert row.locator(".who").inner_text() == "amy" and row.locator(".status").inner_text() == "recognized"
    assert picture_shown(row.locator("img.thumb"))
    record = row.get_attribute("data-id")
    row.locator("select[name=user]").select_option(label="penny")
    row.locator("form.correct button").click()
    page.wait_for_selector(".flash")
    fixed = page.locator(f"tr.record[data-id='{record}']")
    assert fixed.locator(".who").inner_text() == "penny" and fixed.locator(".status").inner_text() == "corrected"
    shot(page, shots, "08-attendance")
    with page.expect_download() as download:
        page.click("#export")
    rows = list(csv.reader(io.StringIO(Path(download.value.path()).read_text())))
    assert rows[0] == ["id", "timestamp", "user_id", "name", "status", "snapshot_path"]
    assert [r[3:5] for r in rows[1:] if r[0] == record] == [["penny", "corrected"]]


def test_forget_a_person_and_see_the_receipt(door: Door, page: Any, shots: Path) -> None:
    amy = int(query(door.config.paths, "SELECT id FROM users WHERE name = 'amy'")[0][0])
    sample = int(query(door.config.paths, "SELECT min(id) FROM face_samples WHERE user_id = ?", (amy,))[0][0])
    page.goto(f"{door.url}/people/{amy}")
    page.click("#forget-link")
    shot(page, shots, "09-forget-confirm")
    page.fill("#forget-form input[name=confirm_name]", "amy")
    page.click("#forget-confirm")
    page.wait_for_selector("#receipt")
    shot(page, shots, "10-erasure-receipt")
    assert page.inner_text("#pseudonym").startswith("forgotten:")
    assert int(page.inner_text("#receipt-seq")) > 0
    assert query(door.config.paths, "SELECT count(*) FROM users WHERE id = ?", (amy,)) == [(0,)]
    status, _, _ = door.request("GET", f"/pictures/sample/{amy}/{sample}.jpg", cookie=door.login(ADMIN, ADMIN_PW)[0])
    assert status == 404


def test_enrol_from_the_live_camera(door: Door, admin_page: Any, shots: Path) -> None:
    page = admin_page
    door.camera.visit(FACES / "sheldon" / "sheldon1.jpg", frames=200)
    door.camera.wait_until_showing(200)
    page.goto(door.url + "/people")
    page.fill("#add-person input[name=name]", "sheldon")
    page.fill("#add-person input[name=consent_by]", "reception desk")
    page.click("#enrol-camera")
    page.wait_for_selector("#enrol-summary")
    shot(page, shots, "11-camera-enrolment")
    assert "1 photo(s) enrolled" in page.inner_text("#enrol-summary")
    assert page.locator("tr.photo.accepted").count() == 1


def enrol_one(door: Door, page: Any, name: str, photo: Path) -> None:
    """Enrol ``name`` from one photo through the console's form; the person's page is left open."""
    page.goto(door.url + "/people")
    page.fill("#add-person input[name=name]", name)
    page.fill("#add-person input[name=consent_by]", "reception desk")
    page.set_input_files("#add-person input[name=photos]", [str(photo)])
    page.click("#enrol-upload")
    page.wait_for_selector("#enrol-summary")
    assert "1 photo(s) enrolled" in page.inner_text("#enrol-summary"), page.inner_text("#enrol-summary")
    page.click("#enrol-summary a")


def test_other_pages_render(door: Door, browser: Any, shots: Path) -> None:
    """The remaining pages, counting only what this test made (so it passes alone as well as after
    the story): two people enrolled and a third enrolled then forgotten, an attendance record
    marked and corrected, its own log-in, all in the secure log after the entries it found."""
    paths = door.config.paths
    people_before = int(query(paths, "SELECT count(*) FROM users")[0][0])
    seq_before = int(query(paths, "SELECT coalesce(max(seq), 0) FROM secure_log")[0][0])
    with own_admin_page(door, browser) as page:
        for name in ("leonard", "raj", "howard"):
            enrol_one(door, page, name, FACES / name / f"{name}1.jpg")
        page.click("#forget-link")  # howard's page
        page.fill("#forget-form input[name=confirm_name]", "howard")
        page.click("#forget-confirm")
        page.wait_for_selector("#receipt")
        page.goto(door.url + "/attendance")
        page.locator("#mark-form select[name=user]").select_option(label="leonard")
        page.click("#mark-form button")
        page.wait_for_selector(".flash:has-text('leonard marked present')")
        record = page.inner_text(".flash").split("(record ")[1].split(")")[0]
        row = page.locator(f"tr.record[data-id='{record}']")
        row.locator("select[name=user]").select_option(label="raj")
        row.locator("form.correct button").click()
        page.wait_for_selector(f".flash:has-text('Record {record} corrected')")
        assert page.locator(f"tr.record[data-id='{record}'] .status").inner_text() == "corrected"
        for path, name, heading in (
            ("/updates", "12-updates", "Model updates"),
            ("/audit", "13-audit", "Secure log"),
            ("/accounts", "14-accounts", "Console accounts"),
            ("/people", "15-people", "People"),
        ):
            page.goto(door.url + path)
            assert page.inner_text("h1") == heading
            shot(page, shots, name)
        listed = page.locator("tr.person td:nth-child(2)").all_inner_texts()
        assert len(listed) == people_before + 2 and {"leonard", "raj"} <= set(listed), listed
        assert "howard" not in listed
        page.goto(door.url + "/audit")
        seqs = page.locator("table.audit tbody tr td:first-child").all_inner_texts()
        types = page.locator("td.type").all_inner_texts()
        assert len(seqs) == len(types)
        mine = {kind for seq, kind in zip(seqs, types, strict=True) if int(seq) > seq_before}
        assert {"erasure", "enrolment", "attendance_corrected", "web_login", "audit_read"} <= mine, mine

"""People: list, add and enrol (uploaded photos or the live camera) with per-photo feedback,
role, enable/disable, forget with confirmation and receipt.

Edits of one person carry the version of the person the page showed (a digest of name, email,
role, access and samples); a change made meanwhile by someone else is refused with a message
and nothing is stored, so two admins never overwrite each other unknowingly.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from firmware.actions import people as actions
from firmware.domain import Image
from firmware.errors import InvalidInputError
from firmware.recognition.enrol import EnrolReport, NothingEnrolledError
from firmware.store import users
from firmware.store.db import Connection
from firmware.store.door_records import user_active
from firmware.store.encodings import sample_ids
from firmware.web import uploads
from firmware.web.console import HttpError, Page
from firmware.web.http import Response


@dataclass(frozen=True)
class Person:
    """A user as the pages show them."""

    user: users.User
    active: bool
    samples: list[int]
    version: str


def person(conn: Connection, user_id: int) -> Person:
    """One person now. Raises NotFoundError."""
    user = users.find_user(conn, user_id)
    samples = sample_ids(conn, user.id)
    active = user_active(conn, user.id)
    text = f"{user.name}|{user.email}|{user.role}|{active}|{samples}"
    return Person(user, active, samples, hashlib.sha256(text.encode()).hexdigest()[:16])


def _check_version(conn: Connection, user_id: int, version: str) -> Person:
    current = person(conn, user_id)
    if version != current.version:
        raise HttpError(
            409,
            f"{current.user.name} was changed by someone else since this page was opened; nothing was changed. "
            "Reload the page to see the current state and try again",
        )
    return current


def people_list(page: Page) -> Response:
    """GET /people."""
    with page.app.store.reader() as conn:
        everyone = [person(conn, u.id) for u in users.list_users(conn)]
    return page.render("people.html", people=everyone, form={}, consent=page.app.config.privacy.consent)


def person_page(page: Page) -> Response:
    """GET /people/<id>."""
    user_id = page.param_int("id")
    with page.app.store.reader() as conn:
        shown = person(conn, user_id)
    windows = [w for w in page.app.config.door.schedule if w.split()[0] == shown.user.role] if shown.user.role else []
    allowed = page.app.config.door.allowed_roles
    return page.render(
        "person.html", p=shown, windows=windows, allowed_roles=allowed, consent=page.app.config.privacy.consent
    )


def _optional(page: Page, name: str) -> str | None:
    return page.req.arg(name) or None


def _photos(page: Page) -> tuple[Iterator[tuple[str, Image]], dict[str, list[str]], list[str]]:
    """Photos decoded one at a time as enrolment reads them (a phone photo decoded takes tens of
    MB: never all at once), refusals by label as they are found, and every label in order."""
    app = page.app
    if page.req.arg("source") == "camera":
        frame = app.last_frame()
        if frame is None:
            raise InvalidInputError("the camera has not delivered a frame yet: try again in a moment")
        label = f"1. camera {time.strftime('%H:%M:%S')}"
        return iter([(label, frame.copy())]), {}, [label]
    files = [f for f in page.req.files.get("photos", []) if f.filename or f.body]
    if not files:
        raise InvalidInputError("choose one or more photos, or take one from the camera")
    if len(files) > app.config.web.max_photos:
        raise InvalidInputError(f"{len(files)} photos sent; at most {app.config.web.max_photos} at a time")
    labels = [uploads.label(i, f) for i, f in enumerate(files, 1)]
    refused: dict[str, list[str]] = {}

    def decoded() -> Iterator[tuple[str, Image]]:
        for label, upload in zip(labels, files, strict=True):
            image, reasons = uploads.decode(upload)
            if image is None:
                refused[label] = reasons
            else:
                yield label, image
            del image

    return decoded(), refused, labels


def enrol_photos(page: Page, name: str, user_id: int | None) -> tuple[EnrolReport, list[dict[str, Any]], bool]:
    """Enrol the request's photos (uploads, or the camera's frame): the report, one result per
    photo in upload order (its sample id, or the reasons it was refused) and whether anything
    was stored. Shared by the console and the REST API."""
    app = page.app
    email, role, consent = _optional(page, "email"), _optional(page, "role"), _optional(page, "consent_by")
    actions.require_consent(app.config, consent)
    users.validate_user(name, email, role)
    decoded, refused, labels = _photos(page)
    report, stored = EnrolReport(name=name), False
    if labels:
        try:
            report = app.with_photo_engine(
                lambda engine: actions.enrol_person(
                    app.store, app.config, engine, name, decoded, page.actor, email, role, consent, user_id
                )
            )
            stored = True
        except NothingEnrolledError as err:
            report = err.report
    report.rejected.update(refused)
    accepted = dict(zip(report.accepted, report.sample_ids, strict=False))
    results: list[dict[str, Any]] = [
        {"label": label, "sample": accepted.get(label), "reasons": report.rejected.get(label, [])} for label in labels
    ]
    return report, results, stored


def _enrol(page: Page, name: str, user_id: int | None) -> Response:
    report, results, stored = enrol_photos(page, name, user_id)
    status = 200 if stored else 400
    return page.render("enrolled.html", status=status, report=report, results=results, stored=stored, name=name)


def enrol_new(page: Page) -> Response:
    """POST /people: a new person (or more photos of one with exactly that name)."""
    name = page.req.arg("name")
    if not name:
        raise InvalidInputError("give the person's name")
    return _enrol(page, name, None)


def enrol_more(page: Page) -> Response:
    """POST /people/<id>/enrol: more photos of this person (refused if they were forgotten)."""
    user_id = page.param_int("id")
    with page.app.store.reader() as conn:
        shown = _check_version(conn, user_id, page.req.arg("version"))
    return _enrol(page, shown.user.name, user_id)


def set_role(page: Page) -> Response:
    """POST /people/<id>/role."""
    user_id, version, role = page.param_int("id"), page.req.arg("version"), _optional(page, "role")

    def job(conn: Connection) -> str:
        name = _check_version(conn, user_id, version).user.name
        users.set_role(conn, user_id, role)
        return name

    name = page.app.store.write(job)
    page.audit("user_role", {"role": role}, user_id)
    return page.redirect(f"/people/{user_id}", f"{name}: role set to {role or 'none'}.")


def set_active(page: Page) -> Response:
    """POST /people/<id>/active."""
    from firmware.platform.clock import now_iso
    from firmware.store.door_records import set_user_active

    user_id, version, active = page.param_int("id"), page.req.arg("version"), page.req.arg("active") == "1"

    def job(conn: Connection) -> str:
        name = _check_version(conn, user_id, version).user.name
        set_user_active(conn, user_id, active, now_iso())
        return name

    name = page.app.store.write(job)
    page.audit("user_enabled" if active else "user_disabled", {}, user_id)
    return page.redirect(f"/people/{user_id}", f"{name} {'enabled' if active else 'disabled'}.")


def forget_confirm(page: Page) -> Response:
    """GET /people/<id>/forget: what will go, and a confirmation by typing the name."""
    with page.app.store.reader() as conn:
        shown = person(conn, page.param_int("id"))
    return page.render("forget.html", p=shown)


def forget(page: Page) -> Response:
    """POST /people/<id>/forget: erase, then show the receipt (also in the secure log)."""
    user_id = page.param_int("id")
    with page.app.store.reader() as conn:
        shown = _check_version(conn, user_id, page.req.arg("version"))
    if page.req.arg("confirm_name") != shown.user.name:
        raise InvalidInputError(f"type the person's name exactly ({shown.user.name}) to confirm; nothing was erased")
    receipt, seq = actions.forget_person(page.app.store, page.app.config, user_id, page.actor)
    return page.render("receipt.html", receipt=receipt, seq=seq, name=shown.user.name)

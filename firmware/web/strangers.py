"""Strangers: each face the door did not know, grouped by the door (the same stranger coming
back raises its seen count), with its picture; promote one to a person or dismiss it."""

from __future__ import annotations

from firmware.actions import strangers as actions
from firmware.errors import InvalidInputError
from firmware.recognition.enrol import NothingEnrolledError
from firmware.store.door_records import list_unknown
from firmware.web.console import HttpError, Page
from firmware.web.http import Response


def strangers_page(page: Page) -> Response:
    """GET /strangers."""
    with page.app.store.reader() as conn:
        rows = list_unknown(conn, 200)
    return page.render("strangers.html", strangers=rows, consent=page.app.config.privacy.consent)


def promote(page: Page) -> Response:
    """POST /strangers/<id>/promote: enrol the kept picture as a new person."""
    app, unknown_id = page.app, page.param_int("id")
    name = page.req.arg("name")
    if not name:
        raise InvalidInputError("give the person's name")
    role, email, consent = (
        page.req.arg("role") or None,
        page.req.arg("email") or None,
        page.req.arg("consent_by") or None,
    )
    try:
        report = app.with_photo_engine(
            lambda engine: actions.promote(
                app.store, app.config, engine, unknown_id, name, page.actor, role, email, consent
            )
        )
    except NothingEnrolledError as err:
        reasons = "; ".join(r for rs in err.report.rejected.values() for r in rs)
        raise HttpError(400, f"the stranger's picture cannot be enrolled: {reasons}; nothing was stored") from err
    return page.redirect(f"/people/{report.user_id}", f"Stranger {unknown_id} is now {report.name}.")


def dismiss(page: Page) -> Response:
    """POST /strangers/<id>/dismiss: forget the stranger and its picture."""
    unknown_id = page.param_int("id")
    actions.dismiss(page.app.store, page.app.config, unknown_id, page.actor)
    return page.redirect("/strangers", f"Stranger {unknown_id} dismissed.")

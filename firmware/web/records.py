"""Events, the door log and attendance: filters, pictures, corrections, CSV export."""

from __future__ import annotations

from firmware.actions import attendance as actions
from firmware.errors import InvalidInputError
from firmware.platform.clock import now_iso, parse_iso, to_iso
from firmware.store import users
from firmware.store.attendance import list_attendance
from firmware.store.door_records import DOOR_OUTCOMES
from firmware.store.events import list_events
from firmware.web.console import Page
from firmware.web.dashboard import door_log
from firmware.web.http import Response

LIMIT = 200


def _when(page: Page, name: str, label: str) -> str:
    """A date or date-time from a form (``YYYY-MM-DD`` means its UTC midnight) in the stored
    form; '' when empty.

    Raises:
        InvalidInputError: unreadable, naming the field.
    """
    from datetime import UTC

    text = page.req.arg(name)
    if not text:
        return ""
    try:
        return to_iso(parse_iso(text, assume=UTC))
    except ValueError as err:
        raise InvalidInputError(f"{label}: {err}") from err


def _filters(page: Page) -> dict[str, str]:
    return {"from": _when(page, "from", "from"), "to": _when(page, "to", "to")}


def events_page(page: Page) -> Response:
    """GET /events: decisions and door inputs (the door log), and system events."""
    f = _filters(page)
    outcome = page.req.arg("outcome")
    if outcome and outcome not in DOOR_OUTCOMES:
        raise InvalidInputError(f"outcome must be one of {', '.join(DOOR_OUTCOMES)}")
    with page.app.store.reader() as conn:
        decisions = door_log(conn, LIMIT, outcome, f["from"], f["to"])
        system = [
            e for e in list_events(conn, "system", f["from"] or None, LIMIT) if not f["to"] or e.timestamp < f["to"]
        ]
    return page.render(
        "events.html", decisions=decisions, system=list(reversed(system)), outcomes=DOOR_OUTCOMES, outcome=outcome,
        f={"from": page.req.arg("from"), "to": page.req.arg("to")},
    )  # fmt: skip


def attendance_page(page: Page) -> Response:
    """GET /attendance."""
    f = _filters(page)
    user_ref = page.req.arg("user")
    with page.app.store.reader() as conn:
        user_id = users.find_user(conn, user_ref).id if user_ref else None
        rows = list_attendance(conn, f["from"] or None, f["to"] or None, user_id)[-LIMIT:]
        people = users.list_users(conn)
    return page.render(
        "attendance.html", rows=list(reversed(rows)), people=people, user=user_ref,
        f={"from": page.req.arg("from"), "to": page.req.arg("to")},
    )  # fmt: skip


def export_csv(page: Page) -> Response:
    """GET /attendance.csv: the CLI's export format, logged."""
    f = _filters(page)
    with page.app.store.reader() as conn:
        rows = list_attendance(conn, f["from"] or None, f["to"] or None)
    actions.exported(page.app.store, page.app.config, len(rows), f["from"] or None, f["to"] or None, page.actor)
    return Response(
        200,
        actions.csv_text(rows).encode("utf-8"),
        "text/csv; charset=utf-8",
        {"Content-Disposition": 'attachment; filename="attendance.csv"'},
    )


def correct(page: Page) -> Response:
    """POST /attendance/<id>/correct: another person and/or time."""
    record = page.param_int("id")
    user_ref, when = page.req.arg("user"), _when(page, "at", "time")
    with page.app.store.reader() as conn:
        user_id = users.find_user(conn, user_ref).id if user_ref else None
    row = actions.correct_record(page.app.store, page.app.config, record, user_id, when or None, page.actor)
    return page.redirect("/attendance", f"Record {row.id} corrected: {row.name or '-'} at {row.timestamp}.")


def mark(page: Page) -> Response:
    """POST /attendance/mark: a person present by hand."""
    user_ref = page.req.arg("user")
    if not user_ref:
        raise InvalidInputError("choose the person")
    with page.app.store.reader() as conn:
        user = users.find_user(conn, user_ref)
    when = _when(page, "at", "time") or now_iso()
    row = actions.mark_present(page.app.store, page.app.config, user.id, when, page.actor)
    return page.redirect("/attendance", f"{user.name} marked present (record {row}).")

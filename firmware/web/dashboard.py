"""The dashboard: the door now, its latest decisions, the camera, the system, and unlock."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from firmware.recognition.doorstate import offline_point
from firmware.store import door_records
from firmware.store.db import Connection
from firmware.web.console import Page
from firmware.web.http import Response


@dataclass(frozen=True)
class Decision:
    """A row of the door log with what it needs to be shown."""

    id: int
    timestamp: str
    outcome: str
    reason: str
    who: str
    face_event_id: int | None
    has_picture: bool
    score: float | None


def door_log(conn: Connection, limit: int = 10, outcome: str = "", since: str = "", until: str = "") -> list[Decision]:
    """Newest door events first, with the person's name and the decision's picture."""
    out = []
    for r in door_records.door_log(conn, limit, outcome, since, until):
        who = r.name or (f"user {r.user_id}" if r.user_id else ("stranger" if r.face_event_id else "-"))
        out.append(Decision(r.id, r.timestamp, r.outcome, r.reason, who, r.face_event_id, r.has_picture, r.score))
    return out


def recognition_figures(page: Page, status: dict[str, Any]) -> dict[str, Any]:
    """Gallery size, door threshold and expected stranger-accept rate: the running door's
    operating point (:class:`~firmware.vision.doorpoint.DoorPoint`) as its status document
    reports it, else the point this configuration and data folder give now (no models loaded);
    ``closed`` says why nobody is named, if so."""
    if "gallery_people" not in status:
        status = dict(offline_point(page.app.config).status_fields())
    recognition = str(status.get("recognition", ""))
    return {
        "gallery_size": status.get("gallery_people", 0),
        "threshold": status.get("door_threshold"),
        "source": status.get("threshold_source", ""),
        "stranger_accept_rate": status.get("stranger_accept_expected"),
        "target": status.get("stranger_accept_target"),
        "closed": recognition.removeprefix("names nobody: ") if recognition.startswith("names nobody") else None,
        "warnings": [str(w) for w in status.get("recognition_warnings") or []],
    }


def dashboard(page: Page) -> Response:
    """GET /."""
    app = page.app
    status = app.status()
    with app.store.reader() as conn:
        decisions = door_log(conn, 8)
    return page.render(
        "dashboard.html",
        health=status,
        decisions=decisions,
        broker=status.get("broker") or app.broker(),
        figures=recognition_figures(page, status),
        door_state=app.door.state,
        unlocked=app.door.unlocked,
    )


def unlock(page: Page) -> Response:
    """POST /door/unlock: the shared remote-unlock path, logged with the account."""
    result = page.app.unlock(f"web console unlock by {page.session.name if page.session else '?'}")
    page.audit("remote_unlock", {"result": result})
    return page.redirect("/", f"Door {result}.")

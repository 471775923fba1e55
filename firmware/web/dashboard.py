"""The dashboard: the door now, its latest decisions, the camera, the system, and unlock."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from firmware.recognition.doorstate import offline_point
from firmware.store.db import Connection, fetch_all
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
    rows = fetch_all(
        conn,
        "SELECT d.id, d.timestamp, d.outcome, d.reason, d.user_id, u.name, d.face_event_id, f.image_path, d.score"
        " FROM door_events d LEFT JOIN users u ON u.id = d.user_id LEFT JOIN face_events f ON f.id = d.face_event_id"
        " WHERE (? = '' OR d.outcome = ?) AND (? = '' OR d.timestamp >= ?) AND (? = '' OR d.timestamp < ?)"
        " ORDER BY d.timestamp DESC, d.id DESC LIMIT ?",
        (outcome, outcome, since, since, until, until, limit),
    )
    out = []
    for r in rows:
        who = str(r[5]) if r[5] else (f"user {r[4]}" if r[4] else ("stranger" if r[6] else "-"))
        out.append(Decision(int(r[0]), str(r[1]), str(r[2]), str(r[3] or ""), who, r[6], bool(r[7]), r[8]))
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

"""The dashboard: the door now, its latest decisions, the camera, the system, and unlock."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from firmware.store.db import Connection, fetch_all
from firmware.web.console import Page
from firmware.web.http import Response

CALIBRATED_FAR = 0.001  # per comparison, the target of `occur bench calibrate` (models/fusion.toml)


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
    """Gallery size, door threshold and expected stranger-accept rate.

    The one hook for the recognition work: when the running door publishes ``gallery_size``,
    ``threshold`` and ``stranger_accept_rate`` in its status document, those are shown as they
    are. Until then: people with encodings for the running models, the fused threshold in
    force, and an estimate from the calibration target (0.1 % false accepts per comparison, so
    about 1 - 0.999^N for a gallery of N people) when the threshold is the calibrated one.
    """
    engine = page.app.engine()
    threshold = status.get("threshold", engine.fusion.threshold)
    size = status.get("gallery_size")
    if size is None:
        with page.app.store.reader() as conn:
            models = [(e.name, e.manifest.sha256) for e in engine.embedders]
            users = None
            for name, sha in models:
                found = {int(r[0]) for r in fetch_all(
                    conn, "SELECT DISTINCT user_id FROM face_encodings WHERE model = ? AND model_sha256 = ?",
                    (name, sha))}  # fmt: skip
                users = found if users is None else users & found
            size = len(users or ())
    rate = status.get("stranger_accept_rate")
    source = "reported by the door"
    if rate is None:
        if page.app.config.vision.threshold > 0:
            source = "not known: a custom [vision] threshold is set"
        else:
            rate = 1 - (1 - CALIBRATED_FAR) ** int(size)
            source = "estimate from the calibration (0.1 % false accepts per comparison)"
    return {"gallery_size": size, "threshold": threshold, "stranger_accept_rate": rate, "rate_source": source}


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

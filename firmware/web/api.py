"""The REST API for building systems and Home Assistant: door state, events, unlock, enrol.

Authentication is a bearer token only (``Authorization: Bearer occur_...``); cookies are never
read here, so a browser session cannot be used against the API from another page. Each token
has scopes (``read``, ``unlock``, ``enrol``); a missing scope is 403, a missing or unknown token
401 (and counted: an address that keeps sending bad tokens gets 429). Answers are JSON; the
OpenAPI description is ``/api/v1/openapi.json``.
"""

from __future__ import annotations

import time
from typing import Any

from firmware.errors import InvalidInputError
from firmware.security import tokens
from firmware.store import api_tokens
from firmware.web.console import HttpError, Page
from firmware.web.dashboard import door_log
from firmware.web.http import Response
from firmware.web.openapi import spec
from firmware.web.people import enrol_photos

TOUCH_EVERY_S = 60.0


def authorise(page: Page, scope: str) -> Response | None:
    """Let a request with a live token holding ``scope`` through (sets ``page.token_name``).

    Raises:
        HttpError: 401, 403 or 429.
    """
    header = page.req.headers.get("authorization", "")
    kind, _, value = header.partition(" ")
    found = None
    if kind.lower() == "bearer" and value.strip():
        with page.app.store.reader() as conn:
            found = tokens.authenticate(conn, value.strip())
    if found is None:
        if not page.console.api_throttle.allow(page.req.remote_ip):
            raise HttpError(429, "too many requests with bad tokens from this address: wait a minute")
        raise HttpError(401, "a valid API token is required (Authorization: Bearer occur_...)")
    if scope not in found.scopes:
        raise HttpError(403, f"token {found.name} lacks the {scope!r} scope")
    page.token_name = found.name
    last = page.console.token_used.get(found.id, 0.0)
    if time.monotonic() - last > TOUCH_EVERY_S:
        page.console.token_used[found.id] = time.monotonic()
        page.app.store.write(lambda c: api_tokens.touch(c, found.id))
    return None


def door(page: Page) -> Response:
    """GET /api/v1/door."""
    status = page.app.status()
    return page.json(
        {
            "device": page.app.config.device.id,
            "door": "unlocked" if page.app.door.unlocked else "locked",
            "indicator": page.app.door.state,
            "camera_ok": status.get("camera_ok"),
            "fps": status.get("fps"),
            "updated_at": status.get("updated_at"),
        }
    )


def events(page: Page) -> Response:
    """GET /api/v1/events?limit=N&outcome=O: the door log, newest first."""
    try:
        limit = int(page.req.arg("limit", "50"))
    except ValueError as err:
        raise InvalidInputError("limit must be a number") from err
    if not 1 <= limit <= 500:
        raise InvalidInputError("limit must be 1-500")
    with page.app.store.reader() as conn:
        rows = door_log(conn, limit, page.req.arg("outcome"))
    items: list[dict[str, Any]] = [
        {"id": d.id, "timestamp": d.timestamp, "outcome": d.outcome, "reason": d.reason, "person": d.who,
         "score": d.score}
        for d in rows
    ]  # fmt: skip
    return page.json({"events": items})


def unlock(page: Page) -> Response:
    """POST /api/v1/door/unlock."""
    result = page.app.unlock(f"api unlock by token {page.token_name}")
    page.audit("remote_unlock", {"result": result})
    return page.json({"ok": True, "result": result})


def enrol(page: Page) -> Response:
    """POST /api/v1/people (multipart): enrol photos of a person."""
    name = page.req.arg("name")
    if not name:
        raise InvalidInputError("name is required")
    if page.req.too_large:
        raise HttpError(413, f"the request is larger than {page.app.config.web.max_upload_mb:g} MiB")
    report, results, stored = enrol_photos(page, name, None)
    photos = [{"photo": r["label"], "accepted": r["sample"] is not None, "reasons": r["reasons"]} for r in results]
    body = {"stored": stored, "user_id": report.user_id, "created": report.created, "photos": photos}
    return page.json(body, 201 if stored else 422)


def openapi(page: Page) -> Response:
    """GET /api/v1/openapi.json."""
    return page.json(spec(page.app.config.device.name))

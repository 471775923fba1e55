"""The console: routes, who may use each, CSRF, error pages; one :class:`Page` per request.

Every route says who may use it: ``public`` (login, the OpenAPI description), ``viewer`` and
``admin`` (a session cookie; admins act, viewers only look), or ``api:<scope>`` (a bearer
token with that scope; cookies are ignored there, so a browser cannot be tricked into using
the API). Every POST from a session must carry the session's CSRF token, and a request from
another site (``Sec-Fetch-Site`` or ``Origin``) is refused whatever it carries.

A fault in a page is answered with a page that says what went wrong; it never reaches the door:
pages run on the console's own threads and only touch the door through the store's single
writer and :class:`~firmware.web.appliance.Appliance`.
"""

from __future__ import annotations

import json
import logging
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from firmware.errors import (
    AmbiguousError,
    DatabaseBusyError,
    ImageError,
    InvalidInputError,
    ModelError,
    NotFoundError,
    OccurError,
    StorageFullError,
    StoreError,
)
from firmware.loop.unlock import UnlockRefusedError
from firmware.security.audit import audit
from firmware.web.appliance import Appliance
from firmware.web.http import Request, Response, Templates
from firmware.web.sessions import COOKIE, PhantomLocks, Session, Sessions, Throttle, same_token

log = logging.getLogger(__name__)
PageFn = Callable[["Page"], Response]
NAV = (("/", "Dashboard"), ("/people", "People"), ("/strangers", "Strangers"), ("/events", "Events"),
       ("/attendance", "Attendance"), ("/updates", "Updates"), ("/audit", "Audit"))  # fmt: skip


@dataclass(frozen=True)
class Route:
    """A URL pattern (named groups become ``Request.params``), its methods and who may use it."""

    name: str
    pattern: str
    methods: tuple[str, ...]
    access: str  # public | viewer | admin | api:<scope> | api-public
    fn: PageFn


class HttpError(Exception):
    """Stop a page with this status and message."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


class Page:
    """One request to one route: the request, the session, and helpers to answer."""

    def __init__(self, console: Console, route: Route, req: Request, session: Session | None) -> None:
        self.console = console
        self.route = route
        self.req = req
        self.session = session
        self.token_name = ""

    @property
    def app(self) -> Appliance:
        """The running door."""
        return self.console.app

    @property
    def actor(self) -> str:
        """Who acts, as the secure log records it."""
        if self.token_name:
            return f"api:{self.token_name}"
        return f"web:{self.session.name}" if self.session else "web:anonymous"

    def audit(self, event_type: str, data: dict[str, Any], user_id: object = None) -> int:
        """A secure-log entry for this request's account."""
        app = self.app
        return audit(app.store, app.config.paths, event_type, {**data, "by": self.actor}, user_id, app.config.device.id)

    def render(self, template: str, status: int = 200, **values: Any) -> Response:
        """An HTML page inside the console's layout."""
        flash = list(self.session.flash) if self.session else []
        if self.session:
            self.session.flash.clear()
        body = self.console.templates.render(
            template,
            session=self.session,
            csrf=self.session.csrf if self.session else values.pop("csrf", ""),
            nav=NAV if self.session else (),
            here=self.req.path,
            device=self.app.config.device.name,
            flash=flash,
            quote=urllib.parse.quote,
            **values,
        )
        return Response(status, body)

    def redirect(self, to: str, flash: str = "") -> Response:
        """303 See Other to ``to`` (a path on this console), with a one-time message."""
        if flash and self.session:
            self.session.flash.append(flash)
        return Response(303, b"", headers={"Location": to})

    def json(self, value: Any, status: int = 200) -> Response:
        """An API answer."""
        return Response(status, json.dumps(value, default=str).encode(), "application/json")

    def param_int(self, name: str) -> int:
        """A numeric path parameter (routes only match digits).

        Raises:
            HttpError: 404 when it is out of range.
        """
        value = int(self.req.params[name])
        if value > 2**62:
            raise HttpError(404, f"no such {name}")
        return value


class Console:
    """Routes + sessions + the running door."""

    def __init__(self, app: Appliance, routes: list[Route]) -> None:
        self.app = app
        web = app.config.web
        self.routes = {r.name: r for r in routes}
        self.templates = Templates()
        self.sessions = Sessions(web.session_idle_s, web.session_max_s)
        self.login_throttle = Throttle(web.login_rate_per_min)
        self.api_throttle = Throttle(web.login_rate_per_min)
        self.phantoms = PhantomLocks(web.lockout_failures, web.lockout_s)
        self.token_used: dict[int, float] = {}

    def handle(self, name: str, req: Request) -> Response:
        """Answer one request (runs on a console worker thread; never raises)."""
        route = self.routes.get(name)
        if route is None or req.method not in route.methods:
            return self._plain(404 if route is None else 405, "Not found" if route is None else "Method not allowed")
        session = None if route.access.startswith("api") else self.sessions.get(req.cookies.get(COOKIE))
        page = Page(self, route, req, session)
        try:
            refused = self._gate(page)
            return refused if refused is not None else route.fn(page)
        except HttpError as err:
            return self._error(page, err.status, str(err))
        except (InvalidInputError, ImageError) as err:
            return self._error(page, 400, str(err))
        except UnlockRefusedError as err:
            return self._error(page, 409, str(err))
        except (NotFoundError, AmbiguousError) as err:
            return self._error(page, 404 if isinstance(err, NotFoundError) else 409, str(err))
        except (StorageFullError, DatabaseBusyError) as err:
            return self._error(page, 503, f"the door's storage cannot take this now ({err}); nothing was changed")
        except (StoreError, ModelError) as err:
            log.error("web: %s %s failed: %s", req.method, req.path, err)
            return self._error(page, 503, f"the door could not do this now: {err}")
        except OccurError as err:
            return self._error(page, 500, str(err))
        except Exception:
            log.exception("web: %s %s failed", req.method, req.path)
            return self._error(page, 500, "internal error; the door is not affected (see the service log)")

    def _gate(self, page: Page) -> Response | None:
        """Who may pass: a response that refuses, or None."""
        route, req = page.route, page.req
        if route.access == "public" or route.access == "api-public":
            return None
        if route.access.startswith("api:"):
            from firmware.web.api import authorise

            return authorise(page, route.access[4:])
        if page.session is None:
            if req.method == "GET" and not route.name.startswith(("picture", "still")):
                return Response(303, b"", headers={"Location": "/login?next=" + urllib.parse.quote(req.path)})
            raise HttpError(401, "log in first (your session may have expired)")
        if req.method == "POST":
            if req.too_large:
                limit = self.app.config.web.max_upload_mb
                raise HttpError(
                    413, f"the form is {req.too_large / 2**20:.1f} MiB; the most accepted is {limit:g} MiB. "
                    "Send fewer or smaller photos; nothing was stored",
                )  # fmt: skip
            self._same_origin(req)
            if not same_token(page.session.csrf, req.arg("_csrf")):
                raise HttpError(
                    403,
                    "this form has no valid CSRF token (it is old or came from elsewhere): reload the page, try again",
                )
        if route.access == "admin" and not page.session.is_admin:
            raise HttpError(403, f"the account {page.session.name} is a viewer: only an admin can do this")
        return None

    @staticmethod
    def _same_origin(req: Request) -> None:
        site = req.headers.get("sec-fetch-site", "")
        origin = req.headers.get("origin", "")
        host = req.headers.get("host", "")
        if site and site not in ("same-origin", "none"):
            raise HttpError(403, f"cross-site request refused ({site})")
        if origin and origin != "null" and urllib.parse.urlsplit(origin).netloc != host:
            raise HttpError(403, "cross-origin request refused")

    def _error(self, page: Page, status: int, message: str) -> Response:
        if page.route.access.startswith("api"):
            headers = {"WWW-Authenticate": 'Bearer realm="occur"'} if status == 401 else {}
            return Response(status, json.dumps({"error": message}).encode(), "application/json", headers)
        if page.route.name.startswith(("picture", "still")):
            return self._plain(status, message)
        try:
            return page.render("error.html", status=status, status_code=status, message=message)
        except Exception:
            log.exception("web: error page failed")
            return self._plain(status, message)

    @staticmethod
    def _plain(status: int, message: str) -> Response:
        return Response(status, message.encode(), "text/plain; charset=utf-8")

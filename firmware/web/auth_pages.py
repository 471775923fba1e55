"""Log in and out.

The login form carries its own CSRF token, paired with a short-lived ``__Host-`` cookie, so a
page on another site cannot log the browser into an account of the attacker's choosing. Each
attempt is throttled per address, counted per account (lock-out) and written to the secure log,
successful or not.
"""

from __future__ import annotations

import secrets
import urllib.parse

from firmware.security.accounts import login
from firmware.web.console import HttpError, Page
from firmware.web.http import Response
from firmware.web.sessions import COOKIE, PRE_COOKIE, cookie, same_token


def _next(page: Page) -> str:
    target = page.req.arg("next", "/")
    parts = urllib.parse.urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return "/"
    return target


def login_form(page: Page, message: str = "", status: int = 200) -> Response:
    """The form, with a fresh login CSRF token."""
    token = secrets.token_urlsafe(24)
    response = page.render(
        "login.html", status=status, csrf=token, message=message, next=_next(page), name=page.req.arg("name")
    )
    response.cookies.append(cookie(PRE_COOKIE, token, 600))
    return response


def show_login(page: Page) -> Response:
    """GET /login."""
    if page.session is not None:
        return page.redirect(_next(page))
    return login_form(page)


def do_login(page: Page) -> Response:
    """POST /login."""
    req, app = page.req, page.app
    if not same_token(req.cookies.get(PRE_COOKIE, ""), req.arg("_csrf")):
        raise HttpError(403, "the login form has no valid CSRF token (it is old or came from elsewhere): reload it")
    name, password = req.arg("name")[:64], (req.form.get("password") or [""])[0]
    if not page.console.login_throttle.allow(req.remote_ip):
        return login_form(page, "Too many login attempts from this address: wait a minute and try again.", 429)
    web = app.config.web
    result = login(app.store, name, password, web.lockout_failures, web.lockout_s)
    if result.account is None:
        locked = result.outcome == "locked"
        if not locked and not _is_account(page, name):
            locked = page.console.phantoms.fail(name)
        page.audit("web_login_failed", {"name": name, "address": req.remote_ip, "locked": locked})
        if locked:
            return login_form(
                page,
                f"Too many wrong passwords: this account is locked for {web.lockout_s / 60:g} minutes "
                "(an admin can unlock it sooner).",
                403,
            )
        return login_form(page, "Wrong account name or password.", 403)
    token, session = page.console.sessions.start(result.account.id, result.account.name, result.account.role)
    page.session = session
    page.audit("web_login", {"address": req.remote_ip, "role": session.role})
    response = page.redirect(_next(page))
    response.cookies += [cookie(COOKIE, token), cookie(PRE_COOKIE, "", 0)]
    return response


def _is_account(page: Page, name: str) -> bool:
    from firmware.errors import NotFoundError
    from firmware.store.web_accounts import find

    try:
        with page.app.store.reader() as conn:
            find(conn, name)
    except NotFoundError:
        return False
    return True


def do_logout(page: Page) -> Response:
    """POST /logout."""
    page.audit("web_logout", {})
    page.console.sessions.end(page.req.cookies.get(COOKIE))
    response = Response(303, b"", headers={"Location": "/login"})
    response.cookies.append(cookie(COOKIE, "", 0))
    return response

"""Updates (running models, offered release, install, rollback), the secure log (read-only)
and the console's accounts and API tokens."""

from __future__ import annotations

from firmware.comms.commands import CommandRejectedError
from firmware.errors import InvalidInputError, UpdateError
from firmware.ota.install import Installer
from firmware.security import accounts, tokens
from firmware.security.audit import secure_log
from firmware.store import api_tokens, web_accounts
from firmware.web.console import HttpError, Page
from firmware.web.http import Response


def _installer(page: Page) -> Installer:
    return Installer(page.app.config, page.app.store, page.app.notify)


def updates_page(page: Page) -> Response:
    """GET /updates."""
    status = page.app.status()
    return page.render("updates.html", ota=_installer(page).status(), models=status.get("model_files", {}))


def updates_action(page: Page) -> Response:
    """POST /updates/<action>: check, install (in the background) or rollback."""
    action = page.req.params["action"]
    installer = _installer(page)
    try:
        if action == "check":
            outcome, _offer = installer.check()
            message = f"{outcome.status}: {outcome.detail or outcome.release}"
        elif action == "install":
            if page.app.install is None:
                raise HttpError(409, "updates are not available in this run")
            message = page.app.install({})
        else:
            message = f"rolled back: {installer.rollback(f'console request by {page.actor}').detail}"
    except (UpdateError, CommandRejectedError) as err:
        raise HttpError(409, str(err)) from err
    page.audit("web_update", {"action": action, "result": message})
    return page.redirect("/updates", message)


def audit_page(page: Page) -> Response:
    """GET /audit: decrypted secure-log entries, newest first; reading them is logged too."""
    from datetime import UTC

    from firmware.platform.clock import parse_iso, to_iso

    app = page.app
    user = page.req.arg("user") or None
    try:
        since = to_iso(parse_iso(page.req.arg("from"), assume=UTC)) if page.req.arg("from") else None
        until = to_iso(parse_iso(page.req.arg("to"), assume=UTC)) if page.req.arg("to") else None
    except ValueError as err:
        raise InvalidInputError(f"dates: {err}") from err
    log = secure_log(app.config.paths, app.config.device.id)
    with app.store.reader() as conn:
        entries = log.entries(conn, user, since, until)[-300:]
    page.audit("audit_read", {"user": user, "from": since, "to": until, "entries": len(entries)})
    return page.render(
        "audit.html", entries=list(reversed(entries)),
        f={"user": user or "", "from": page.req.arg("from"), "to": page.req.arg("to")},
    )  # fmt: skip


def accounts_page(page: Page, new_token: str = "") -> Response:
    """GET /accounts."""
    with page.app.store.reader() as conn:
        people, keys = web_accounts.list_accounts(conn), api_tokens.list_tokens(conn)
    return page.render("accounts.html", accounts=people, tokens=keys, scopes=tokens.SCOPES, new_token=new_token)


def account_add(page: Page) -> Response:
    """POST /accounts."""
    name, role = page.req.arg("name"), page.req.arg("role")
    password = (page.req.form.get("password") or [""])[0]
    account = accounts.create(page.app.store, name, role, password, page.actor)
    page.audit("web_account_added", {"name": account.name, "role": account.role})
    return page.redirect("/accounts", f"Account {account.name} ({account.role}) added.")


def account_action(page: Page) -> Response:
    """POST /accounts/<name>/<action>: unlock, password or remove."""
    name, action, store = page.req.params["name"], page.req.params["action"], page.app.store
    with store.reader() as conn:
        account = web_accounts.find(conn, name)
    if action == "unlock":
        store.write(lambda c: web_accounts.unlock(c, name))
    elif action == "password":
        accounts.set_password(store, name, (page.req.form.get("password") or [""])[0])
    else:
        if page.session is not None and name == page.session.name:
            raise InvalidInputError("you cannot remove the account you are logged in with")
        store.write(lambda c: accounts.remove(c, name))
    if action != "unlock":
        page.console.sessions.end_account(account.id)
    page.audit(f"web_account_{action}", {"name": name})
    return page.redirect("/accounts", f"Account {name}: {action} done.")


def token_add(page: Page) -> Response:
    """POST /tokens: a new API token, shown once."""
    name, scopes = page.req.arg("name"), tokens.parse_scopes(page.req.form.get("scopes", []))
    token, _id = page.app.store.write(lambda c: tokens.insert_token(c, name, scopes, page.actor))
    page.audit("api_token_added", {"name": name, "scopes": list(scopes)})
    return accounts_page(page, token)


def token_revoke(page: Page) -> Response:
    """POST /tokens/<name>/revoke."""
    name = page.req.params["name"]
    page.app.store.write(lambda c: api_tokens.revoke(c, name))
    page.audit("api_token_revoked", {"name": name})
    return page.redirect("/accounts", f"Token {name} revoked.")

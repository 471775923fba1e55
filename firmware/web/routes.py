"""Every URL of the console and the API, who may use it, and starting the server."""

from __future__ import annotations

from pathlib import Path

from firmware.config import Config
from firmware.errors import OccurError
from firmware.web import admin, api, auth_pages, dashboard, people, pictures, records, strangers
from firmware.web.appliance import Appliance
from firmware.web.console import Console, Page, Route
from firmware.web.http import Response, Server, tls_context

G, P = ("GET",), ("POST",)
ID = r"(?P<id>[0-9]{1,18})"
NAME = r"(?P<name>[A-Za-z0-9_.@-]{1,64})"  # an account or token name


def routes() -> list[Route]:
    """The route table (URL patterns are full matches; ids are digits only)."""
    return [
        Route("login", r"/login", ("GET", "POST"), "public", _login),
        Route("logout", r"/logout", P, "viewer", auth_pages.do_logout),
        Route("dashboard", r"/", G, "viewer", dashboard.dashboard),
        Route("unlock", r"/door/unlock", P, "admin", dashboard.unlock),
        Route("still", r"/camera/still\.jpg", G, "viewer", pictures.still),
        Route("people", r"/people", G, "viewer", people.people_list),
        Route("enrol_new", r"/people/enrol", P, "admin", people.enrol_new),
        Route("person", rf"/people/{ID}", G, "viewer", people.person_page),
        Route("enrol_more", rf"/people/{ID}/enrol", P, "admin", people.enrol_more),
        Route("role", rf"/people/{ID}/role", P, "admin", people.set_role),
        Route("active", rf"/people/{ID}/active", P, "admin", people.set_active),
        Route("forget", rf"/people/{ID}/forget", ("GET", "POST"), "admin", _forget),
        Route("strangers", r"/strangers", G, "viewer", strangers.strangers_page),
        Route("promote", rf"/strangers/{ID}/promote", P, "admin", strangers.promote),
        Route("dismiss", rf"/strangers/{ID}/dismiss", P, "admin", strangers.dismiss),
        Route("events", r"/events", G, "viewer", records.events_page),
        Route("attendance", r"/attendance", G, "viewer", records.attendance_page),
        Route("attendance_csv", r"/attendance\.csv", G, "viewer", records.export_csv),
        Route("attendance_mark", r"/attendance/mark", P, "admin", records.mark),
        Route("attendance_correct", rf"/attendance/{ID}/correct", P, "admin", records.correct),
        Route("updates", r"/updates", G, "viewer", admin.updates_page),
        Route("updates_action", r"/updates/(?P<action>check|install|rollback)", P, "admin", admin.updates_action),
        Route("audit", r"/audit", G, "viewer", admin.audit_page),
        Route("accounts", r"/accounts", G, "admin", admin.accounts_page),
        Route("account_add", r"/accounts/add", P, "admin", admin.account_add),
        Route(
            "account_action",
            rf"/accounts/{NAME}/(?P<action>unlock|password|remove)",
            P,
            "admin",
            admin.account_action,
        ),
        Route("token_add", r"/tokens/add", P, "admin", admin.token_add),
        Route("token_revoke", rf"/tokens/{NAME}/revoke", P, "admin", admin.token_revoke),
        Route("picture", rf"/pictures/(?P<kind>event|attendance|stranger)/{ID}\.jpg", G, "viewer", pictures.picture),
        Route(
            "picture_sample",
            rf"/pictures/(?P<kind>sample)/(?P<user>[0-9]{{1,18}})/{ID}\.jpg",
            G,
            "viewer",
            pictures.picture,
        ),
        Route("api_openapi", r"/api/v1/openapi\.json", G, "api-public", api.openapi),
        Route("api_door", r"/api/v1/door", G, "api:read", api.door),
        Route("api_events", r"/api/v1/events", G, "api:read", api.events),
        Route("api_unlock", r"/api/v1/door/unlock", P, "api:unlock", api.unlock),
        Route("api_enrol", r"/api/v1/people", P, "api:enrol", api.enrol),
    ]


def _forget(page: Page) -> Response:
    return people.forget(page) if page.req.method == "POST" else people.forget_confirm(page)


def _login(page: Page) -> Response:
    return auth_pages.do_login(page) if page.req.method == "POST" else auth_pages.show_login(page)


def certificate_files(config: Config) -> tuple[Path, Path]:
    """The console's certificate and key: ``[web] cert_file`` / ``key_file``, else the pair made
    at provisioning under ``<data_dir>/web/``."""
    folder = config.paths.root / "web"
    cert = Path(config.web.cert_file) if config.web.cert_file else folder / "cert.pem"
    key = Path(config.web.key_file) if config.web.key_file else folder / "key.pem"
    return cert, key


def start(app: Appliance) -> Server:
    """Serve the console for ``app`` on ``[web] host:port``.

    Raises:
        OccurError: no certificate (run ``occur web cert``), or the address is taken.
    """
    cert, key = certificate_files(app.config)
    if not cert.is_file() or not key.is_file():
        raise OccurError(f"web console: no TLS certificate at {cert}: run 'occur web cert' or set [web] cert_file")
    context = tls_context(cert, key)
    table = routes()
    console = Console(app, table)
    server = Server(console.handle, [(r.pattern, r.name) for r in table], int(app.config.web.max_upload_mb * 2**20))
    server.start(app.config.web.host, app.config.web.port, context)
    return server

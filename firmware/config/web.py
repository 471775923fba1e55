"""``[web]``: the operators' console and REST API served by ``occur run`` over HTTPS."""

from __future__ import annotations

from dataclasses import dataclass

from firmware.config.fields import setting as _f


@dataclass(frozen=True)
class WebConfig:
    """The console: where it listens, its certificate, sessions, lock-out and upload limits."""

    enabled: bool = _f(False, "serve the web console and API inside occur run (provisioning turns it on)")
    host: str = _f(
        "0.0.0.0",  # noqa: S104 - a door console is reached from the LAN; set 127.0.0.1 to keep it local
        "address to listen on ('127.0.0.1' = this machine only)",
        pattern=r"[0-9A-Za-z.:_-]{1,253}",
    )
    port: int = _f(8443, "HTTPS port", min=1, max=65535)
    cert_file: str = _f("", "TLS certificate chain, PEM ('' = <data_dir>/web/cert.pem, made by provisioning)")
    key_file: str = _f("", "TLS private key, PEM ('' = <data_dir>/web/key.pem)")
    session_idle_s: float = _f(1800.0, "a session unused this long is logged out, s", min=1.0, max=604800.0)
    session_max_s: float = _f(
        43200.0, "a session ends this long after login whatever its use, s", min=1.0, max=2592000.0
    )
    lockout_failures: int = _f(5, "consecutive wrong passwords that lock an account", min=1, max=100)
    lockout_s: float = _f(900.0, "how long a locked account stays locked, s", min=1.0, max=604800.0)
    login_rate_per_min: int = _f(10, "login attempts per minute from one address before it must wait", min=1, max=1000)
    max_upload_mb: float = _f(24.0, "largest request body (all photos of one upload), MiB", min=0.1, max=256.0)
    max_photos: int = _f(10, "most photos in one enrolment upload", min=1, max=100)

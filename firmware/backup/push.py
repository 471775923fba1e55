"""Push sealed backups home: HTTP PUT of each ``.occbak`` to ``[backup] push_url``/<file name>.

Works with anything that accepts PUT: S3 presigned URLs, WebDAV, nginx ``dav_methods PUT``. Each
archive is retried with exponential backoff (1 s doubling to 30 s) up to ``push_attempts`` times
per run; the outcome is recorded in ``backup_pushes``. An archive counts as home only after a 2xx
answer, and rotation keeps every archive that has not been confirmed (see ``backup.rotate``).
The archives are sealed to the operator: the target learns nothing but their size.
"""

from __future__ import annotations

import base64
import logging
import threading
import urllib.error
import urllib.request
from dataclasses import dataclass, field

from firmware.backup.archive import list_backups, pushed_archives
from firmware.comms.client import read_secret
from firmware.config import Config
from firmware.store import backup_pushes
from firmware.store.store import Store

log = logging.getLogger(__name__)


@dataclass
class PushReport:
    """Archives pushed now, and those still waiting with their last error."""

    pushed: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)


def _put(url: str, data: bytes, auth: str | None, timeout: float) -> None:
    if not url.startswith(("http://", "https://")):
        raise urllib.error.URLError(f"push_url must be http(s), got {url.split(':', 1)[0]}")
    request = urllib.request.Request(  # noqa: S310 - scheme checked above
        url,
        data=data,
        method="PUT",
        headers={"Content-Type": "application/octet-stream"},
    )
    if auth:
        request.add_header("Authorization", "Basic " + base64.b64encode(auth.encode()).decode())
    with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310
        if not 200 <= response.status < 300:
            raise urllib.error.HTTPError(url, response.status, "unexpected status", response.headers, None)


def push(store: Store, config: Config, stop: threading.Event | None = None) -> PushReport:
    """Push every archive not yet confirmed."""
    settings = config.backup
    report = PushReport()
    if not settings.push_url:
        return report
    auth = read_secret(settings.push_auth_file, "backup.push_auth_file") if settings.push_auth_file else None
    done = pushed_archives(store)
    stop = stop or threading.Event()
    for backup in sorted(list_backups(config.paths), key=lambda b: b.stamp):
        if backup.kind != "occbak" or backup.path.name in done:
            continue
        url = f"{settings.push_url.rstrip('/')}/{backup.path.name}"
        data = backup.path.read_bytes()
        delay, error = 1.0, ""
        for attempt in range(1, settings.push_attempts + 1):
            try:
                _put(url, data, auth, settings.push_timeout_s)
                error = ""
                break
            except (urllib.error.URLError, OSError, TimeoutError) as err:
                error = str(getattr(err, "reason", err))
                log.warning("backup push of %s failed (attempt %d): %s", backup.path.name, attempt, error)
                if attempt < settings.push_attempts and stop.wait(delay):
                    break
                delay = min(delay * 2, 30.0)
        _record(store, backup.path.name, "failed" if error else "pushed", attempt, error)
        if error:
            report.failed[backup.path.name] = error
        else:
            report.pushed.append(backup.path.name)
    return report


def _record(store: Store, name: str, status: str, attempts: int, error: str) -> None:
    store.write(lambda conn: backup_pushes.record_push(conn, name, status, attempts, error))

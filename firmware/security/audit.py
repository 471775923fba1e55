"""One call to put an entry in the secure log: ``audit(store, paths, type, data, user_id)``.

Used by the commands that touch personal data (enrolment, identification review, export,
deletion, remote commands). A failure to audit is an error for the command: an access that
cannot be recorded is not done silently.
"""

from __future__ import annotations

from typing import Any

from firmware.config import Paths
from firmware.crypto.keys import Keys
from firmware.security.securelog import SecureLog
from firmware.store.store import Store


def secure_log(paths: Paths, device_id: str = "") -> SecureLog:
    """The secure log with this data folder's keys (created on first use)."""
    return SecureLog(Keys(paths.keys), device_id)


def audit(store: Store, paths: Paths, event_type: str, data: Any, user_id: object = None, device_id: str = "") -> int:
    """Append one entry; returns its sequence number."""
    log = secure_log(paths, device_id)
    user = None if user_id is None else str(user_id)
    return store.write(lambda conn: log.append(conn, event_type, data, user))

"""systemd's notify protocol (``sd_notify``) without a dependency: a datagram to
``$NOTIFY_SOCKET``. Outside systemd the variable is unset and every call does nothing."""

from __future__ import annotations

import logging
import os
import socket

log = logging.getLogger(__name__)


def notify(message: str, environ: dict[str, str] | None = None) -> bool:
    """Send ``message`` (e.g. ``READY=1``, ``WATCHDOG=1``, ``STOPPING=1``); True if sent."""
    address = (environ if environ is not None else os.environ).get("NOTIFY_SOCKET")
    if not address:
        return False
    if address.startswith("@"):
        address = "\0" + address[1:]
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
            sock.connect(address)
            sock.sendall(message.encode())
    except OSError as err:
        log.warning("sd_notify %s failed: %s", message, err)
        return False
    return True


def watchdog_interval_s(environ: dict[str, str] | None = None) -> float | None:
    """Half the watchdog period systemd asked for (``WATCHDOG_USEC``), or None."""
    value = (environ if environ is not None else os.environ).get("WATCHDOG_USEC")
    try:
        return int(value) / 2e6 if value else None
    except ValueError:
        return None

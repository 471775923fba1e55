"""Authenticated MQTT commands: ``<prefix>/cmd/<name>`` with a signed JSON payload.

Payload: ``{"ts": <Unix seconds>, "nonce": "<8-64 chars>", "args": {...}, "sig": "<hex>"}`` where
``sig`` is HMAC-SHA256, under the key from provisioning (``[mqtt] command_key_file``), of the
canonical JSON ``{"args": ..., "cmd": <name>, "nonce": ..., "ts": ...}`` (sorted keys, no spaces).
A command is refused, with the reason, when: it arrives retained; no key is configured; the
payload is not that JSON; the signature is wrong; ``ts`` is further than ``command_max_age_s``
from now; or the nonce was seen before (kept in the database, so also across restarts).
Broker ACLs and TLS identities are the first line; this is the second.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import time
from dataclasses import dataclass
from typing import Any

COMMANDS = ("unlock", "reload", "snapshot", "backup", "update")
_NONCE = re.compile(r"[A-Za-z0-9_-]{8,64}")


@dataclass(frozen=True)
class Command:
    """A verified command."""

    name: str
    nonce: str
    ts: float
    args: dict[str, Any]


class CommandRejectedError(Exception):
    """A command that must not be acted on; the message is the reason sent back."""


def canonical(name: str, ts: float, nonce: str, args: dict[str, Any]) -> bytes:
    """The bytes that are signed."""
    return json.dumps(
        {"args": args, "cmd": name, "nonce": nonce, "ts": ts}, sort_keys=True, separators=(",", ":")
    ).encode()


def sign(key: bytes, name: str, ts: float, nonce: str, args: dict[str, Any] | None = None) -> dict[str, Any]:
    """A signed payload (for operators' tools and tests)."""
    args = args or {}
    sig = hmac.new(key, canonical(name, ts, nonce, args), hashlib.sha256).hexdigest()
    return {"ts": ts, "nonce": nonce, "args": args, "sig": sig}


def verify(name: str, payload: bytes, retained: bool, key: bytes | None, max_age_s: float,
           now: float | None = None) -> Command:  # fmt: skip
    """Check everything but the nonce's novelty (the caller records it atomically).

    Raises:
        CommandRejectedError: with the reason.
    """
    if retained:
        raise CommandRejectedError("retained commands are never acted on")
    if name not in COMMANDS:
        raise CommandRejectedError(f"unknown command {name!r}")
    if not key:
        raise CommandRejectedError("commands are disabled: no command key is configured")
    try:
        doc = json.loads(payload.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as err:
        raise CommandRejectedError("payload is not JSON") from err
    if not isinstance(doc, dict) or set(doc) != {"ts", "nonce", "args", "sig"}:
        raise CommandRejectedError("payload must have exactly ts, nonce, args and sig")
    ts, nonce, args, sig = doc["ts"], doc["nonce"], doc["args"], doc["sig"]
    if not isinstance(ts, int | float) or isinstance(ts, bool) or ts != ts:
        raise CommandRejectedError("ts must be Unix seconds")
    if not isinstance(nonce, str) or not _NONCE.fullmatch(nonce):
        raise CommandRejectedError("nonce must be 8-64 letters, digits, '_' or '-'")
    if not isinstance(args, dict) or not isinstance(sig, str):
        raise CommandRejectedError("args must be an object and sig a string")
    expected = hmac.new(key, canonical(name, ts, nonce, args), hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected, sig.lower()):
        raise CommandRejectedError("bad signature")
    if abs((time.time() if now is None else now) - float(ts)) > max_age_s:
        raise CommandRejectedError("expired (or clock skew beyond the allowed window)")
    return Command(name, nonce, float(ts), args)

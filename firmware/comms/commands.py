"""Authenticated MQTT commands: ``<prefix>/cmd/<name>`` with a signed JSON payload.

Payload: ``{"ts": <Unix seconds>, "nonce": "<8-64 chars>", "args": {...}, "sig": "<hex>"}`` where
``sig`` is HMAC-SHA256, under the key from provisioning (``[mqtt] command_key_file``), of the
canonical JSON ``{"args": ..., "cmd": <name>, "nonce": ..., "ts": ...}`` (sorted keys, no spaces).
A command is refused, with the reason, when: it arrives retained; no key is configured; the
payload is larger than :data:`MAX_PAYLOAD` bytes or is not that JSON (nesting deeper than
:data:`MAX_DEPTH` included); the signature is wrong; ``ts`` is further than
``command_max_age_s`` from now; or the nonce was seen before (kept in the database, so also
across restarts). Broker ACLs and TLS identities are the first line; this is the second.

:func:`verify` is pure CPU on a few KB: it runs for every message, junk included, before
anything is written, so a flood costs the door microseconds per message, not an fsync.
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
MAX_PAYLOAD = 4096  # bytes; a signed command is under 300
MAX_DEPTH = 8  # nesting of args
_NONCE = re.compile(r"[A-Za-z0-9_-]{8,64}")


def _depth(value: object) -> int:
    """Nesting depth of decoded JSON, iteratively (no recursion to exhaust)."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        item, level = stack.pop()
        if isinstance(item, dict | list):
            deepest = max(deepest, level)
            stack.extend((v, level + 1) for v in (item.values() if isinstance(item, dict) else item))
    return deepest


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
    ts, nonce, args, sig = _fields(_decode(payload))
    expected = hmac.new(key, canonical(name, ts, nonce, args), hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected, sig.lower()):
        raise CommandRejectedError("bad signature")
    if abs((time.time() if now is None else now) - float(ts)) > max_age_s:
        raise CommandRejectedError("expired (or clock skew beyond the allowed window)")
    return Command(name, nonce, float(ts), args)


def _decode(payload: bytes) -> Any:
    """The JSON document, bounded in size and depth before and while parsing."""
    if len(payload) > MAX_PAYLOAD:
        raise CommandRejectedError(f"payload larger than {MAX_PAYLOAD} bytes")
    if not payload.lstrip().startswith(b"{"):
        raise CommandRejectedError("payload is not JSON")
    try:
        return json.loads(payload.decode("utf-8"))
    except RecursionError as err:
        raise CommandRejectedError(f"payload nested deeper than {MAX_DEPTH} levels") from err
    except (UnicodeDecodeError, ValueError) as err:
        raise CommandRejectedError("payload is not JSON") from err


def _fields(doc: Any) -> tuple[float, str, dict[str, Any], str]:
    """ts, nonce, args and sig, each of the right type."""
    if not isinstance(doc, dict) or set(doc) != {"ts", "nonce", "args", "sig"}:
        raise CommandRejectedError("payload must have exactly ts, nonce, args and sig")
    ts, nonce, args, sig = doc["ts"], doc["nonce"], doc["args"], doc["sig"]
    if not isinstance(ts, int | float) or isinstance(ts, bool) or ts != ts:
        raise CommandRejectedError("ts must be Unix seconds")
    if not isinstance(nonce, str) or not _NONCE.fullmatch(nonce):
        raise CommandRejectedError("nonce must be 8-64 letters, digits, '_' or '-'")
    if not isinstance(args, dict) or not isinstance(sig, str):
        raise CommandRejectedError("args must be an object and sig a string")
    if _depth(args) > MAX_DEPTH:
        raise CommandRejectedError(f"payload nested deeper than {MAX_DEPTH} levels")
    return ts, nonce, args, sig

"""Acting on verified commands, and answering every command on ``<prefix>/cmd/<name>/reply``.

Two stages, so junk costs no writes:

1. :meth:`CommandHandler.screen` (pure CPU, runs on paho's network thread for every message):
   size, JSON, signature, age, and a nonce seen in the last minutes (kept in memory). A refusal
   here is counted (:class:`~firmware.comms.refusals.RefusalTally`), answered at a bounded rate,
   and written as one ``command_refusals`` system event and secure-log entry per interval.
2. :meth:`CommandHandler.execute` (the command thread, see :mod:`firmware.comms.intake`): the
   nonce recorded in the database (replays across restarts), the action, and one audit record
   per command, accepted or refused. Only authenticated commands get here.

The handler never acts on its own: it calls the actions the service gives it (unlock, reload,
snapshot, backup, update). ``unlock`` goes through the same fail-closed rule as the loop:
refused while the door shows a fault.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable

from firmware.comms.commands import COMMANDS, Command, CommandRejectedError, verify
from firmware.comms.refusals import RefusalTally, TokenBucket
from firmware.comms.topics import Topics
from firmware.errors import OccurError
from firmware.platform.clock import now_iso, unix_iso
from firmware.store import outbox
from firmware.store.store import Store

log = logging.getLogger(__name__)
Action = Callable[[dict[str, object]], str]
REPLIES_PER_S = 5.0  # answers to refused commands, on average
REPLY_BURST = 20
RECENT_NONCES = 10_000  # signed nonces remembered in memory (the database keeps them all)


class CommandHandler:
    """Screen, deduplicate, act, audit, reply."""

    def __init__(
        self,
        store: Store,
        prefix: str,
        key: bytes | None,
        max_age_s: float,
        actions: dict[str, Action],
        reply: Callable[[str, str], None],
        secure_audit: Callable[[dict[str, object]], object] | None = None,
    ) -> None:
        self.store = store
        self.topics = Topics(prefix)
        self.key = key
        self.max_age_s = max_age_s
        self.actions = actions
        self.reply = reply
        self.secure_audit = secure_audit
        self.handled = 0
        self.refusals = RefusalTally()
        self._replies = TokenBucket(REPLIES_PER_S, REPLY_BURST)
        self._recent: OrderedDict[str, float] = OrderedDict()
        self._lock = threading.Lock()

    def __call__(self, topic: str, payload: bytes, retained: bool) -> None:
        """Handle one message from ``<prefix>/cmd/+`` start to end, on the caller's thread;
        never raises."""
        command = self.screen(topic, payload, retained)
        if command is not None:
            self.execute(command)

    def screen(self, topic: str, payload: bytes, retained: bool) -> Command | None:
        """The verified command, or None after counting and (rate-limited) answering the
        refusal. No I/O besides that answer; never raises."""
        name = topic.rsplit("/", 1)[-1]
        try:
            command = verify(name, payload, retained, self.key, self.max_age_s)
            self._remember(command)
        except CommandRejectedError as err:
            self.refuse(name, None, str(err))
            return None
        except Exception as err:  # noqa: BLE001 - junk must never reach paho's thread as an exception
            self.refuse(name, None, f"malformed ({type(err).__name__})")
            return None
        return command

    def _remember(self, command: Command) -> None:
        """Refuse a nonce seen in the last ``2 * max_age_s`` (a captured command replayed in a
        flood) without touching the database; remember this one."""
        now = time.time()
        with self._lock:
            while self._recent and (
                len(self._recent) >= RECENT_NONCES or next(iter(self._recent.values())) < now - 2 * self.max_age_s
            ):
                self._recent.popitem(last=False)
            if command.nonce in self._recent:
                raise CommandRejectedError("replayed nonce")
            self._recent[command.nonce] = now

    def forget(self, command: Command) -> None:
        """Drop a screened command's nonce from memory (it was not acted on: it may come again)."""
        with self._lock:
            self._recent.pop(command.nonce, None)

    def refuse(self, name: str, nonce: str | None, reason: str) -> None:
        """Count a refusal before authentication and answer it if the reply budget allows."""
        source = f"cmd/{name}" if name in COMMANDS else "cmd/(other)"
        if self.refusals.add(source, reason):
            log.warning("command refused on %s: %s (further refusals are counted)", source, reason)
        if self._replies.allow():
            self._send(name, nonce, False, reason)

    def execute(self, command: Command) -> None:
        """Record the nonce, act, audit and answer one authenticated command; never raises."""
        name, nonce = command.name, command.nonce
        try:
            forget = unix_iso(time.time() - 2 * self.max_age_s)
            fresh = self.store.write(lambda c: outbox.remember_nonce(c, nonce, now_iso(), forget))
            if not fresh:
                raise CommandRejectedError("replayed nonce")
            action = self.actions.get(name)
            if action is None:
                raise CommandRejectedError(f"{name} is not available on this device")
            result, ok = action(command.args), True
        except CommandRejectedError as err:
            result, ok = str(err), False
        except OccurError as err:
            result, ok = f"failed: {err}", False
        except Exception as err:
            log.exception("command %s failed", name)
            result, ok = f"failed: {type(err).__name__}", False
        self.handled += 1
        self._audit(name, ok, result, nonce)
        self._send(name, nonce, ok, result)

    def _send(self, name: str, nonce: str | None, ok: bool, result: str) -> None:
        try:
            self.reply(
                self.topics.reply(name),
                json.dumps({"command": name, "nonce": nonce, "ok": ok, "result": result, "ts": now_iso()}),
            )
        except Exception as err:  # noqa: BLE001 - a failed answer must not stop the handling
            log.warning("could not answer command %s: %s", name, err)

    def _audit(self, name: str, ok: bool, result: str, nonce: str | None) -> None:
        details = json.dumps({"command": name, "ok": ok, "result": result, "nonce": nonce})
        log.log(logging.INFO if ok else logging.WARNING, "command %s: %s", name, result)
        try:
            self.store.log_system_event("command", details)
            if self.secure_audit is not None:
                self.secure_audit({"command": name, "ok": ok, "result": result, "nonce": nonce})
        except OccurError as err:
            log.error("could not audit command %s: %s", name, err)

    def flush_refusals(self) -> int:
        """Write the refusals counted since the last flush as one ``command_refusals`` system
        event (and secure-log entry); returns how many were counted. Called every interval and
        at stop."""
        report = self.refusals.take()
        if not report.total:
            return 0
        doc = {"from": unix_iso(report.since), "to": unix_iso(report.until), "total": report.total,
               "counts": report.counts}  # fmt: skip
        log.warning("commands refused: %d from %s to %s: %s", report.total, doc["from"], doc["to"], report.counts)
        try:
            self.store.log_system_event("command_refusals", json.dumps(doc))
            if self.secure_audit is not None:
                self.secure_audit({"command_refusals": doc})
        except OccurError as err:
            log.error("could not audit %d refused commands: %s", report.total, err)
        return report.total

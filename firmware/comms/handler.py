"""Acting on verified commands, and answering every command on ``<prefix>/cmd/<name>/reply``.

The handler never acts on its own: it calls the actions the service gives it (unlock, reload,
snapshot, backup). ``unlock`` goes through the same fail-closed rule as the loop: refused while
the door shows a fault. Every command, accepted or not, is audited as a system event.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable

from firmware.clock import now_iso, unix_iso
from firmware.comms.commands import CommandRejectedError, verify
from firmware.errors import OccurError
from firmware.store import outbox
from firmware.store.events import insert_system_event
from firmware.store.store import Store

log = logging.getLogger(__name__)
Action = Callable[[dict[str, object]], str]


class CommandHandler:
    """Verify, deduplicate, act, audit, reply."""

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
        self.prefix = prefix
        self.key = key
        self.max_age_s = max_age_s
        self.actions = actions
        self.reply = reply
        self.secure_audit = secure_audit
        self.handled = 0

    def __call__(self, topic: str, payload: bytes, retained: bool) -> None:
        """Handle one message from ``<prefix>/cmd/+``; never raises."""
        name = topic.rsplit("/", 1)[-1]
        nonce = None
        try:
            command = verify(name, payload, retained, self.key, self.max_age_s)
            nonce = command.nonce
            forget = unix_iso(time.time() - 2 * self.max_age_s)
            fresh = self.store.write(lambda c: outbox.remember_nonce(c, command.nonce, now_iso(), forget))
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
        self.handled += 1
        self._audit(name, ok, result, nonce)
        self.reply(
            f"{self.prefix}/cmd/{name}/reply",
            json.dumps({"command": name, "nonce": nonce, "ok": ok, "result": result, "ts": now_iso()}),
        )

    def _audit(self, name: str, ok: bool, result: str, nonce: str | None) -> None:
        details = json.dumps({"command": name, "ok": ok, "result": result, "nonce": nonce})
        log.log(logging.INFO if ok else logging.WARNING, "command %s: %s", name, result)
        try:
            self.store.write(lambda c: insert_system_event(c, now_iso(), "command", details))
            if self.secure_audit is not None:
                self.secure_audit({"command": name, "ok": ok, "result": result, "nonce": nonce})
        except OccurError as err:
            log.error("could not audit command %s: %s", name, err)

"""Door inputs (door contact, exit button, tamper) turned into actions and records.

gpiozero calls :class:`InputRelay` on its callback threads from the moment the door device
exists; the relay keeps what arrives before the policy is attached (the store and the MQTT side
are built after the GPIO, which comes first so the relay is locked before anything else), then
hands everything to :class:`DoorInputs`:

- exit button: the door opens (``exit_request``);
- contact opened while the relay is locked: ``forced_open``; open longer than ``held_open_s``:
  one ``held_open`` per opening (checked by :meth:`DoorInputs.tick`, on a worker); closed:
  ``closed``;
- tamper: ``tamper``.

Each is a ``door_events`` row and its MQTT event in one transaction
(:func:`firmware.store.eventlog.door_input`); the contact's state also goes to ``on_contact``
(the retained ``<prefix>/door/contact``). The clock is injectable (monotonic seconds).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from firmware.config import DoorConfig
from firmware.errors import OccurError
from firmware.hw.door import DoorDevice
from firmware.platform.clock import now_iso
from firmware.store import eventlog
from firmware.store.store import Store

log = logging.getLogger(__name__)
INPUTS = {
    "exit_request": ("exit_request", "request-to-exit button"),
    "door_closed": ("closed", "door contact closed"),
    "tamper": ("tamper", "tamper switch"),
}


class InputRelay:
    """The door device's ``on_input``: buffers inputs until :meth:`attach`, then forwards."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._early: list[str] = []
        self._target: Callable[[str], None] = self._early.append

    def __call__(self, kind: str) -> None:
        """An input from the door device."""
        with self._lock:
            target = self._target
        target(kind)

    def attach(self, target: Callable[[str], None]) -> None:
        """Forward from now on, after replaying what arrived before."""
        with self._lock:
            early, self._target = list(self._early), target
            self._early.clear()
        for kind in early:
            target(kind)


class DoorInputs:
    """The policy for door inputs (see the module doc)."""

    def __init__(
        self,
        config: DoorConfig,
        store: Store,
        door: DoorDevice,
        wake: Callable[[], None] = lambda: None,
        on_contact: Callable[[str], None] = lambda _state: None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.config = config
        self.store = store
        self.door = door
        self.wake = wake
        self.on_contact = on_contact
        self.clock = clock
        self._lock = threading.Lock()
        self.opened_at = -1.0  # monotonic seconds of the current opening; negative: door shut
        self.held_reported = False

    def __call__(self, kind: str) -> None:
        """Act on and record one input (``exit_request``, ``door_opened``, ``door_closed``,
        ``tamper``); on the caller's thread (gpiozero's)."""
        outcome, reason = INPUTS.get(kind, ("", ""))
        if kind == "exit_request":
            self.door.grant()
        elif kind == "door_opened":
            with self._lock:
                self.opened_at, self.held_reported = self.clock(), False
            self.on_contact("open")
            if self.door.unlocked:
                return
            outcome, reason = "forced_open", "door opened while locked"
        elif kind == "door_closed":
            with self._lock:
                self.opened_at = -1.0
            self.on_contact("closed")
        if outcome:
            self._record(outcome, reason)

    def tick(self) -> None:
        """Raise ``held_open`` once per opening that lasts more than ``held_open_s``."""
        limit = self.config.held_open_s
        with self._lock:
            due = self.opened_at >= 0 and not self.held_reported and self.clock() - self.opened_at > limit
            if due:
                self.held_reported = True
        if due:
            self._record("held_open", f"door open more than {limit:.0f} s")

    def _record(self, outcome: str, reason: str) -> None:
        stamp = now_iso()
        try:
            self.store.write(lambda c: eventlog.door_input(c, self.store.origin, stamp, outcome, reason))
            self.wake()
        except OccurError as err:
            log.error("could not record %s: %s", outcome, err)

"""Commands off paho's network thread: screened where they arrive, acted on by one command thread.

paho calls :meth:`CommandIntake.offer` on its network thread for every message on
``<prefix>/cmd/+``. There, :meth:`CommandHandler.screen` rejects junk in microseconds with no
write, so a flood cannot stall the connection (keepalives, PUBACKs, the outbox keep flowing).
Authenticated commands go into a bounded queue; the command thread records, acts, audits and
answers them in order. A full queue refuses the newest signed command as busy rather than block
the network thread. The same thread writes the counted refusals every ``report_s`` seconds and
once more at stop.
"""

from __future__ import annotations

import logging
import queue
import threading
import time

from firmware.comms.commands import Command
from firmware.comms.handler import CommandHandler

log = logging.getLogger(__name__)
MAX_QUEUED = 32
REPORT_S = 60.0


class CommandIntake:
    """The bounded queue between paho's network thread and the command thread."""

    def __init__(self, handler: CommandHandler, max_queued: int = MAX_QUEUED, report_s: float = REPORT_S) -> None:
        self.handler = handler
        self.report_s = report_s
        self._queue: queue.Queue[Command | None] = queue.Queue(max_queued)
        self._thread = threading.Thread(target=self._run, name="mqtt-commands", daemon=True)
        self._stopping = threading.Event()

    def start(self) -> None:
        """Start the command thread."""
        self._thread.start()

    def offer(self, topic: str, payload: bytes, retained: bool) -> None:
        """Screen one message (caller's thread: paho's); queue it if it is an authenticated
        command. Never blocks, never raises."""
        command = self.handler.screen(topic, payload, retained)
        if command is None:
            return
        try:
            self._queue.put_nowait(command)
        except queue.Full:
            self.handler.forget(command)
            self.handler.refuse(command.name, command.nonce, "busy: too many commands waiting, try again")

    def _run(self) -> None:
        next_report = time.monotonic() + self.report_s
        while True:
            try:
                command = self._queue.get(timeout=max(0.05, min(1.0, next_report - time.monotonic())))
            except queue.Empty:
                command = None
            else:
                if command is None:
                    break
                self.handler.execute(command)
            if time.monotonic() >= next_report:
                next_report = time.monotonic() + self.report_s
                self.handler.flush_refusals()
        self.handler.flush_refusals()

    def stop(self, timeout_s: float = 10.0) -> None:
        """Finish the queued commands, write the last refusal counts, stop the thread."""
        if not self._thread.is_alive():
            self.handler.flush_refusals()
            return
        try:
            self._queue.put(None, timeout=timeout_s)
        except queue.Full:
            log.warning("mqtt: command queue still full at stop")
        self._thread.join(timeout_s)
        if self._thread.is_alive():
            log.warning("mqtt: command thread still busy after %.0f s", timeout_s)

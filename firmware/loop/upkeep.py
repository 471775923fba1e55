"""What ``occur run`` does once a second besides frames: check that the storage files are still
the ones opened, write the status file (best effort), and report, once writing works again, what
a full disk kept from being recorded.

A status file that cannot be written (a full disk, a read-only folder) is counted and logged
once per run of failures; it never stops the door, because under ``Restart=always`` that would
be a crash loop on a full disk. A storage file deleted under the running store (see
:mod:`firmware.store.health`) does stop it: the door locks and shows a fault, and
:class:`~firmware.errors.StoreError` ends the run with exit status 4.
"""

from __future__ import annotations

import json
import logging
import shutil

from firmware.config import Config
from firmware.errors import OccurError, StoreError
from firmware.hw.door import DoorDevice
from firmware.loop.unrecorded import Unrecorded
from firmware.platform.fileio import write_private
from firmware.store.store import Store

log = logging.getLogger(__name__)


class Upkeep:
    """Once-a-second duties of the running door."""

    def __init__(self, config: Config, store: Store, door: DoorDevice, unrecorded: Unrecorded, reserve: int) -> None:
        self.config = config
        self.store = store
        self.door = door
        self.unrecorded = unrecorded
        self.reserve = reserve
        self._failing = False

    def check_health(self) -> None:
        """Stop the door, locked, when a storage file was deleted or replaced under it.

        Raises:
            StoreError: naming each file and what happened to it.
        """
        problems = self.store.health()
        if problems:
            self.door.lock()
            self.door.show("fault")
            raise StoreError("; ".join(problems))

    def status_file(self, doc: dict[str, object]) -> bool:
        """Write ``run/status.json`` atomically; False (counted, logged once) when it failed."""
        path = self.config.paths.root / "run" / "status.json"
        try:
            write_private(path, json.dumps(doc, indent=2).encode())
        except OSError as err:
            self.unrecorded.note("status_writes")
            if not self._failing:
                log.warning("status file %s not written (counted; the door goes on): %s", path, err)
            self._failing = True
            return False
        self._failing = False
        return True

    def space_returned(self, status_written: bool) -> None:
        """Once writing works again, reserve the ballast again and report what was dropped."""
        if self.store.ballast_released:
            self.store.restore_ballast()
        if not self.unrecorded.pending or not status_written:
            return
        try:
            if shutil.disk_usage(self.config.paths.root).free < 2 * self.reserve:
                return
        except OSError:
            return
        summary = self.unrecorded.take()
        try:
            self.store.log_system_event(
                "disk_space_recovered", f"writing works again; not recorded meanwhile: {summary}"
            )
        except OccurError as err:
            log.error("could not report what was not recorded (%s): %s", summary, err)

    def stop_note(self) -> str:
        """For ``system_stop``: what is still unreported ("" when nothing)."""
        summary = self.unrecorded.take()
        return f"; not recorded while writing failed: {summary}" if summary else ""

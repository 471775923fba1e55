"""The running door's side of updates: following the switch, and the ``update`` command.

:class:`ModelFollower` is polled by :class:`firmware.workers.updates.FollowWorker` (the
scheduled repository check is :class:`firmware.workers.updates.CheckWorker`). When the
``current`` release changes (installed by the worker or by ``occur ota apply`` in another process, or rolled back)
it loads the new models and hands them to the loop; if they do not load, the release is rolled
back and the running models keep serving (fail closed: the door never runs without a model
set it has loaded).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any, Protocol

from firmware.config import Config
from firmware.errors import ModelError, OccurError
from firmware.ota.install import Installer
from firmware.store.store import Store
from firmware.vision.engine import FaceEngine
from firmware.vision.runtime import release_freed_memory

log = logging.getLogger(__name__)


class EngineUser(Protocol):
    """What the follower needs of the door loop: its engine, and a way to hand it another."""

    @property
    def engine(self) -> FaceEngine:
        """The models the loop runs now."""
        ...

    def use_engine(self, engine: FaceEngine) -> None:
        """Run ``engine`` from the next frame on (tracks restart)."""
        ...


class ModelFollower:
    """Keeps the loop on the release ``<data_dir>/models/current`` names."""

    def __init__(
        self, config: Config, store: Store, loop: EngineUser, notify: Callable[[dict[str, Any]], None] | None = None
    ) -> None:
        self.config = config
        self.store = store
        self.loop = loop
        self.notify = notify
        self.folder = config.active_vision().models_dir

    def changed(self) -> bool:
        """True when ``current`` names another release than the one the loop runs (cheap: no
        lock needed to ask)."""
        return self.config.active_vision().models_dir != self.folder

    def poll(self) -> bool:
        """Swap models if the release changed; returns True when the loop got new models."""
        vision = self.config.active_vision()
        if vision.models_dir == self.folder:
            return False
        # Free the running models first: old and new never in memory together (the door's peak on
        # a 512 MB Zero 2 W). The loop is paused meanwhile (the caller holds the engine lock).
        self.loop.engine.close()
        release_freed_memory()
        try:
            engine = FaceEngine.load(vision)
        except ModelError as err:
            log.error("ota: the switched-to models do not load (%s); rolling back", err)
            try:
                Installer(self.config, self.store, self.notify).rollback(f"models did not load: {err}")
            except OccurError as again:
                log.error("ota: rollback failed: %s", again)
            self.folder = self.config.active_vision().models_dir
            try:
                self.loop.use_engine(FaceEngine.load(self.config.active_vision()))
            except ModelError as again:  # the loop keeps the closed engine: every frame faults, door locked
                log.error("ota: the previous models do not load either: %s", again)
            return False
        self.loop.use_engine(engine)
        del engine
        release_freed_memory()
        installer = Installer(self.config)
        detail = f"door runs {installer.release_id()} ({'+'.join(vision.models)})"
        log.info("ota: %s", detail)
        try:
            self.store.log_system_event("ota_loaded", detail)
        except OccurError as err:
            log.error("ota: could not record the switch: %s", err)
        self.folder = vision.models_dir
        if self.notify is not None:
            self.notify(installer.ha_state())
        return True


def update_command(
    config: Config, store: Store, notify: Callable[[dict[str, Any]], None] | None = None
) -> Callable[[dict[str, object]], str]:
    """The signed MQTT command ``update``: check and install now, in the background (an
    install takes seconds to minutes; the answer must not wait). Progress and the result
    arrive as system events and on ``ota/state``.

    Raises (from the returned action):
        CommandRejectedError: updates are not configured, or one is already running.
    """
    from firmware.comms.commands import CommandRejectedError

    running: list[threading.Thread] = []

    def action(_args: dict[str, object]) -> str:
        if not config.ota.repository_url:
            raise CommandRejectedError("no update repository configured")
        if running and running[0].is_alive():
            raise CommandRejectedError("an update is already running")

        def work() -> None:
            try:
                Installer(config, store, notify).apply()
            except (OccurError, OSError) as err:
                log.error("ota: %s", err)

        running[:] = [threading.Thread(target=work, name="ota-command", daemon=True)]
        running[0].start()
        return "update check started; progress on ota/state and in system events"

    return action

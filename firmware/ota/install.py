"""Install a model update: check, download, verify, stage, self-test, re-embed, switch, prune.

Every step leaves the door with a complete model set: the running release is never written
(staging builds beside it), the switch is one atomic rename, and the running release's
encodings stay until a later install prunes them, so a power cut at any point leaves the old
or the new release, never neither (the SIGKILL tests go through every step). On any failure
before the switch the staged release is removed and the running one keeps serving.

Each step is reported three ways in one transaction: a ``system_events`` row, its MQTT event
(``type = system``), and a secure-log entry; ``ota.json`` keeps the last check and result for
``occur ota status`` and the Home Assistant ``update`` entity.
"""

from __future__ import annotations

import functools
import logging
import os
import shutil
import signal
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from firmware.config import Config
from firmware.errors import ModelError, UpdateError
from firmware.ota import bundle, reembed_child, selftest
from firmware.ota.releases import Releases
from firmware.platform.clock import now_iso
from firmware.security.audit import secure_log
from firmware.store import encodings
from firmware.store.store import Store
from firmware.vision.manifest import load_manifests

if TYPE_CHECKING:
    from firmware.ota.tuf_client import Offer, UpdateSource

log = logging.getLogger(__name__)

# The re-embedding child's time limit: a large gallery on a Zero 2 W (2000 samples at about
# 0.3 s each) stays well inside it; a hung runtime does not hold the install forever.
REEMBED_TIMEOUT_S = 3600.0


def fault_point(step: str) -> None:
    """Power-cut injection for the install tests (Mender's recipe): with ``OCCUR_FAULT_KILL_AT``
    naming this step and ``OCCUR_FAULT_MARKER`` naming a file that does not exist yet, create
    the marker and SIGKILL this process, once. Without both variables it does nothing."""
    marker = os.environ.get("OCCUR_FAULT_MARKER", "")
    if os.environ.get("OCCUR_FAULT_KILL_AT") != step or not marker or os.path.exists(marker):
        return
    Path(marker).write_text(step)
    os.kill(os.getpid(), signal.SIGKILL)


@dataclass
class Outcome:
    """What a check, install or rollback ended with."""

    status: str
    release: str
    detail: str = ""
    selftest: dict[str, Any] = field(default_factory=dict)
    reembedded: dict[str, int] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)


@dataclass
class _Steps:
    """Seconds per install step; each start reports the step and closes the one before."""

    report: Callable[[str, str, str], None]
    seconds: dict[str, float] = field(default_factory=dict)
    name: str = ""
    since: float = 0.0

    def start(self, name: str, detail: str) -> None:
        now = time.monotonic()
        if self.name:
            self.seconds[self.name] = round(now - self.since, 3)
        self.name, self.since = name, now
        if name:
            self.report(name, "running", detail)


class Installer:
    """Updates for one device.

    Args:
        store: needed by :meth:`apply` and :meth:`rollback` (re-embedding, records).
        notify: called with the Home Assistant ``update`` state after each change.
    """

    def __init__(
        self, config: Config, store: Store | None = None, notify: Callable[[dict[str, Any]], None] | None = None
    ) -> None:
        self.config = config
        self.store = store
        self.notify = notify
        base = config.vision.models_folder()
        self.releases = Releases(config.paths.models, base)

    def release_id(self, folder: Path | None = None) -> str:
        """Release name of ``folder`` (default: the running one); ``setup`` for the set-up build."""
        index = self.releases.release_of(folder or self.releases.current())
        return f"{index['name']}-{index['version']}" if index else "setup"

    def status(self) -> dict[str, Any]:
        """Installed, previous and offered releases, the last result, and the settings."""
        previous = self.releases.previous()
        state = self.releases.read_state()
        return {
            "installed": self.release_id(),
            "folder": str(self.releases.current()),
            "previous": None if previous is None else self.release_id(previous),
            "latest": state.get("latest"),
            "last_check": state.get("last_check"),
            "last_result": state.get("last_result"),
            "in_progress": state.get("step"),
            "repository_url": self.config.ota.repository_url,
            "channel": self.config.ota.channel,
        }

    def ha_state(self) -> dict[str, Any]:
        """The Home Assistant ``update`` entity's state document."""
        state = self.releases.read_state()
        installed = self.release_id()
        result = state.get("last_result") or {}
        return {
            "installed_version": installed,
            "latest_version": state.get("latest") or installed,
            "title": "Face recognition models",
            "release_summary": str(result.get("detail", ""))[:255],
            "in_progress": bool(state.get("step")),
        }

    def _source(self) -> UpdateSource:
        from firmware.ota.tuf_client import UpdateSource

        ota = self.config.ota
        if not ota.repository_url:
            raise UpdateError("no update repository configured ([ota] repository_url)")
        root = Path(ota.trusted_root or "/etc/occur/ota-root.json")
        return UpdateSource(
            ota.repository_url, root, self.releases.root / "tuf", ota.download_timeout_s, ota.bundle_timeout_s
        )

    def check(self) -> tuple[Outcome, Offer | None]:
        """Ask the repository what the channel offers; returns the outcome and the offer.

        Raises:
            UpdateError: metadata refused or repository unreachable (also recorded).
        """
        outcome, offer, _source = self._check()
        return outcome, offer

    def _check(self) -> tuple[Outcome, Offer | None, UpdateSource]:
        try:
            source = self._source()
            offer = source.offer(self.config.ota.channel)
        except UpdateError as err:
            self.releases.update_state(last_check=now_iso())
            self._record("check", "failed", str(err))
            raise
        installed = self.release_id()
        latest = offer.release_id if offer is not None else None
        self.releases.update_state(last_check=now_iso(), latest=latest)
        if offer is None or offer.release_id == installed:
            return Outcome("up_to_date", installed), None, source
        return Outcome("available", offer.release_id, f"{installed} -> {offer.release_id}"), offer, source

    def apply(self) -> Outcome:
        """Install what the channel offers, if it differs from the running release.

        Raises:
            UpdateError: the update was refused or failed; the running release still serves.
        """
        if self.store is None:
            raise UpdateError("installing needs the store (to re-embed the gallery)")
        if self.config.vision.models_dir:
            raise UpdateError("[vision] models_dir is set, so an installed update would never be loaded")
        with self.releases.locked():
            self.releases.recover()
            outcome, offer, source = self._check()
            if offer is None:
                return outcome
            try:
                return self._install(offer, source)
            except (UpdateError, ModelError, OSError) as err:
                self._discard(offer.release_id)
                detail = f"{offer.release_id} refused, {self.release_id()} kept: {err}"
                self._record("done", "failed", detail)
                raise UpdateError(detail) from err
            finally:
                self.releases.update_state(step=None)

    def _install(self, offer: Offer, source: UpdateSource) -> Outcome:
        steps = _Steps(self._record)
        step = steps.start
        step("download", f"{offer.release_id}, {offer.length} bytes")
        fetched = source.download(offer, self.releases.downloads, fault_point)
        step("verify", offer.release_id)
        info = bundle.read_info(fetched)
        if info.release_id != offer.release_id:
            raise UpdateError(f"bundle says {info.release_id}, the signed metadata {offer.release_id}")
        step("stage", offer.release_id)
        folder = self.releases.stage(fetched, info, fault_point)
        step("selftest", offer.release_id)
        tested = selftest.run_isolated(folder, self.config.vision, self.config.ota.selftest_timeout_s)
        fault_point("selftest")
        step("reembed", offer.release_id)
        counts = self._reembed(folder, [m for m in info.models if m in self.config.vision.models])
        fault_point("reembed")
        step("switch", offer.release_id)
        self.releases.switch(folder, fault_point)
        step("prune", offer.release_id)
        self._prune(info.models)
        step("", "")
        outcome = Outcome("installed", offer.release_id, f"{offer.release_id} installed", tested, counts, steps.seconds)
        self._record("done", "installed", outcome.detail, asdict(outcome))
        return outcome

    def _reembed(self, folder: Path, models: list[str]) -> dict[str, int]:
        """Encodings by the new files for every kept chip, beside the running ones, computed in
        a child process so the new models never share the door's memory
        (:mod:`firmware.ota.reembed_child`).

        Raises:
            UpdateError: a user who can be recognised now would not be after the switch, or the
                child failed.
        """
        assert self.store is not None
        return reembed_child.run_isolated(self.config, folder, models, REEMBED_TIMEOUT_S)

    def _prune(self, models: tuple[str, ...]) -> None:
        """Drop encodings and folders of releases that are neither current nor previous."""
        assert self.store is not None
        keep: dict[str, set[str]] = {m: set() for m in models}
        for folder in (self.releases.current(), self.releases.previous()):
            if folder is None:
                continue
            for name, manifest in load_manifests(folder).items():
                if name in keep:
                    keep[name].add(manifest.encoding_key)
        for model, shas in keep.items():
            self.store.write(functools.partial(encodings.prune_files, model=model, keep=shas))
        self.releases.prune()

    def _discard(self, release: str) -> None:
        staged = self.releases.releases / release
        if staged.is_dir() and staged != self.releases.current() and staged != self.releases.previous():
            shutil.rmtree(staged, ignore_errors=True)
        self.releases.recover()

    def recover(self) -> str | None:
        """At start: clean up after an install that was cut off (power cut, kill) and report
        it; returns the step it was cut at, or None. Does nothing while an install runs."""
        try:
            with self.releases.locked():
                self.releases.recover()
                step = self.releases.read_state().get("step")
                if step:
                    self._record("done", "failed", f"install cut off during {step}; {self.release_id()} serves")
                return str(step) if step else None
        except UpdateError:
            return None

    def rollback(self, reason: str = "operator request") -> Outcome:
        """Return to the previous release and make sure every kept chip has its encodings.

        Raises:
            UpdateError: no update installed, or another install is running.
        """
        if self.store is None:
            raise UpdateError("rollback needs the store (to re-embed the gallery)")
        with self.releases.locked():
            left = self.release_id()
            folder = self.releases.rollback()
            counts = self._reembed(folder, [m for m in self.config.vision.models if m in load_manifests(folder)])
            outcome = Outcome("rolled_back", self.release_id(folder), f"{left} -> {self.release_id(folder)}: {reason}")
            outcome.reembedded = counts
            self._record("done", "rolled_back", outcome.detail)
            return outcome

    def _record(self, step: str, status: str, detail: str, data: dict[str, Any] | None = None) -> None:
        """Report a step: ota.json, and (with a store) system event + MQTT event + secure log."""
        log.info("ota %s %s: %s", step, status, detail)
        changes: dict[str, Any] = {"step": step if status == "running" else None}
        if status != "running":
            changes["last_result"] = {"status": status, "detail": detail, "at": now_iso()}
        self.releases.update_state(**changes)
        if self.store is not None:
            kind = "ota_" + (step if status == "running" else status)
            secure = secure_log(self.config.paths, self.config.device.id)
            entry = {"step": step, "status": status, "detail": detail, **(data or {})}
            self.store.log_system_event(kind, detail, also=lambda conn: secure.append(conn, "model_update", entry))
        if self.notify is not None:
            self.notify(self.ha_state())

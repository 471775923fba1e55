"""Installed model releases under ``<data_dir>/models`` and the atomic switch between them.

Layout::

    releases/<name>-<version>/    complete model folders (models, manifests, fusion.json, ...)
    releases/<id>.partial/        a release being staged; removed by :meth:`Releases.recover`
    current -> releases/<id>      relative symlink: what the door loads (absent = the set-up build)
    previous -> releases/<id>     what ``rollback`` returns to (absent = the set-up build)
    downloads/                    bundle downloads, resumable (``<sha256>.part``)
    tuf/                          the TUF client's trusted metadata
    ota.json                      last check, last result, step in progress

Why a symlink: replacing it with ``os.replace`` is one atomic rename, so after a power cut the
door finds either the old or the new release, each complete (every file was fsynced and the
folder renamed from ``.partial`` before the switch). The previous release stays on disk, with
its encodings, so a rollback is one more rename. One install at a time: :meth:`Releases.locked`
holds an ``flock`` that the CLI and the running door's worker share.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from firmware.errors import UpdateError
from firmware.ota import bundle
from firmware.platform.fileio import fsync_path, write_private
from firmware.vision.liveness.pad_model import pad_manifests
from firmware.vision.manifest import load_manifests

log = logging.getLogger(__name__)
SPARE_BYTES = 64 << 20


class Releases:
    """The release folders of one device.

    Args:
        root: ``<data_dir>/models``.
        base: the set-up build, used while no update was ever installed.
    """

    def __init__(self, root: Path, base: Path) -> None:
        self.root = root
        self.base = base
        self.releases = root / "releases"
        self.downloads = root / "downloads"
        self.state_file = root / "ota.json"

    def current(self) -> Path:
        """The folder the door loads now."""
        return self._target("current") or self.base

    def previous(self) -> Path | None:
        """The folder a rollback returns to, if any."""
        if not (self.root / "current").is_symlink():
            return None
        return self._target("previous") or self.base

    def _target(self, link: str) -> Path | None:
        path = self.root / link
        if path.is_symlink() and path.resolve().is_dir():
            return path.resolve()
        return None

    def release_of(self, folder: Path) -> dict[str, Any] | None:
        """The ``bundle.json`` of an installed release (None for the set-up build)."""
        try:
            raw = json.loads((folder / bundle.INDEX).read_text())
        except (OSError, ValueError):
            return None
        return raw if isinstance(raw, dict) else None

    @contextlib.contextmanager
    def locked(self) -> Iterator[None]:
        """Hold the install lock.

        Raises:
            UpdateError: another install (CLI or the door's worker) holds it.
        """
        self.root.mkdir(parents=True, exist_ok=True)
        with (self.root / ".lock").open("a") as handle:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError as err:
                raise UpdateError("another model update is in progress") from err
            yield

    def recover(self) -> list[str]:
        """Remove what an interrupted install left behind (``*.partial`` folders, dangling
        links); returns what was removed. The current release is never touched."""
        removed = []
        if self.releases.is_dir():
            for partial in self.releases.glob("*.partial"):
                shutil.rmtree(partial, ignore_errors=True)
                removed.append(partial.name)
        for link in ("current", "previous", "current.new", "previous.new"):
            path = self.root / link
            dangling = path.is_symlink() and not path.resolve().is_dir()
            if (link.endswith(".new") and path.is_symlink()) or dangling:
                path.unlink()
                removed.append(link)
        return removed

    def stage(self, bundle_file: Path, info: bundle.BundleInfo, fault: Any = None) -> Path:
        """Build a complete release folder: the running release's files with the bundle's
        models (and whatever else it carries) put in place of theirs. ``info`` is the index the
        caller read and checked from ``bundle_file``; extraction checks every member against it.

        Raises:
            UpdateError: the bundle does not extract cleanly, or a model it names has no manifest.
        """
        final = self.releases / info.release_id
        if final == self.current():
            raise UpdateError(f"release {info.release_id} is already the running one")
        partial = self.releases / f"{info.release_id}.partial"
        shutil.rmtree(partial, ignore_errors=True)
        partial.mkdir(parents=True)
        source = self.current()
        self._check_space(source, sum(size for size, _ in info.files.values()))
        replaced = set(info.files) | {bundle.INDEX}
        for name, path in _model_files(source).items():
            if name in info.models:
                replaced |= {path.name, path.name + ".manifest.json"}
        for path in sorted(source.iterdir()):
            if path.is_file() and path.name not in replaced:
                _link_or_copy(path, partial / path.name, link=source != self.base)
            if fault is not None:
                fault("stage")
        bundle.extract(bundle_file, partial)
        staged = _model_files(partial)
        missing = [m for m in info.models if m not in staged]
        outside = [
            m for m in info.models if m in staged and (staged[m].name not in info.files or staged[m].parent != partial)
        ]
        if missing or outside:
            shutil.rmtree(partial, ignore_errors=True)
            raise UpdateError(
                f"bundle {info.release_id}: models without a manifest ({', '.join(missing) or 'none'}) or whose"
                f" manifest names a file the bundle does not carry ({', '.join(outside) or 'none'})"
            )
        fsync_path(partial)
        shutil.rmtree(final, ignore_errors=True)
        os.rename(partial, final)
        fsync_path(self.releases)
        return final

    def _check_space(self, source: Path, bundle_bytes: int) -> None:
        """Refuse before writing when the release would not fit with ``SPARE_BYTES`` to spare
        (the database and snapshots share the card). Files of an earlier release are hard
        links and cost nothing; the set-up build's are copied.

        Raises:
            UpdateError: not enough free space.
        """
        copied = sum(p.stat().st_size for p in source.iterdir() if p.is_file()) if source == self.base else 0
        need = bundle_bytes + copied + SPARE_BYTES
        free = shutil.disk_usage(self.releases).free
        if free < need:
            raise UpdateError(
                f"not enough free space to stage the release: {need >> 20} MiB needed, {free >> 20} MiB free"
            )

    def _link(self, name: str, target: Path | None) -> None:
        path = self.root / name
        if target is None:
            path.unlink(missing_ok=True)
            return
        temp = self.root / f"{name}.new"
        temp.unlink(missing_ok=True)
        temp.symlink_to(os.path.relpath(target, self.root))
        os.replace(temp, path)

    def switch(self, release: Path, fault: Any = None) -> None:
        """Make ``release`` current and the running one previous, each by an atomic rename."""
        running = self._target("current")
        self._link("previous", running)
        if fault is not None:
            fault("switch")
        self._link("current", release)
        fsync_path(self.root)

    def rollback(self) -> Path:
        """Return to the previous release; returns the folder now current.

        Raises:
            UpdateError: nothing to roll back to.
        """
        if not (self.root / "current").is_symlink():
            raise UpdateError("no update is installed: the set-up models are running")
        back = self._target("previous")
        self._link("current", back)
        self._link("previous", None)
        fsync_path(self.root)
        return back or self.base

    def prune(self) -> list[str]:
        """Delete release folders other than current and previous, and every download."""
        keep = {p for p in (self._target("current"), self._target("previous")) if p is not None}
        removed = []
        if self.releases.is_dir():
            for folder in self.releases.iterdir():
                if folder.is_dir() and folder.resolve() not in keep and not folder.name.endswith(".partial"):
                    shutil.rmtree(folder, ignore_errors=True)
                    removed.append(folder.name)
        if self.downloads.is_dir():
            for done in self.downloads.iterdir():
                done.unlink()  # the installed bundle, and partial downloads of older offers
        return removed

    def read_state(self) -> dict[str, Any]:
        """``ota.json`` (empty when missing or unreadable: it is a report, not the truth,
        which is the ``current`` link)."""
        try:
            raw = json.loads(self.state_file.read_text())
        except (OSError, ValueError):
            return {}
        return raw if isinstance(raw, dict) else {}

    def update_state(self, **changes: Any) -> dict[str, Any]:
        """Merge ``changes`` into ``ota.json`` atomically; returns the new state."""
        state = {**self.read_state(), **changes}
        self.root.mkdir(parents=True, exist_ok=True)
        write_private(self.state_file, json.dumps(state, indent=2, sort_keys=True).encode(), mode=0o644)
        return state


def _model_files(folder: Path) -> dict[str, Path]:
    """Every model of a release folder by name: embedding models and presentation-attack
    models (``[liveness] pad_model``), each its file's path."""
    files = {name: m.path for name, m in load_manifests(folder).items()}
    files.update({name: m.path for name, m in pad_manifests(folder).items()})
    return files


def _link_or_copy(source: Path, target: Path, link: bool) -> None:
    """Hard link another release's file (never written in place, so sharing the inode is
    safe), or copy: the set-up build is rewritten by ``./setup.sh`` and must not be shared."""
    if link:
        try:
            os.link(source, target)
            return
        except OSError:
            pass
    shutil.copyfile(source, target)
    fsync_path(target)

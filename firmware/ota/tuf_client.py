"""The device's TUF client: the only module that imports python-tuf.

The repository (any static HTTP(S) host, S3 bucket or CDN) has ``metadata/`` and ``targets/``
under ``[ota] repository_url``. A channel's current bundle is the target
``channels/<channel>.bundle``; its ``custom`` field carries the bundle's name and version. With
consistent snapshots (what ``occur-ota`` publishes) every file but ``timestamp.json`` is
immutable, which suits caches.

ngclient checks signatures and thresholds, expiry, version rollback, snapshot consistency
(mix-and-match) and the lengths and hashes of everything it fetches. The bundle itself is
fetched here rather than by ngclient so that it resumes with an HTTP Range request after a cut
(ngclient restarts from zero); it is checked against the same signed length and hashes before
anything reads it. Every download has a deadline for the whole file (:mod:`firmware.ota.fetch`):
``download_timeout_s`` for each metadata file, ``bundle_timeout_s`` for the bundle (what arrived
before the deadline is kept and the next attempt resumes from it). The trusted root comes from
provisioning; newer roots the repository rotates to are cached, after verification, under
``<data_dir>/models/tuf``.
"""

from __future__ import annotations

import hashlib
import logging
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tuf.api import exceptions
from tuf.ngclient import Updater
from tuf.ngclient.fetcher import FetcherInterface

from firmware.errors import UpdateError
from firmware.ota import fetch

log = logging.getLogger(__name__)
CHUNK = 256 << 10


@dataclass(frozen=True)
class Offer:
    """The bundle the repository currently names for the channel (all fields signed)."""

    name: str
    version: str
    length: int
    sha256: str
    url: str
    target: Any

    @property
    def release_id(self) -> str:
        """Folder name the bundle installs as."""
        return f"{self.name}-{self.version}"


def _explain(err: Exception) -> str:
    kinds = (
        (exceptions.ExpiredMetadataError, "metadata expired"),
        (exceptions.UnsignedMetadataError, "metadata not signed by the trusted keys"),
        (exceptions.BadVersionNumberError, "metadata version refused (older than trusted: a replay; or mixed)"),
        (exceptions.LengthOrHashMismatchError, "a file differs from its signed length or hash"),
        (exceptions.DownloadError, "download failed"),
        (exceptions.RepositoryError, "repository metadata refused"),
    )
    for kind, text in kinds:
        if isinstance(err, kind):
            return f"{text}: {err}"
    return str(err)


class DeadlineFetcher(FetcherInterface):
    """ngclient's network layer with a whole-file deadline per metadata file."""

    def __init__(self, deadline_s: float) -> None:
        self.deadline_s = deadline_s

    def _fetch(self, url: str) -> Iterator[bytes]:
        try:
            with fetch.get(url, self.deadline_s, self.deadline_s) as response:
                yield from response.chunks()
        except fetch.DeadlineError as err:
            raise exceptions.SlowRetrievalError(str(err)) from err
        except fetch.FetchError as err:
            if err.status is not None:
                raise exceptions.DownloadHTTPError(str(err), err.status) from err
            raise exceptions.DownloadError(str(err)) from err


class UpdateSource:
    """One check against the repository (an ngclient ``Updater`` refreshes only once).

    Args:
        base_url: ``[ota] repository_url``.
        trusted_root: the root metadata file installed at provisioning.
        cache: folder for the trusted metadata (kept between checks: that is what defeats
            replays of old metadata).
        timeout_s: deadline of each metadata file, and the longest wait for data in any read.
        bundle_timeout_s: deadline of the bundle download (0 = ``timeout_s``).
    """

    def __init__(
        self, base_url: str, trusted_root: Path, cache: Path, timeout_s: float, bundle_timeout_s: float = 0.0
    ) -> None:
        self.base = base_url.rstrip("/")
        self.timeout_s = timeout_s
        self.bundle_timeout_s = bundle_timeout_s or timeout_s
        try:
            bootstrap = trusted_root.read_bytes()
        except OSError as err:
            raise UpdateError(f"trusted root {trusted_root} unreadable ({err}); was the device provisioned?") from err
        cache.mkdir(parents=True, exist_ok=True)
        # A re-provisioned root replaces whatever the cache learned from the old repository.
        marker = cache / "bootstrap.sha256"
        digest = hashlib.sha256(bootstrap).hexdigest()
        if not marker.exists() or marker.read_text().strip() != digest:
            shutil.rmtree(cache)
            cache.mkdir(parents=True)
            marker.write_text(digest + "\n")
        cached_root = cache / "root.json"
        try:
            self.updater = Updater(
                metadata_dir=str(cache),
                metadata_base_url=f"{self.base}/metadata/",
                target_base_url=f"{self.base}/targets/",
                fetcher=DeadlineFetcher(timeout_s),
                bootstrap=None if cached_root.exists() else bootstrap,
            )
        except (exceptions.RepositoryError, OSError, ValueError) as err:
            raise UpdateError(f"trusted root refused: {_explain(err)}") from err

    def offer(self, channel: str) -> Offer | None:
        """Refresh the metadata and return the channel's bundle (None if the channel is empty).

        Raises:
            UpdateError: any metadata check failed, or the repository cannot be reached.
        """
        path = f"channels/{channel}.bundle"
        try:
            self.updater.refresh()
            info = self.updater.get_targetinfo(path)
        except (exceptions.RepositoryError, exceptions.DownloadError, OSError) as err:
            raise UpdateError(_explain(err)) from err
        if info is None:
            return None
        custom = info.custom if isinstance(info.custom, dict) else {}
        sha = info.hashes.get("sha256")
        if not sha or "name" not in custom or "version" not in custom:
            raise UpdateError(f"target {path} lacks a sha256 or its name and version")
        url = f"{self.base}/targets/channels/{sha}.{channel}.bundle"
        return Offer(str(custom["name"]), str(custom["version"]), int(info.length), sha, url, info)

    def download(self, offer: Offer, folder: Path, fault: Any = None) -> Path:
        """Fetch the offered bundle into ``folder``, resuming a partial ``.part`` file, and
        check it against the signed length and hash; returns the checked file.

        Raises:
            UpdateError: the server failed, sent more than the signed length, or the file
                differs from the signed hash (the partial file is then discarded).
        """
        folder.mkdir(parents=True, exist_ok=True)
        done = folder / f"{offer.sha256}.bundle"
        if done.exists():
            return done
        part = folder / f"{offer.sha256}.part"
        have = part.stat().st_size if part.exists() else 0
        if have > offer.length:
            part.unlink()
            have = 0
        if have < offer.length:
            self._fetch(offer, part, have, fault)
        try:
            with part.open("rb") as handle:
                offer.target.verify_length_and_hashes(handle)
        except exceptions.LengthOrHashMismatchError as err:
            part.unlink()
            raise UpdateError(f"bundle {offer.release_id} refused: {_explain(err)}") from err
        part.rename(done)
        return done

    def _fetch(self, offer: Offer, part: Path, have: int, fault: Any) -> None:
        headers = {"Range": f"bytes={have}-"} if have else {}
        try:
            with fetch.get(offer.url, self.bundle_timeout_s, self.timeout_s, headers) as response:
                mode = "ab" if have and response.status == 206 else "wb"
                written = have if mode == "ab" else 0
                with part.open(mode) as out:
                    for block in response.chunks(CHUNK):
                        written += len(block)
                        if written > offer.length:
                            raise UpdateError(f"server sent more than the signed {offer.length} bytes")
                        out.write(block)
                        out.flush()  # what arrived survives a deadline cut, for the resume
                        if fault is not None and written >= offer.length // 2:
                            fault("download")
        except fetch.DeadlineError as err:
            raise UpdateError(
                f"download of {offer.release_id} stopped: {err}; the next attempt resumes from there"
            ) from err
        except fetch.FetchError as err:
            raise UpdateError(f"download of {offer.release_id} interrupted: {err}") from err
        log.info("ota: %s downloaded (%d bytes, resumed from %d)", offer.release_id, offer.length, have)

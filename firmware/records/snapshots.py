"""Snapshot manager: event pictures under ``snapshots/YYYY/MM/DD/<user_id or unknown>/``.

Each snapshot is the face with a margin around it (not the whole frame: enough to audit a
decision without keeping bystanders), as ``snapshot_NNN.jpg`` numbered per folder, written
atomically and 0600, its JPEG sealed (AES-256-GCM) under the device pictures key: the file is
not viewable without the device's keys (``occur snapshots export`` decrypts on request).
Retention runs two ways: by age (``keep_days``) and by a free-space floor
(``min_free_mb``), deleting the oldest days first, so a filling disk never stops the door.
"""

from __future__ import annotations

import contextlib
import logging
import re
import shutil
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

from firmware.config import Paths, SnapshotConfig
from firmware.domain import Image
from firmware.errors import InvalidInputError
from firmware.imaging.image import encode_jpeg
from firmware.platform.fileio import write_private
from firmware.store.sealing import Sealer

log = logging.getLogger(__name__)
_USER = re.compile(r"[A-Za-z0-9_-]{1,64}")  # a user id, "unknown" or "manual"
_NUMBER = re.compile(r"snapshot_(\d+)\.jpg")
_DAY = re.compile(r"\d{4}/\d{2}/\d{2}")


def user_folder(user_id: object) -> str:
    """The folder name for ``user_id`` (``unknown`` for None).

    Raises:
        InvalidInputError: anything that could leave the snapshot folder (``..``, separators,
            absolute paths) or is not a plain id.
    """
    if user_id is None:
        return "unknown"
    text = str(user_id)
    if not _USER.fullmatch(text):
        raise InvalidInputError(f"user_id {text!r} is not a plain id (letters, digits, '_', '-')")
    return text


def face_crop(image: Image, bbox: tuple[float, float, float, float], margin: float = 0.4) -> Image:
    """``bbox`` grown by ``margin`` of its size on each side, clipped to the image.

    Raises:
        InvalidInputError: a box that is empty or entirely outside the image.
    """
    x0, y0, x1, y1 = (float(v) for v in bbox)
    if not (x1 > x0 and y1 > y0):
        raise InvalidInputError(f"bbox {bbox} is empty")
    dx, dy = (x1 - x0) * margin, (y1 - y0) * margin
    h, w = image.shape[:2]
    left, top = max(0, int(x0 - dx)), max(0, int(y0 - dy))
    right, bottom = min(w, int(x1 + dx + 1)), min(h, int(y1 + dy + 1))
    if right <= left or bottom <= top:
        raise InvalidInputError(f"bbox {bbox} is outside the {w}x{h} image")
    return image[top:bottom, left:right]


class SnapshotStore:
    """Writes and prunes snapshots under ``paths.snapshots``."""

    def __init__(self, paths: Paths, config: SnapshotConfig, sealer: Sealer) -> None:
        self.paths = paths
        self.config = config
        self.sealer = sealer
        self._lock = threading.Lock()
        self._next: dict[Path, int] = {}

    def capture(self, image: Image, bbox: tuple[float, float, float, float], user_id: object = None,
                when: datetime | None = None) -> Path:  # fmt: skip
        """Save the face at ``bbox``; returns the path relative to the data folder."""
        folder_name = user_folder(user_id)
        crop = face_crop(image, bbox)
        stamp = (when or datetime.now(UTC)).astimezone(UTC)
        folder = self.paths.snapshots / stamp.strftime("%Y/%m/%d") / folder_name
        data = self.sealer.seal_picture("snapshot", encode_jpeg(crop, self.config.jpeg_quality))
        with self._lock:
            number = self._next.get(folder)
            if number is None:
                existing = [int(m.group(1)) for p in folder.glob("snapshot_*.jpg") if (m := _NUMBER.fullmatch(p.name))]
                number = max(existing, default=0) + 1
            path = folder / f"snapshot_{number:03d}.jpg"
            self._next[folder] = number + 1
        write_private(path, data)
        return path.relative_to(self.paths.root)

    def days(self) -> list[Path]:
        """Day folders, oldest first."""
        root = self.paths.snapshots
        if not root.is_dir():
            return []
        found = [p for p in root.glob("*/*/*") if p.is_dir() and _DAY.fullmatch(p.relative_to(root).as_posix())]
        return sorted(found)

    def cleanup(self, days_old: float | None = None, now: datetime | None = None) -> int:
        """Delete day folders that ended more than ``days_old`` days ago (default ``keep_days``; whole
        UTC days, so today's pictures always stay); returns files deleted."""
        limit = (now or datetime.now(UTC)) - timedelta(days=self.config.keep_days if days_old is None else days_old)
        deleted = 0
        for day in self.days():
            y, m, d = (int(v) for v in day.relative_to(self.paths.snapshots).parts)
            if datetime(y, m, d, tzinfo=UTC) + timedelta(days=1) <= limit:
                deleted += self._remove(day)
        return deleted

    def enforce_free_space(self) -> int:
        """Delete the oldest day folders until ``min_free_mb`` is free (keeping today's); returns files deleted."""
        deleted = 0
        floor = self.config.min_free_mb * 1024 * 1024
        days = self.days()
        while days[:-1] and shutil.disk_usage(self.paths.root).free < floor:
            deleted += self._remove(days.pop(0))
        return deleted

    def reclaim(self, keep_free: int) -> int:
        """Delete snapshot files, oldest first and today's too if need be, until ``keep_free``
        bytes are free: called when the database cannot commit, because a decision's record
        matters more than its picture. Returns files deleted."""
        deleted = 0
        with self._lock:
            for day in self.days():
                for path in sorted(p for p in day.rglob("*") if p.is_file()):
                    if shutil.disk_usage(self.paths.root).free >= keep_free:
                        return deleted
                    with contextlib.suppress(FileNotFoundError):
                        path.unlink()
                        deleted += 1
                self._next = {k: v for k, v in self._next.items() if day not in k.parents}
        if deleted:
            log.warning("disk full: deleted %d snapshot files to make room for records", deleted)
        return deleted

    def organize(self) -> int:
        """Move snapshot files found outside the dated layout (e.g. written by the original
        code) into ``YYYY/MM/DD/unknown/`` by their modification time; returns how many."""
        root = self.paths.snapshots
        if not root.is_dir():
            return 0
        moved = 0
        for path in sorted(root.rglob("*.jpg")):
            rel = path.relative_to(root).as_posix()
            if re.fullmatch(r"\d{4}/\d{2}/\d{2}/[A-Za-z0-9_-]+/snapshot_\d+\.jpg", rel):
                continue
            day = datetime.fromtimestamp(path.stat().st_mtime, UTC).strftime("%Y/%m/%d")
            target_dir = root / day / "unknown"
            with self._lock:
                target_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
                existing = [
                    int(m.group(1)) for p in target_dir.glob("snapshot_*.jpg") if (m := _NUMBER.fullmatch(p.name))
                ]
                number = max(existing, default=0) + 1
                path.replace(target_dir / f"snapshot_{number:03d}.jpg")
                self._next.pop(target_dir, None)
            moved += 1
        return moved

    def _remove(self, day: Path) -> int:
        count = sum(1 for p in day.rglob("*") if p.is_file())
        shutil.rmtree(day, ignore_errors=True)
        with self._lock:
            self._next = {k: v for k, v in self._next.items() if day not in k.parents}
        log.info("snapshots: removed %s (%d files)", day.relative_to(self.paths.snapshots), count)
        return count

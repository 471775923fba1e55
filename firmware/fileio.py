"""Writing private files: the one way the firmware puts bytes on disk outside SQLite."""

from __future__ import annotations

import contextlib
import os
from pathlib import Path


def write_private(path: Path, data: bytes, mode: int = 0o600, exclusive: bool = False) -> None:
    """Write ``data`` to ``path`` atomically: a temporary file in the same folder, synced, then
    renamed, so a crash never leaves half a file under the real name. Missing folders are made
    0700; the file gets ``mode`` (0600 unless said otherwise).

    Args:
        exclusive: refuse to replace an existing file (keys, samples): raises FileExistsError.

    Raises:
        OSError: the disk is full or the folder is not writable (nothing is left behind).
    """
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        if exclusive:
            os.link(tmp, path)  # fails if the name exists: never overwrite
        else:
            os.replace(tmp, path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()


def fsync_path(path: Path) -> None:
    """Flush a file or a folder to disk by name. For a folder this makes renames and new
    entries in it durable (a power cut after ``os.replace`` keeps the new name).

    Raises:
        OSError: the path cannot be opened or synced.
    """
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)

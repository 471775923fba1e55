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


class UnsafePathError(ValueError):
    """A stored path would lead outside the folder it belongs to (the message says why)."""


def contained(root: Path, folder: str, stored: object) -> Path:
    """The file a path read from the database or from an import names, checked before use.

    ``stored`` is relative to the data folder ``root`` and must stay inside ``root/folder``: text
    without NUL, not absolute, no ``..`` or empty component, starting with ``folder/``, and still
    inside the folder once every symlink on the way is resolved (the folder itself must not be a
    symlink). Checked where such a path is stored and again where it is used, so a hostile
    original database or a tampered row never makes the firmware read or delete a key, the
    database or anything outside.

    Raises:
        UnsafePathError: naming the reason.
    """
    if not isinstance(stored, str):
        raise UnsafePathError(f"path {stored!r} is not text")
    if not stored:
        raise UnsafePathError("empty path")
    if "\x00" in stored or "\\" in stored:
        raise UnsafePathError(f"path {stored!r} contains a NUL or a backslash")
    if stored.startswith("/"):
        raise UnsafePathError(f"path {stored!r} is absolute; stored paths are relative to the data folder")
    parts = stored.split("/")
    if ".." in parts:
        raise UnsafePathError(f"path {stored!r} contains '..'")
    if any(p in ("", ".") for p in parts) or len(parts) < 2 or parts[0] != folder:
        raise UnsafePathError(f"path {stored!r} is outside {folder}/")
    base = root / folder
    real_root = root.resolve()
    if base.is_symlink() or (base.exists() and base.resolve() != real_root / folder):
        raise UnsafePathError(f"{folder}/ is a symlink; refusing to follow it")
    target = (root / stored).resolve()
    if not target.is_relative_to(real_root / folder) or target == real_root / folder:
        raise UnsafePathError(f"path {stored!r} leads outside {folder}/ through a symlink")
    return root / stored

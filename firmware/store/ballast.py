"""A ballast file: reserved space given back when the disk fills up.

On a full disk SQLite cannot commit, and it cannot checkpoint either, because the WAL holds the
space; retention cannot even delete old rows. The store keeps a file of reserved space beside
the database; on SQLITE_FULL it deletes it, records a ``disk_full`` system event and retries the
write, so the appliance keeps recording while the alarm is raised and retention frees space.
The ballast comes back at the next start once there is room for it twice over.
"""

from __future__ import annotations

import logging
import os
import shutil
from pathlib import Path

log = logging.getLogger(__name__)
_CHUNK = 1024 * 1024


class Ballast:
    """Reserved space of ``size_bytes`` at ``path`` (on the database's file system)."""

    def __init__(self, path: Path, size_bytes: int) -> None:
        self.path = path
        self.size_bytes = size_bytes

    @property
    def present(self) -> bool:
        """True while the reserve is held."""
        return self.size_bytes > 0 and self.path.exists()

    def ensure(self) -> bool:
        """Create the reserve if it is missing and the disk has room for it twice over.

        The blocks are allocated with ``posix_fallocate`` (written out where a file system does
        not support it), never a sparse file, so the space is really taken. Returns whether the
        reserve is held afterwards; failures are logged, never raised: a missing ballast must
        not stop the appliance.
        """
        if self.size_bytes <= 0 or self.present:
            return self.present
        try:
            if shutil.disk_usage(self.path.parent).free < 2 * self.size_bytes:
                log.warning("not enough free space to reserve %d bytes of ballast at %s", self.size_bytes, self.path)
                return False
            tmp = self.path.with_name(self.path.name + ".tmp")
            with tmp.open("wb") as handle:
                try:
                    os.posix_fallocate(handle.fileno(), 0, self.size_bytes)
                except OSError:
                    left = self.size_bytes
                    while left > 0:
                        step = min(left, _CHUNK)
                        handle.write(b"\0" * step)
                        left -= step
                    handle.flush()
                os.fsync(handle.fileno())
            os.replace(tmp, self.path)
        except OSError as err:
            log.warning("could not create ballast %s: %s", self.path, err)
            self.path.with_name(self.path.name + ".tmp").unlink(missing_ok=True)
            return False
        return True

    def release(self) -> int:
        """Delete the reserve; returns the bytes given back (0 if there was none)."""
        if not self.present:
            return 0
        size = self.path.stat().st_size
        self.path.unlink()
        log.warning("disk full: released %d bytes of ballast at %s", size, self.path)
        return size

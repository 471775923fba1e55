"""Files a running store depends on, checked at every health check (once a second in ``occur run``).

A database or WAL file deleted while the writer holds it open (``st_nlink`` 0) keeps accepting
writes that no later process will ever read: a restart, or a kill -9, loses everything
acknowledged since the deletion, and ``occur db check`` then finds nothing wrong. So the store
remembers the identity (device, inode) of ``occur.db``, ``occur.db-wal`` and ``keys/data.key``
when it opens, and a health check compares:

- the WAL gone or replaced: its acknowledged frames are still readable through the open handle,
  so they are checkpointed into the database file first; then writing stops with an error;
- the database gone or replaced: writing stops with an error (nothing can save what follows);
- the data key gone or replaced: the service must stop (see :mod:`firmware.store.keycheck`).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from firmware.config import Paths

Identity = tuple[int, int]


def identity(path: Path) -> Identity | None:
    """(device, inode) of ``path``, or None when there is no such file."""
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return None
    return st.st_dev, st.st_ino


@dataclass
class Findings:
    """What a health check found: the database side and the keys side."""

    database: list[str] = field(default_factory=list)
    wal_only: bool = False
    keys: list[str] = field(default_factory=list)

    @property
    def all(self) -> list[str]:
        """Every problem, database first."""
        return self.database + self.keys


class FileWatch:
    """Identities of the files the store must keep, taken when it opened."""

    def __init__(self, paths: Paths) -> None:
        self.database = paths.database
        self.wal = Path(f"{paths.database}-wal")
        self.key = paths.keys / "data.key"
        self._ids: dict[Path, Identity | None] = {}

    def record(self) -> None:
        """Remember the files as they are now (at open)."""
        self._ids = {p: identity(p) for p in (self.database, self.wal, self.key)}

    def _changed(self, path: Path) -> str | None:
        known = self._ids.get(path)
        now = identity(path)
        if known is None:
            self._ids[path] = now  # not there at open (a WAL made later): watched from now on
            return None
        if now is None:
            return "was deleted"
        return None if now == known else "was replaced by another file"

    def check(self) -> Findings:
        """Compare with what was recorded."""
        found = Findings()
        db, wal, key = self._changed(self.database), self._changed(self.wal), self._changed(self.key)
        if db is not None:
            found.database.append(
                f"{self.database} {db} while in use (the open file has no name left, st_nlink 0): "
                "writing stopped, because records written now would be lost; restore the database "
                "(or a backup) and restart"
            )
        if wal is not None:
            found.database.append(
                f"{self.wal} {wal} while in use (st_nlink 0): writing stopped so that no acknowledged "
                "record goes where no one will read it; find what deleted it and restart"
            )
            found.wal_only = db is None
        if key is not None:
            found.keys.append(
                f"{self.key} {key} while the door ran: stopping; restore the keys folder "
                "(a new key is never made while sealed data exists)"
            )
        return found

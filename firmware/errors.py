"""Exception tree of the firmware.

Every error the firmware raises on purpose derives from :class:`OccurError`, and each area has
its own subclass so callers (the CLI, the service) can map an error to an exit status or an LED
pattern without parsing messages. Where a builtin fits, the error inherits it too, so generic
callers (``except ValueError``) keep working. Third-party errors are translated at the adapter
boundary with ``raise ... from err``.
"""

from __future__ import annotations


class OccurError(Exception):
    """Base of all deliberate firmware errors."""


class ConfigError(OccurError, ValueError):
    """The configuration is unreadable or invalid.

    ``problems`` lists one ``(key, message)`` pair per offending key, with dotted key paths
    (``storage.busy_timeout_ms``), so ``occur check-config`` can name every bad key at once.
    """

    def __init__(self, problems: list[tuple[str, str]], source: str = "") -> None:
        self.problems = list(problems)
        self.source = source
        where = f"{source}: " if source else ""
        detail = "; ".join(f"{key}: {msg}" for key, msg in self.problems)
        super().__init__(f"{where}invalid configuration: {detail}")


class InvalidInputError(OccurError, ValueError):
    """An argument failed validation; nothing was written."""


class StoreError(OccurError):
    """Base of storage errors (SQLite database and data folder)."""


class StorageFullError(StoreError, OSError):
    """The disk (or the database's size cap) is full.

    The failed transaction was rolled back; everything committed before it is intact. Free
    space (retention, snapshot clean-up) and retry.
    """


class DatabaseBusyError(StoreError, TimeoutError):
    """Another connection held the write lock for longer than the busy timeout."""


class DatabaseCorruptError(StoreError):
    """The database file failed its integrity check or is not a database.

    The message names the recovery command. The firmware never recreates a damaged database on
    its own: that would silently drop the records it owes.
    """


class SchemaError(StoreError):
    """The database schema cannot be used by this code.

    Raised for a database newer than the code, a database that belongs to another application,
    or a failed migration (which is rolled back).
    """


class NotFoundError(StoreError, LookupError):
    """A requested record (user, event) does not exist."""


class AmbiguousError(StoreError, LookupError):
    """A name matches several records; the caller must use the numeric id."""


class LegacyImportError(StoreError):
    """A legacy database could not be imported; nothing was written."""


class ModelError(OccurError):
    """A model file is missing, is not the expected model, or the runtime cannot run it."""


class ImageError(OccurError, ValueError):
    """An image cannot be decoded (corrupt, truncated, not an image)."""


class CameraError(OccurError):
    """The camera cannot be opened or stopped delivering frames."""


class FrameError(CameraError):
    """One frame cannot be used (a replay file that does not decode, a malformed frame from a
    live camera) while the camera itself works: the frame is skipped and counted, the camera is
    not reopened (for a replay, reopening would start again at the first file)."""


class HardwareError(OccurError):
    """A GPIO device cannot be set up (pin in use, no pin factory)."""


class UpdateError(OccurError):
    """A model update was refused or failed: unverifiable metadata or bundle, a failed
    self-test, or an interrupted install. The running model is kept."""

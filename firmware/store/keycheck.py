"""The device keys must be the ones the database was sealed with, and are never replaced
silently.

The database records the fingerprint of its data key (``key_epoch``, written when the key is
made and by every rotation). At every open:

- a missing ``keys/data.key`` is an error when the database holds anything sealed under it (user
  keys, strangers' templates, legacy templates, the secure log) or records a fingerprint: a new
  key would make every user unknown and every sealed record unreadable, and the old one may
  still be restored from where the operator keeps it. Only an empty database gets new keys;
- a data key whose fingerprint differs from the recorded one (another device's keys, a file
  copied over) is refused the same way;
- a missing signing key is an error once the secure log has signed checkpoints.

During an interrupted rotation (``data.key.next`` exists) the rotation code decides instead.
"""

from __future__ import annotations

from typing import Any

from firmware.config import Paths
from firmware.crypto.keys import KeyFileError, Keys, rotation_interrupted
from firmware.platform.clock import now_iso
from firmware.store.db import Connection

_SEALED = (
    ("user keys", "SELECT count(*) FROM user_keys"),
    ("strangers' templates", "SELECT count(*) FROM unknown_encodings"),
    ("legacy templates", "SELECT count(*) FROM users WHERE face_encoding IS NOT NULL"),
    ("sealed templates", "SELECT count(*) FROM face_encodings WHERE length(vector) <> 4 * dim"),
    ("secure log entries", "SELECT count(*) FROM secure_log"),
)


def sealed_data(conn: Connection) -> list[str]:
    """What the database holds that only the data key opens (``["3 user keys", ...]``)."""
    found = []
    for label, sql in _SEALED:
        row: Any = conn.execute(sql).fetchone()
        if int(row[0]):
            found.append(f"{int(row[0])} {label}")
    return found


def recorded_fingerprint(conn: Connection) -> str | None:
    """The data key fingerprint the database was sealed with, if recorded."""
    row: Any = conn.execute("SELECT fingerprint FROM key_epoch WHERE id = 1").fetchone()
    return None if row is None else str(row[0])


def record_fingerprint(conn: Connection, fingerprint: str) -> None:
    """Record (or, for a rotation or a migration, replace) the data key's fingerprint."""
    conn.execute(
        "INSERT OR REPLACE INTO key_epoch (id, fingerprint, rotated_at) VALUES (1, ?, ?)", (fingerprint, now_iso())
    )


def check_keys(conn: Connection, paths: Paths) -> Keys | None:
    """Load the keys the database needs, making them only for a database with nothing sealed.
    Returns None during an interrupted rotation. Runs on the writer connection at open, outside
    any transaction.

    Raises:
        KeyFileError: a key is missing or is not the database's (the message says what to do).
    """
    if rotation_interrupted(paths.keys):
        return None
    data, signing = paths.keys / "data.key", paths.keys / "device_ed25519.key"
    recorded = recorded_fingerprint(conn)
    if not data.exists():
        sealed = sealed_data(conn)
        if sealed or recorded is not None:
            what = ", ".join(sealed) or f"data sealed under key {recorded}"
            raise KeyFileError(
                f"{data} is missing, but the database holds {what}: restore the keys folder from where "
                "it was kept (a new key would make every user unknown); nothing was changed"
            )
    if not signing.exists() and data.exists():
        row: Any = conn.execute("SELECT count(*) FROM secure_log_checkpoints").fetchone()
        if int(row[0]):
            raise KeyFileError(
                f"{signing} is missing, but {int(row[0])} secure-log checkpoints were signed with it: "
                "restore the keys folder; nothing was changed"
            )
    keys = Keys(paths.keys, create=True)
    fingerprint = keys.fingerprint()
    if recorded is None:
        with conn:
            record_fingerprint(conn, fingerprint)
    elif recorded != fingerprint:
        raise KeyFileError(
            f"{data} does not match the key this database was sealed with (fingerprint {recorded}, "
            f"the file's is {fingerprint}): restore this device's keys folder, or move a database between "
            "devices with 'occur backup migration-export' and 'occur backup restore'"
        )
    return keys

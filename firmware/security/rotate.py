"""``occur keys rotate``: put everything under a new device data key.

Order, so that a crash at any point loses nothing:

1. the new key is written to ``keys/data.key.next`` (0600, synced); from here on every ``occur``
   command refuses to start until the rotation is finished or undone (``--resume``);
2. one database transaction re-wraps every per-user key, re-seals strangers' templates,
   re-seals and re-chains the secure log (re-signing its checkpoints) and records the new key's
   fingerprint in ``key_epoch``;
3. every sealed picture (snapshots, strangers' pictures, capture-session frames) is re-sealed,
   file by file, atomically;
4. ``data.key.next`` replaces ``data.key``; the old key is gone.

``--resume`` finishes when the database already carries the new fingerprint (steps 3-4, which
are idempotent), and otherwise undoes (deletes ``data.key.next``; nothing else had changed).
Per-user keys are re-wrapped, not replaced, so templates and chips sealed under them stay valid
(envelope encryption: the data key only ever protects keys and device-wide material). The secure
log's first entry after a rotation records the previous chain head, so auditors holding earlier
published checkpoints can follow the log across the rotation.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from firmware.config import Paths
from firmware.crypto.keys import PENDING_DATA_KEY, IntegrityError, Keys
from firmware.platform.fileio import fsync_path, write_private
from firmware.security.securelog import SecureLog
from firmware.store.db import Connection
from firmware.store.keycheck import record_fingerprint, recorded_fingerprint
from firmware.store.sealing import MAGIC, Sealer
from firmware.store.store import Store


@dataclass(frozen=True)
class RotationReport:
    """What was re-sealed."""

    fingerprint: str
    user_keys: int
    stranger_templates: int
    log_entries: int
    pictures: int


def _reseal_pictures(paths: Paths, old: Sealer, new: Sealer) -> int:
    count = 0
    sources = [("snapshot", p) for p in paths.snapshots.rglob("*.jpg")] if paths.snapshots.is_dir() else []
    if paths.unknown_faces.is_dir():
        sources += [("unknown", p) for p in paths.unknown_faces.glob("*.jpg")]
    if (paths.root / "pad").is_dir():  # presentation-attack capture sessions (occur pad record)
        sources += [("pad", p) for p in (paths.root / "pad").rglob("*") if p.is_file()]
    for kind, path in sources:
        body = path.read_bytes()
        if not body.startswith(MAGIC):
            continue
        try:
            new.open_picture(kind, body)
            continue  # already under the new key (a resumed rotation)
        except IntegrityError:
            data = old.open_picture(kind, body)
        write_private(path, new.seal_picture(kind, data))
        count += 1
    return count


def _finish(paths: Paths, old: Sealer, new: Sealer) -> int:
    pictures = _reseal_pictures(paths, old, new)
    os.replace(paths.keys / PENDING_DATA_KEY, paths.keys / "data.key")
    fsync_path(paths.keys)
    return pictures


def rotate(store: Store, paths: Paths, device_id: str = "") -> RotationReport:
    """Rotate the data key (see the module doc for the order)."""
    old_keys = Keys(paths.keys)
    new_key = os.urandom(32)
    write_private(paths.keys / PENDING_DATA_KEY, new_key, exclusive=True)
    new_keys = Keys(paths.keys, new_key)
    old, new = Sealer(old_keys), Sealer(new_keys)
    old_log, new_log = SecureLog(old_keys, device_id), SecureLog(new_keys, device_id)

    def job(conn: Connection) -> tuple[int, int, int, dict[str, object]]:
        users, strangers = old.reseal_into(conn, new)
        entries, head = old_log.rechain_into(conn, new_log)
        record_fingerprint(conn, new_keys.fingerprint())
        return users, strangers, entries, head

    try:
        users, strangers, entries, head = store.write(job)
    except BaseException:
        (paths.keys / PENDING_DATA_KEY).unlink(missing_ok=True)
        raise
    pictures = _finish(paths, old, new)
    store.write(
        lambda c: new_log.append(c, "key_rotation", {"previous_head": head, "fingerprint": new_keys.fingerprint()})
    )
    store.write(new_log.checkpoint)
    return RotationReport(new_keys.fingerprint(), users, strangers, entries, pictures)


def resume(store: Store, paths: Paths) -> str:
    """Finish or undo an interrupted rotation; returns what was done."""
    pending = paths.keys / PENDING_DATA_KEY
    if not pending.exists():
        return "no rotation was interrupted"
    new_keys = Keys(paths.keys, pending.read_bytes())
    with store.reader() as conn:
        recorded = recorded_fingerprint(conn)
    if recorded != new_keys.fingerprint():
        pending.unlink()
        return "the database was not re-sealed: rotation undone, the old key stays"
    old_keys = Keys(paths.keys, (paths.keys / "data.key").read_bytes())
    pictures = _finish(paths, Sealer(old_keys), Sealer(new_keys))
    return f"rotation finished: {pictures} pictures re-sealed"

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
from pathlib import Path
from typing import Any

from firmware.config import Paths
from firmware.crypto.keys import PENDING_DATA_KEY, IntegrityError, Keys, mac, seal, unseal
from firmware.platform.clock import now_iso
from firmware.platform.fileio import fsync_path, write_private
from firmware.security.securelog import GENESIS, SecureLog, _header
from firmware.store.db import Connection
from firmware.store.sealing import MAGIC, Sealer
from firmware.store.store import Store
from firmware.store.writer import after_commit


@dataclass(frozen=True)
class RotationReport:
    """What was re-sealed."""

    fingerprint: str
    user_keys: int
    stranger_templates: int
    log_entries: int
    pictures: int


def rewrap_users(conn: Connection, old: Sealer, new: Sealer) -> int:
    """Re-wrap every per-user key from ``old``'s data key to ``new``'s; returns how many."""
    rows: list[Any] = conn.execute("SELECT user_id, wrapped FROM user_keys").fetchall()
    for user_id, wrapped in rows:
        aad = f"user-key:{int(user_id)}".encode()
        key = unseal(old._kek, bytes(wrapped), aad)
        conn.execute("UPDATE user_keys SET wrapped = ? WHERE user_id = ?", (seal(new._kek, key, aad), int(user_id)))
    return len(rows)


def reseal_strangers(conn: Connection, old: Sealer, new: Sealer) -> int:
    """Re-seal every stranger's template under ``new``'s key; returns how many.

    Raises:
        IntegrityError: a template does not open under ``old``'s key (nothing is changed).
    """
    rows: list[Any] = conn.execute("SELECT id, unknown_id, model, dim, vector FROM unknown_encodings").fetchall()
    for row_id, unknown_id, model, dim, blob in rows:
        vector = old.open_stranger(int(unknown_id), str(model), bytes(blob), int(dim))
        if vector is None:
            raise IntegrityError(f"stranger template {row_id} does not open: rotation stopped, nothing changed")
        resealed = new.seal_stranger(int(unknown_id), str(model), vector.astype("<f4").tobytes())
        conn.execute("UPDATE unknown_encodings SET vector = ? WHERE id = ?", (resealed, int(row_id)))
    return len(rows)


def rechain_log(conn: Connection, old: SecureLog, new: SecureLog) -> tuple[int, dict[str, object]]:
    """Re-seal and re-chain the secure log under ``new``'s keys and re-sign its checkpoints;
    returns the entries done and the old head. The head file follows once this commits."""
    entries: list[Any] = conn.execute(
        "SELECT seq, timestamp, event_type, user_id, sealed, chain FROM secure_log ORDER BY seq"
    ).fetchall()
    if not entries:
        return 0, {}
    first = int(entries[0][0])
    anchor: Any = conn.execute("SELECT chain FROM secure_log_checkpoints WHERE seq = ?", (first - 1,)).fetchone()
    previous = GENESIS if first == 1 or anchor is None else bytes(anchor[0])
    old_head = {"seq": int(entries[-1][0]), "chain": bytes(entries[-1][5]).hex()}
    conn.execute("DROP TRIGGER IF EXISTS secure_log_no_update")
    chains: dict[int, bytes] = {}
    for seq, ts, kind, user, sealed, _chain in entries:
        header = _header(int(seq), str(ts), str(kind), user)
        body = unseal(old._seal_key, bytes(sealed), header)
        resealed = seal(new._seal_key, body, header)
        chain = mac(new._chain_key, previous + header + resealed)
        conn.execute("UPDATE secure_log SET sealed = ?, chain = ? WHERE seq = ?", (resealed, chain, int(seq)))
        previous, chains[int(seq)] = chain, chain
    conn.execute(
        "CREATE TRIGGER secure_log_no_update BEFORE UPDATE ON secure_log "
        "BEGIN SELECT RAISE(ABORT, 'the secure log is append-only'); END"
    )
    last_seq = int(entries[-1][0])
    after_commit(conn, lambda: new.head.write(last_seq, chains[last_seq]))  # the head file under the new key
    checkpoints: list[Any] = conn.execute("SELECT seq, timestamp FROM secure_log_checkpoints").fetchall()
    for seq, ts in checkpoints:
        if int(seq) in chains:
            from firmware.security.securelog import _checkpoint_message

            signature = new.keys.sign(_checkpoint_message(int(seq), chains[int(seq)], str(ts)))
            conn.execute(
                "UPDATE secure_log_checkpoints SET chain = ?, signature = ? WHERE seq = ?",
                (chains[int(seq)], signature, int(seq)),
            )
    return len(entries), old_head


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
        users = rewrap_users(conn, old, new)
        strangers = reseal_strangers(conn, old, new)
        entries, head = rechain_log(conn, old_log, new_log)
        conn.execute(
            "INSERT OR REPLACE INTO key_epoch (id, fingerprint, rotated_at) VALUES (1, ?, ?)",
            (new_keys.fingerprint(), now_iso()),
        )
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
        row: Any = conn.execute("SELECT fingerprint FROM key_epoch WHERE id = 1").fetchone()
    if row is None or str(row[0]) != new_keys.fingerprint():
        pending.unlink()
        return "the database was not re-sealed: rotation undone, the old key stays"
    old_keys = Keys(paths.keys, (paths.keys / "data.key").read_bytes())
    pictures = _finish(paths, Sealer(old_keys), Sealer(new_keys))
    return f"rotation finished: {pictures} pictures re-sealed"


def key_files(paths: Paths) -> list[Path]:
    """The key files (for the docs and tests)."""
    return sorted(p for p in paths.keys.iterdir() if p.is_file()) if paths.keys.is_dir() else []

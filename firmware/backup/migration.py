"""Moving a door to new hardware, and restoring a backup there: ``occur backup migration-export``
and ``occur backup restore``.

A backup archive deliberately carries no key that opens a template (erasure on the device must
reach every copy), so on a replacement device nobody in it is recognised. Two supported paths:

- **Migration export** (the old device still works): an archive sealed to the operator's X25519
  key holding the database *with* its wrapped per-user keys, the sealed enrolment chips, and the
  old device's data key. It is written only where the operator asks, never into ``backups/``, so
  it is never rotated, pushed or kept by the device; the export is recorded in the secure log.
  Restored on the new device, everything is re-sealed from the old key to the new device's own
  (the key-rotation steps): per-user keys re-wrapped, strangers' templates re-sealed, the secure
  log re-chained and its checkpoints re-signed, and a ``device_migration`` entry records the old
  head. The old data key is only ever in memory there. Because it carries keys, an erasure made
  on the old device after the export does not reach it: restore it promptly, then delete it.
- **A backup from another device** (the old one is gone): before anything changes, the restore
  says who cannot be recognised here and must enrol again, and refuses unless the operator
  accepts (``--allow-reenrolment``). Then the templates that cannot open stay sealed for good,
  strangers' templates are dropped, and the old device's secure log, which this device cannot
  verify, is left in the archive: a ``restore`` entry records how many entries and its head.

A backup from this same device restores as before, carrying this device's user keys over.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from firmware.backup import archive as backup
from firmware.config import Config, Paths
from firmware.crypto.keys import IntegrityError, Keys, seal_to_public_key
from firmware.errors import InvalidInputError
from firmware.platform.fileio import write_private
from firmware.security.securelog import SecureLog
from firmware.store import copies
from firmware.store.db import Connection, online_backup, open_plain
from firmware.store.keycheck import record_fingerprint
from firmware.store.sealing import Sealer
from firmware.store.store import Store
from firmware.store.users import list_users
from firmware.store.writer import GroupCommitWriter

KEY_MEMBER = "migration/data.key"


class ReenrolmentNeededError(InvalidInputError):
    """Restoring would leave people who can no longer be recognised; nothing was changed."""


@dataclass
class RestorePlan:
    """What a restore will do, worked out on the staged copy before anything changes."""

    kind: str = "backup"  # backup | migration
    same_device: bool = True
    users: int = 0
    reenrol: list[tuple[int, str]] = field(default_factory=list)
    log_left_behind: int = 0
    old_head: dict[str, object] = field(default_factory=dict)
    source_device: str = ""
    keys_carried: int = 0
    files: int = 0

    def names(self) -> str:
        """``amy (id 1), raj (id 2)``."""
        return ", ".join(f"{name} (id {uid})" for uid, name in self.reenrol)


def export(store: Store, config: Config, out: Path) -> dict[str, object]:
    """Write the migration export to ``out`` (see the module doc); returns what it holds.

    Raises:
        InvalidInputError: no operator key configured, or ``out`` inside the backups folder.
    """
    if not config.backup.operator_public_key_file:
        raise InvalidInputError("set [backup] operator_public_key_file: a migration export is sealed to the operator")
    target = out.resolve()
    if target.is_relative_to(config.paths.backups.resolve()) or target.is_relative_to(config.paths.root.resolve()):
        raise InvalidInputError(f"{out}: write a migration export outside the data folder; it is never kept there")
    public = backup.read_public_key(config.backup.operator_public_key_file)
    copy = config.paths.root / f".migration-{os.getpid()}.db"
    try:
        with store.reader() as conn:
            online_backup(conn, copy)
            users = len(list_users(conn))
        members = {"occur.db": copy.read_bytes(), **backup.face_files(config.paths)}
    finally:
        copy.unlink(missing_ok=True)
    members[KEY_MEMBER] = store.keys.data_key_for_migration()
    stamp = datetime.now(UTC).strftime("%Y%m%d_%H%M%S")
    manifest = {
        "kind": "migration",
        "created": stamp,
        "device": config.device.id,
        "key_fingerprint": store.keys.fingerprint(),
    }
    sealed = seal_to_public_key(public, backup.pack(members, manifest), backup.AAD)
    write_private(out, backup.MAGIC + sealed)
    return {"file": str(out), "users": users, "created": stamp}


def _this_device(paths: Paths) -> Keys:
    if (paths.keys / "data.key").exists() or paths.database.exists():
        return Keys(paths.keys)  # a missing key beside a database is refused there, not replaced
    return Keys(paths.keys, create=True)


def _plan(paths: Paths, staged: Path, manifest: dict[str, Any], current: str) -> RestorePlan:
    plan = RestorePlan(kind=str(manifest.get("kind", "backup")), source_device=str(manifest.get("device", "")))
    source = manifest.get("key_fingerprint") or copies.sealed_with(staged)
    plan.same_device = source in (None, current)
    held = copies.summary(staged)
    users, templated = held.users, held.templated
    if plan.kind == "migration":
        keyed = held.keyed
    elif plan.same_device:
        keyed = copies.users_with_keys(paths.database)
    else:
        keyed = set()
        plan.log_left_behind = held.log_entries
        plan.old_head = {} if held.log_head is None else {"seq": held.log_head[0], "chain": held.log_head[1].hex()}
    plan.users = len(users)
    plan.reenrol = [(uid, name) for uid, name in users if uid in templated and uid not in keyed]
    return plan


def _reseal(staged: Path, old: Keys, new: Keys) -> None:
    """Everything in the staged copy from the old device's data key to this device's (the
    rotation steps, through a writer so the head file follows only a committed re-chain)."""
    conn = open_plain(staged, readonly=False)
    writer = GroupCommitWriter(conn, label=str(staged))
    try:

        def job(c: Connection) -> None:
            Sealer(old).reseal_into(c, Sealer(new))
            SecureLog(old).rechain_into(c, SecureLog(new))
            record_fingerprint(c, new.fingerprint())

        writer.call(job)
    finally:
        writer.close()


def restore(paths: Paths, archive: Path, private_key: bytes, allow_reenrolment: bool = False) -> RestorePlan:
    """Restore a backup or a migration export (see the module doc).

    Raises:
        IntegrityError: the archive fails a check (nothing changed).
        ReenrolmentNeededError: people would have to enrol again and that was not accepted.
    """
    keys = _this_device(paths)
    current = keys.fingerprint()
    plan = RestorePlan()

    def prepare(staged: Path, manifest: dict[str, Any], secrets: dict[str, bytes]) -> None:
        nonlocal plan
        plan = _plan(paths, staged, manifest, current)
        if plan.reenrol and not allow_reenrolment:
            hint = (
                "this backup was made by another device; move a door with a migration export from the old "
                "device ('occur backup migration-export'), or accept with --allow-reenrolment"
                if not plan.same_device
                else "their keys are gone from this device (erased); accept with --allow-reenrolment"
            )
            raise ReenrolmentNeededError(
                f"after this restore these people could not be recognised and would need enrolling again "
                f"({len(plan.reenrol)}): {plan.names()}; {hint}"
            )
        if plan.kind == "migration":
            if KEY_MEMBER not in secrets:
                raise IntegrityError("the migration export carries no data key")
            _reseal(staged, Keys(paths.keys, secrets[KEY_MEMBER]), keys)
        elif plan.same_device:
            plan.keys_carried = copies.carry_keys(paths.database, staged)
        else:
            copies.leave_behind(staged, keys.fingerprint())

    result = backup.restore(paths, archive, private_key, prepare, carry=False)
    plan.files = result["files"]
    return plan

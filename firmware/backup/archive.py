"""Backups (the original "Backup and Recovery"): ``occur backup create|list|restore``.

Each backup is two files in ``<data>/backups`` named with the documented timestamp:

- ``occur_YYYYMMDD_HHMMSS.db``: a consistent online copy (SQLite backup API, safe while the loop
  writes) kept on the device to repair a damaged database at start. Templates in it are sealed.
- ``occur_YYYYMMDD_HHMMSS.occbak`` (when ``[backup] operator_public_key_file`` is set): the same
  database *without* the per-user keys, plus the sealed enrolment chips, as a gzip'd tar with a
  manifest of sha256 sums, sealed to the operator's X25519 public key. The device can write it
  but cannot read it; it holds no key that opens a template, so erasing a user on the device
  (crypto-shredding) reaches these copies too.

Rotation keeps ``keep_daily`` newest backups plus one per ISO week for ``keep_weekly`` weeks.
Restore decrypts with the operator's private key, checks every sha256 and the database's
integrity before touching anything, then swaps the database and the face folder atomically.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import re
import shutil
import tarfile
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from firmware.config import Config, Paths
from firmware.crypto.keys import IntegrityError, Keys, open_with_private_key, seal_to_public_key
from firmware.errors import InvalidInputError
from firmware.platform.fileio import write_private
from firmware.store import backup_pushes, copies
from firmware.store.db import online_backup
from firmware.store.store import Store

MAGIC = b"OCCUR-BACKUP-1\n"
AAD = b"occur-backup-archive"
_NAME = re.compile(r"occur_(\d{8}_\d{6})\.(db|occbak)")


@dataclass(frozen=True)
class Backup:
    """One backup file."""

    path: Path
    stamp: str
    kind: str  # db | occbak
    size: int


def read_public_key(path: str) -> bytes:
    """An X25519 public key: 64 hex characters in a file. Raises InvalidInputError."""
    try:
        key = bytes.fromhex(Path(path).read_text().strip())
    except (OSError, ValueError) as err:
        raise InvalidInputError(f"{path}: not a readable hex X25519 public key ({err})") from err
    if len(key) != 32:
        raise InvalidInputError(f"{path}: an X25519 key is 32 bytes")
    return key


def list_backups(paths: Paths) -> list[Backup]:
    """Backups, newest first."""
    found = []
    if paths.backups.is_dir():
        for p in paths.backups.iterdir():
            m = _NAME.fullmatch(p.name)
            if m:
                found.append(Backup(p, m.group(1), m.group(2), p.stat().st_size))
    return sorted(found, key=lambda b: (b.stamp, b.kind), reverse=True)


def pack(members: dict[str, bytes], manifest: dict[str, Any]) -> bytes:
    """A gzip'd tar of ``members`` plus ``manifest.json`` (with every member's sha256)."""
    members = dict(members)
    manifest = {**manifest, "files": {k: hashlib.sha256(v).hexdigest() for k, v in members.items()}}
    members["manifest.json"] = json.dumps(manifest, indent=2).encode()
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size, info.mode, info.mtime = len(data), 0o600, 0
            tar.addfile(info, io.BytesIO(data))
    return gzip.compress(raw.getvalue(), mtime=0)


def face_files(paths: Paths) -> dict[str, bytes]:
    """The sealed enrolment chips, by path under the data folder."""
    if not paths.face_db.is_dir():
        return {}
    return {
        f.relative_to(paths.root).as_posix(): f.read_bytes() for f in sorted(paths.face_db.rglob("*")) if f.is_file()
    }


def _archive(paths: Paths, db_copy: Path, stamp: str, device: str, fingerprint: str) -> bytes:
    stripped = db_copy.with_name(db_copy.name + ".nokeys")
    shutil.copyfile(db_copy, stripped)
    try:
        copies.drop_user_keys(stripped)
        members: dict[str, bytes] = {"occur.db": stripped.read_bytes()}
    finally:
        stripped.unlink(missing_ok=True)
    members.update(face_files(paths))
    manifest = {"kind": "backup", "created": stamp, "device": device, "key_fingerprint": fingerprint}
    return pack(members, manifest)


def create(store: Store, config: Config, now: datetime | None = None) -> list[Path]:
    """Make a backup now; returns the files written (then rotates)."""
    paths = config.paths
    paths.backups.mkdir(mode=0o700, parents=True, exist_ok=True)
    stamp = (now or datetime.now(UTC)).strftime("%Y%m%d_%H%M%S")
    local = paths.backups / f"occur_{stamp}.db"
    with store.reader() as conn:
        online_backup(conn, local)
    written = [local]
    if config.backup.operator_public_key_file:
        public = read_public_key(config.backup.operator_public_key_file)
        archive = _archive(paths, local, stamp, config.device.id, store.keys.fingerprint())
        sealed = seal_to_public_key(public, archive, AAD)
        target = paths.backups / f"occur_{stamp}.occbak"
        write_private(target, MAGIC + sealed)
        written.append(target)
    protected: set[str] = set()
    if config.backup.push_url:  # an archive not yet confirmed at the target is never rotated away
        protected = {b.path.name for b in list_backups(paths) if b.kind == "occbak"} - pushed_archives(store)
    rotate(paths, config.backup.keep_daily, config.backup.keep_weekly, protected)
    return written


def pushed_archives(store: Store) -> set[str]:
    """Names of the archives the push target has acknowledged (see firmware.backup.push)."""
    with store.reader() as conn:
        return backup_pushes.pushed(conn)


def rotate(paths: Paths, keep_daily: int, keep_weekly: int, protected: set[str] | None = None) -> list[Path]:
    """Delete backups outside the policy, except ``protected`` file names; returns what was deleted."""
    stamps = sorted({b.stamp for b in list_backups(paths)}, reverse=True)
    keep = set(stamps[:keep_daily])
    weeks: set[tuple[int, int]] = set()
    for stamp in stamps[keep_daily:]:
        week = datetime.strptime(stamp, "%Y%m%d_%H%M%S").isocalendar()[:2]
        if week not in weeks and len(weeks) < keep_weekly:
            weeks.add(week)
            keep.add(stamp)
    deleted = [b.path for b in list_backups(paths) if b.stamp not in keep and b.path.name not in (protected or set())]
    for path in deleted:
        path.unlink(missing_ok=True)
    return deleted


def forget_keys_in_local_copies(paths: Paths, user_id: int) -> int:
    """Remove a forgotten user's key from every local database copy; returns copies changed."""
    changed = 0
    for backup in list_backups(paths):
        if backup.kind != "db":
            continue
        changed += copies.drop_user_keys(backup.path, user_id)
    return changed


def _safe_members(tar: tarfile.TarFile) -> dict[str, bytes]:
    out: dict[str, bytes] = {}
    for member in tar.getmembers():
        name = member.name
        if not member.isfile() or name.startswith("/") or ".." in Path(name).parts:
            raise IntegrityError(f"backup member {name!r} is not allowed")
        handle = tar.extractfile(member)
        if handle is None:
            raise IntegrityError(f"backup member {name!r} is unreadable")
        out[name] = handle.read()
    return out


def open_archive(archive: Path, private_key: bytes) -> dict[str, bytes]:
    """Decrypt and check an archive; returns its files. Raises IntegrityError."""
    return open_checked(archive, private_key)[0]


def open_checked(archive: Path, private_key: bytes) -> tuple[dict[str, bytes], dict[str, Any]]:
    """Decrypt and check an archive (a backup or a migration export); returns its files and its
    manifest. Raises IntegrityError."""
    body = archive.read_bytes()
    if not body.startswith(MAGIC):
        raise IntegrityError(f"{archive.name} is not an OCCUR backup")
    data = gzip.decompress(open_with_private_key(private_key, body[len(MAGIC) :], AAD))
    with tarfile.open(fileobj=io.BytesIO(data), mode="r") as tar:
        members = _safe_members(tar)
    manifest: dict[str, Any] = json.loads(members.pop("manifest.json"))
    if set(manifest["files"]) != set(members):
        raise IntegrityError("the backup's files do not match its manifest")
    for name, digest in manifest["files"].items():
        if hashlib.sha256(members[name]).hexdigest() != digest:
            raise IntegrityError(f"{name} does not match its sha256 in the manifest")
    return members, manifest


Prepare = Callable[[Path, dict[str, Any], dict[str, bytes]], None]
"""Called with the staged database, the archive's manifest and its in-memory secrets
(``migration/...`` members, never written to disk) before anything live is changed; it may
refuse by raising, or change the staged copy."""


def restore(
    paths: Paths, archive: Path, private_key: bytes, prepare: Prepare | None = None, carry: bool = True
) -> dict[str, int]:
    """Replace the database and face folder with an archive's, after checking everything.

    With ``carry``, the current device's per-user keys are carried over for users present
    in the backup (the archive has none). Raises IntegrityError or whatever ``prepare`` raises
    (nothing is changed), or StoreError.
    """
    members, manifest = open_checked(archive, private_key)
    secrets = {k: v for k, v in members.items() if k.startswith("migration/")}
    staging = paths.root / f".restore-{os.getpid()}"
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(mode=0o700)
    try:
        for name, data in members.items():
            if name not in secrets:
                write_private(staging / name, data)
        new_db = staging / "occur.db"
        if not copies.integrity_ok(new_db):
            raise IntegrityError("the database in the backup fails its integrity check")
        if prepare is not None:
            prepare(new_db, manifest, secrets)
        carried = copies.carry_keys(paths.database, new_db) if carry else 0
        for suffix in ("-wal", "-shm"):
            Path(str(paths.database) + suffix).unlink(missing_ok=True)
        os.replace(new_db, paths.database)
        if (staging / "face_db").is_dir():
            old = paths.root / f".face_db-replaced-{os.getpid()}"
            if paths.face_db.exists():
                os.replace(paths.face_db, old)
            os.replace(staging / "face_db", paths.face_db)
            shutil.rmtree(old, ignore_errors=True)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return {"files": len(members), "keys_carried_over": carried}


def repair_from_local(paths: Paths) -> Path | None:
    """After a corruption report at start: put the damaged file aside and restore the newest
    local copy that passes its integrity check and was sealed with this device's data key (a
    copy from before a key rotation opens nothing); returns it (None when there is none)."""
    current = Keys(paths.keys).fingerprint() if (paths.keys / "data.key").exists() else None
    for backup in list_backups(paths):
        if (
            backup.kind == "db"
            and copies.integrity_ok(backup.path)
            and copies.sealed_with(backup.path) in (None, current)
        ):
            stamp = datetime.now(UTC).strftime("%Y%m%d_%H%M%S")
            for suffix in ("", "-wal", "-shm"):
                source = Path(str(paths.database) + suffix)
                if source.exists():
                    os.replace(source, Path(f"{paths.database}.damaged-{stamp}{suffix}"))
            shutil.copyfile(backup.path, paths.database)
            os.chmod(paths.database, 0o600)
            return backup.path
    return None

"""The right to erasure: ``occur users forget`` removes everything biometric about one person.

In one transaction: the user's encodings and samples (cascade), the legacy ``face_encoding``
column, the user row itself; attendance rows are kept for the employer's records but detached
(user_id NULL, snapshot path cleared); ``face_events`` and ``door_events`` rows keep their
time and outcome but the user reference becomes a pseudonym (``forgotten:<8 hex>``, a salted
hash nobody can reverse to the person). The verbatim copies a legacy import kept of the
person's original rows (``legacy_imports``: their users row with name, email, role and sealed
template, and their attendance rows) become tombstones naming only the pseudonym; each keeps its
one-way fingerprint, so importing the same original database again does not bring the person
back. Then files: the enrolment chips and every snapshot
folder of the user are deleted. Then the database is made to forget physically: SQLite's
``secure_delete`` has zeroed the freed cells, and a TRUNCATE checkpoint removes old page images
from the WAL. Returns a receipt (counts, no biometric data) that the caller logs in the secure log.
"""

from __future__ import annotations

import hashlib
import os
import shutil
from dataclasses import dataclass

from firmware.config import Paths
from firmware.store import users
from firmware.store.db import Connection
from firmware.store.erasure import erase_user
from firmware.store.store import Store


@dataclass(frozen=True)
class Receipt:
    """What was erased (counts and a pseudonym; never biometric data)."""

    user_id: int
    pseudonym: str
    encodings: int
    samples: int
    attendance_detached: int
    events_pseudonymised: int
    files_deleted: int


def _erase_rows(conn: Connection, ref: str | int, salt: bytes) -> tuple[Receipt, str]:
    user = users.find_user(conn, ref)
    pseudonym = "forgotten:" + hashlib.sha256(salt + str(user.id).encode()).hexdigest()[:8]
    erased = erase_user(conn, user.id, pseudonym)
    receipt = Receipt(
        user.id, pseudonym, erased.encodings, erased.samples, erased.attendance_detached, erased.events_pseudonymised, 0
    )
    return receipt, user.name


def forget(store: Store, paths: Paths, ref: str | int) -> Receipt:
    """Erase one user; raises NotFoundError / AmbiguousError for a bad reference."""
    salt = os.urandom(16)
    receipt, _name = store.write(lambda conn: _erase_rows(conn, ref, salt))
    files = 0
    folders = [paths.face_db / f"user_{receipt.user_id:03d}"]
    if paths.snapshots.is_dir():
        folders += [p for p in paths.snapshots.glob(f"*/*/*/{receipt.user_id}") if p.is_dir()]
    for folder in folders:
        if folder.is_dir():
            files += sum(1 for p in folder.rglob("*") if p.is_file())
            shutil.rmtree(folder, ignore_errors=True)
    store.checkpoint_truncate()
    return Receipt(
        receipt.user_id,
        receipt.pseudonym,
        receipt.encodings,
        receipt.samples,
        receipt.attendance_detached,
        receipt.events_pseudonymised,
        files,
    )

"""Sealing of face templates at rest, with per-user keys.

Each user gets a random 32-byte key, stored only wrapped (AES-256-GCM) under a key derived from
the device data key, in ``user_keys`` (deleted with the user: crypto-shredding). A template is
sealed under its owner's key with ``encoding:<user id>:<model>`` as associated data, so a sealed
vector copied to another user's or model's row does not open. Strangers' templates are sealed
under a device-wide derived key. Rows written before encryption existed (exactly 4 x dim bytes)
still read, and are re-sealed by ``occur reembed``.
"""

from __future__ import annotations

import os
import threading
from typing import Any

import numpy as np
import numpy.typing as npt

from firmware.crypto.keys import IntegrityError, Keys, seal, unseal
from firmware.platform.clock import now_iso
from firmware.store.db import Connection

Vector = npt.NDArray[np.float32]
OVERHEAD = 28  # nonce 12 + tag 16
MAGIC = b"OCCUR-SEALED-1\n"  # first bytes of a sealed picture file


class Sealer:
    """Seals and opens templates; user keys are cached unwrapped in memory only."""

    def __init__(self, keys: Keys) -> None:
        self._kek = keys.derive("face-templates/user-keys")
        self._strangers = keys.derive("face-templates/strangers")
        self._pictures = keys.derive("pictures")
        self._cache: dict[int, bytes] = {}
        self._lock = threading.Lock()

    def user_key(self, conn: Connection, user_id: int, create: bool) -> bytes | None:
        """The user's key (made on first use when ``create``); None when there is none."""
        with self._lock:
            if user_id in self._cache:
                return self._cache[user_id]
        row: Any = conn.execute("SELECT wrapped FROM user_keys WHERE user_id = ?", (user_id,)).fetchone()
        aad = f"user-key:{user_id}".encode()
        if row is not None:
            key = unseal(self._kek, bytes(row[0]), aad)
        elif create:
            key = os.urandom(32)
            conn.execute(
                "INSERT INTO user_keys (user_id, wrapped, created_at) VALUES (?, ?, ?)",
                (user_id, seal(self._kek, key, aad), now_iso()),
            )
        else:
            return None
        with self._lock:
            self._cache[user_id] = key
        return key

    def forget(self, user_id: int) -> None:
        """Drop a user's key from memory (its row goes with the user)."""
        with self._lock:
            self._cache.pop(user_id, None)

    def seal_template(self, conn: Connection, user_id: int, model: str, vector: bytes) -> bytes:
        """Seal a user's template (runs inside a writer job: may create the user's key)."""
        key = self.user_key(conn, user_id, create=True)
        assert key is not None
        return seal(key, vector, f"encoding:{user_id}:{model}".encode())

    def open_template(self, conn: Connection, user_id: int, model: str, blob: bytes, dim: int) -> Vector | None:
        """The template, or None when its key is gone (forgotten) or it fails to open."""
        if len(blob) == 4 * dim:
            return np.frombuffer(blob, dtype="<f4").astype(np.float32)
        key = self.user_key(conn, user_id, create=False)
        if key is None:
            return None
        try:
            plain = unseal(key, blob, f"encoding:{user_id}:{model}".encode())
        except IntegrityError:
            return None
        return np.frombuffer(plain, dtype="<f4").astype(np.float32)

    def seal_stranger(self, unknown_id: int, model: str, vector: bytes) -> bytes:
        """Seal a stranger's template."""
        return seal(self._strangers, vector, f"stranger:{unknown_id}:{model}".encode())

    def open_stranger(self, unknown_id: int, model: str, blob: bytes, dim: int) -> Vector | None:
        """A stranger's template, or None if it fails to open."""
        if len(blob) == 4 * dim:
            return np.frombuffer(blob, dtype="<f4").astype(np.float32)
        try:
            plain = unseal(self._strangers, blob, f"stranger:{unknown_id}:{model}".encode())
        except IntegrityError:
            return None
        return np.frombuffer(plain, dtype="<f4").astype(np.float32)

    def seal_picture(self, kind: str, data: bytes) -> bytes:
        """Seal a snapshot or unknown-face picture (``kind``) under the device pictures key."""
        return MAGIC + seal(self._pictures, data, f"picture:{kind}".encode())

    def open_picture(self, kind: str, body: bytes) -> bytes:
        """A picture's JPEG bytes (plaintext files from before pass through).

        Raises:
            IntegrityError: the file was altered.
        """
        if not body.startswith(MAGIC):
            return body
        return unseal(self._pictures, body[len(MAGIC) :], f"picture:{kind}".encode())

    def seal_user_blob(self, conn: Connection, user_id: int, purpose: str, data: bytes) -> bytes:
        """Seal a user's biometric bytes under their key, as a file or column body: an enrolment
        chip (``purpose`` "chip") or a legacy ``face_encoding``. ``purpose`` and the user are the
        associated data, so a body moved to another user or use does not open."""
        key = self.user_key(conn, user_id, create=True)
        assert key is not None
        return MAGIC + seal(key, data, f"{purpose}:{user_id}".encode())

    def open_user_blob(self, conn: Connection, user_id: int, purpose: str, body: bytes) -> bytes | None:
        """Open :meth:`seal_user_blob`'s output; None when the key is gone or it fails."""
        if not body.startswith(MAGIC):
            return body
        key = self.user_key(conn, user_id, create=False)
        if key is None:
            return None
        try:
            return unseal(key, body[len(MAGIC) :], f"{purpose}:{user_id}".encode())
        except IntegrityError:
            return None

    def reseal_into(self, conn: Connection, new: Sealer) -> tuple[int, int]:
        """Move everything sealed under this data key in the database to ``new``'s, inside the
        caller's transaction (a key rotation): per-user keys are re-wrapped (the templates and
        chips sealed under them stay valid) and strangers' templates re-sealed. Returns
        ``(user keys, stranger templates)``.

        Raises:
            IntegrityError: something does not open under this key (the transaction rolls back).
        """
        users: list[Any] = conn.execute("SELECT user_id, wrapped FROM user_keys").fetchall()
        for user_id, wrapped in users:
            aad = f"user-key:{int(user_id)}".encode()
            key = unseal(self._kek, bytes(wrapped), aad)
            conn.execute("UPDATE user_keys SET wrapped = ? WHERE user_id = ?", (seal(new._kek, key, aad), int(user_id)))
        strangers: list[Any] = conn.execute(
            "SELECT id, unknown_id, model, dim, vector FROM unknown_encodings"
        ).fetchall()
        for row_id, unknown_id, model, dim, blob in strangers:
            vector = self.open_stranger(int(unknown_id), str(model), bytes(blob), int(dim))
            if vector is None:
                raise IntegrityError(f"stranger template {row_id} does not open: rotation stopped, nothing changed")
            resealed = new.seal_stranger(int(unknown_id), str(model), vector.astype("<f4").tobytes())
            conn.execute("UPDATE unknown_encodings SET vector = ? WHERE id = ?", (resealed, int(row_id)))
        return len(users), len(strangers)

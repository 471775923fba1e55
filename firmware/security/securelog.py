"""The secure log (the original "Secure Logger"): who did what to personal data, tamper-evident.

Each entry's data is JSON sealed with AES-256-GCM under a key derived from the device data key,
with the entry's sequence number, time, type and user as associated data. Each entry carries
``chain = HMAC(log key, previous chain || seq || time || type || user || sealed)``: changing,
removing, reordering or inserting an entry breaks every later link, and without the data key a
forger cannot recompute them. Every ``CHECKPOINT_EVERY`` entries (and on request) the chain head
is signed with the device's Ed25519 key and queued for MQTT (``<prefix>/audit``, retained), so
even a log wiped together with its key is detectable from outside. An UPDATE trigger makes the
table append-only at the SQL level too. Deleting the newest entries, or all of them, is caught by
anchors outside the table (see :mod:`firmware.security.loghead`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from firmware.clock import now_iso
from firmware.errors import InvalidInputError
from firmware.security.keys import IntegrityError, Keys, mac, seal, unseal
from firmware.security.loghead import HeadFile, anchor_problems, counter
from firmware.store import outbox
from firmware.store.db import Connection
from firmware.store.ids import new_id
from firmware.store.writer import after_commit

CHECKPOINT_EVERY = 100
GENESIS = b"\x00" * 32


@dataclass(frozen=True)
class Entry:
    """A decrypted secure-log entry."""

    seq: int
    timestamp: str
    event_type: str
    user_id: str | None
    data: Any


def _header(seq: int, ts: str, event_type: str, user_id: str | None) -> bytes:
    return json.dumps([seq, ts, event_type, user_id], separators=(",", ":")).encode()


class SecureLog:
    """Append, read and verify; writes run inside writer jobs."""

    def __init__(self, keys: Keys, device_id: str = "") -> None:
        self.keys = keys
        self._seal_key = keys.derive("secure-log/seal")
        self._chain_key = keys.derive("secure-log/chain")
        self.device_id = device_id
        self.head = HeadFile(keys)

    def append(self, conn: Connection, event_type: str, data: Any, user_id: str | None = None) -> int:
        """Add an entry; returns its sequence number.

        Raises:
            InvalidInputError: empty type, or data that is not JSON-serialisable.
        """
        if not isinstance(event_type, str) or not event_type.strip() or len(event_type) > 64:
            raise InvalidInputError("event_type must be 1-64 characters")
        try:
            body = json.dumps(data, separators=(",", ":"), sort_keys=True).encode()
        except (TypeError, ValueError) as err:
            raise InvalidInputError(f"secure log data must be JSON-serialisable: {err}") from err
        row: Any = conn.execute("SELECT seq, chain FROM secure_log ORDER BY seq DESC LIMIT 1").fetchone()
        seq, previous = (int(row[0]) + 1, bytes(row[1])) if row else (1, GENESIS)
        ts = now_iso()
        user = None if user_id is None else str(user_id)
        header = _header(seq, ts, event_type, user)
        sealed = seal(self._seal_key, body, header)
        chain = mac(self._chain_key, previous + header + sealed)
        conn.execute(
            "INSERT INTO secure_log (seq, timestamp, event_type, user_id, sealed, chain) VALUES (?, ?, ?, ?, ?, ?)",
            (seq, ts, event_type, user, sealed, chain),
        )
        after_commit(conn, lambda: self.head.write(seq, chain))
        if seq % CHECKPOINT_EVERY == 0:
            self.checkpoint(conn)
        return seq

    def checkpoint(self, conn: Connection) -> int | None:
        """Sign the chain head and queue it for MQTT; returns its seq (None for an empty log)."""
        row: Any = conn.execute("SELECT seq, chain FROM secure_log ORDER BY seq DESC LIMIT 1").fetchone()
        if row is None:
            return None
        seq, chain, ts = int(row[0]), bytes(row[1]), now_iso()
        signature = self.keys.sign(_checkpoint_message(seq, chain, ts))
        conn.execute(
            "INSERT OR REPLACE INTO secure_log_checkpoints (seq, timestamp, chain, signature) VALUES (?, ?, ?, ?)",
            (seq, ts, chain, signature),
        )
        payload = {
            "id": new_id(),
            "ts": ts,
            "type": "audit_checkpoint",
            "device": self.device_id,
            "seq": seq,
            "chain": chain.hex(),
            "signature": signature.hex(),
        }
        outbox.add(conn, str(payload["id"]), ts, "audit", "system", payload)
        after_commit(conn, lambda: self.head.write(seq, chain))
        return seq

    def entries(
        self, conn: Connection, user_id: str | None = None, since: str | None = None, until: str | None = None
    ) -> list[Entry]:
        """Decrypted entries, oldest first, filtered by user and [since, until).

        Raises:
            IntegrityError: an entry in the range does not open (altered or moved).
        """
        rows: list[Any] = conn.execute(
            "SELECT seq, timestamp, event_type, user_id, sealed FROM secure_log WHERE (? IS NULL OR user_id = ?)"
            " AND (? IS NULL OR timestamp >= ?) AND (? IS NULL OR timestamp < ?) ORDER BY seq",
            (user_id, user_id, since, since, until, until),
        ).fetchall()
        out = []
        for seq, ts, kind, user, sealed in rows:
            body = unseal(self._seal_key, bytes(sealed), _header(int(seq), str(ts), str(kind), user))
            out.append(Entry(int(seq), str(ts), str(kind), user, json.loads(body)))
        return out

    def verify(self, conn: Connection) -> list[str]:
        """Every problem found, first the first bad entry; empty when the log is intact."""
        problems: list[str] = []
        previous, expected = GENESIS, None
        chains: dict[int, bytes] = {}
        first: Any = conn.execute("SELECT min(seq) FROM secure_log").fetchone()
        written = counter(conn) or 0
        start = int(first[0]) if first and first[0] is not None else written + 1
        if start != 1:
            anchor: Any = conn.execute(
                "SELECT chain FROM secure_log_checkpoints WHERE seq = ?", (start - 1,)
            ).fetchone()
            if anchor is None:
                problems.append(f"entries before {start} are missing and no checkpoint anchors the rest")
            else:
                previous = bytes(anchor[0])
        expected = start
        log_rows: list[Any] = conn.execute(
            "SELECT seq, timestamp, event_type, user_id, sealed, chain FROM secure_log ORDER BY seq"
        ).fetchall()
        for seq, ts, kind, user, sealed, chain in log_rows:
            seq = int(seq)
            if seq != expected:
                problems.append(f"entry {expected} is missing (next is {seq})")
            header = _header(seq, str(ts), str(kind), user)
            if mac(self._chain_key, previous + header + bytes(sealed)) != bytes(chain):
                problems.append(f"entry {seq} does not chain to the one before it (altered, reordered or forged)")
            try:
                unseal(self._seal_key, bytes(sealed), header)
            except IntegrityError:
                problems.append(f"entry {seq}: its sealed data fails authentication")
            previous, expected = bytes(chain), seq + 1
            chains[seq] = bytes(chain)
        checkpoints: list[Any] = conn.execute(
            "SELECT seq, timestamp, chain, signature FROM secure_log_checkpoints ORDER BY seq"
        ).fetchall()
        for seq, ts, chain, signature in checkpoints:
            if not self.keys.verify(bytes(signature), _checkpoint_message(int(seq), bytes(chain), str(ts))):
                problems.append(f"checkpoint at {seq}: bad signature")
            elif int(seq) in chains and chains[int(seq)] != bytes(chain):
                problems.append(f"checkpoint at {seq}: the log no longer matches the signed head")
            elif int(seq) >= expected:
                problems.append(f"checkpoint at {seq}: entries up to {seq} were signed but are gone (truncated)")
        signed = {int(c[0]): bytes(c[2]) for c in checkpoints}
        return problems + anchor_problems(conn, self.head, chains, signed)

    def verify_held(self, conn: Connection, held: Any) -> list[str]:
        """Compare the log with a checkpoint kept off the device (the JSON this device publishes
        on ``<prefix>/audit``); empty when the log still holds what it signed."""
        try:
            seq, ts = int(held["seq"]), str(held["ts"])
            chain, signature = bytes.fromhex(str(held["chain"])), bytes.fromhex(str(held["signature"]))
        except (KeyError, TypeError, ValueError) as err:
            return [f"the checkpoint given is not one this device publishes ({err!r} missing or malformed)"]
        if not self.keys.verify(signature, _checkpoint_message(seq, chain, ts)):
            return [f"the checkpoint given (entry {seq}) does not carry this device's signature"]
        row: Any = conn.execute("SELECT chain FROM secure_log WHERE seq = ?", (seq,)).fetchone()
        if row is not None:
            if bytes(row[0]) == chain:
                return []
            return [
                f"entry {seq} no longer matches the checkpoint given (altered, or re-chained by a key rotation since)"
            ]
        first: Any = conn.execute("SELECT min(seq) FROM secure_log").fetchone()
        anchor: Any = None
        if first and first[0] is not None and int(first[0]) > seq:
            anchor = conn.execute("SELECT 1 FROM secure_log_checkpoints WHERE seq = ?", (int(first[0]) - 1,)).fetchone()
        if anchor is not None:
            return []  # retention removed the entries up to a later checkpoint, which anchors the rest
        return [f"the checkpoint given signed entries up to {seq}, but the log no longer holds them"]


def _checkpoint_message(seq: int, chain: bytes, ts: str) -> bytes:
    return b"occur-secure-log-checkpoint\x00" + _header(seq, ts, "checkpoint", None) + chain

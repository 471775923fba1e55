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

from firmware.crypto.keys import IntegrityError, Keys, mac, seal, unseal
from firmware.errors import InvalidInputError
from firmware.platform.clock import now_iso
from firmware.security.loghead import HeadFile, anchor_problems
from firmware.store import outbox
from firmware.store import secure_log as log_rows
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
        head = log_rows.last(conn)
        seq, previous = (head[0] + 1, head[1]) if head else (1, GENESIS)
        ts = now_iso()
        user = None if user_id is None else str(user_id)
        header = _header(seq, ts, event_type, user)
        sealed = seal(self._seal_key, body, header)
        chain = mac(self._chain_key, previous + header + sealed)
        log_rows.insert(conn, log_rows.LogRow(seq, ts, event_type, user, sealed, chain))
        after_commit(conn, lambda: self.head.write(seq, chain))
        if seq % CHECKPOINT_EVERY == 0:
            self.checkpoint(conn)
        return seq

    def checkpoint(self, conn: Connection) -> int | None:
        """Sign the chain head and queue it for MQTT; returns its seq (None for an empty log)."""
        head = log_rows.last(conn)
        if head is None:
            return None
        (seq, chain), ts = head, now_iso()
        signature = self.keys.sign(_checkpoint_message(seq, chain, ts))
        log_rows.put_checkpoint(conn, log_rows.CheckpointRow(seq, ts, chain, signature))
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
        out = []
        for r in log_rows.rows(conn, user_id, since, until):
            body = unseal(self._seal_key, r.sealed, _header(r.seq, r.timestamp, r.event_type, r.user_id))
            out.append(Entry(r.seq, r.timestamp, r.event_type, r.user_id, json.loads(body)))
        return out

    def verify(self, conn: Connection) -> list[str]:
        """Every problem found, first the first bad entry; empty when the log is intact."""
        problems: list[str] = []
        previous, expected = GENESIS, None
        chains: dict[int, bytes] = {}
        first = log_rows.first_seq(conn)
        start = first if first is not None else (log_rows.counter(conn) or 0) + 1
        if start != 1:
            anchor = log_rows.checkpoint_chain(conn, start - 1)
            if anchor is None:
                problems.append(f"entries before {start} are missing and no checkpoint anchors the rest")
            else:
                previous = anchor
        expected = start
        for r in log_rows.rows(conn):
            if r.seq != expected:
                problems.append(f"entry {expected} is missing (next is {r.seq})")
            header = _header(r.seq, r.timestamp, r.event_type, r.user_id)
            if mac(self._chain_key, previous + header + r.sealed) != r.chain:
                problems.append(f"entry {r.seq} does not chain to the one before it (altered, reordered or forged)")
            try:
                unseal(self._seal_key, r.sealed, header)
            except IntegrityError:
                problems.append(f"entry {r.seq}: its sealed data fails authentication")
            previous, expected = r.chain, r.seq + 1
            chains[r.seq] = r.chain
        checkpoints = log_rows.checkpoints(conn)
        for c in checkpoints:
            if not self.keys.verify(c.signature, _checkpoint_message(c.seq, c.chain, c.timestamp)):
                problems.append(f"checkpoint at {c.seq}: bad signature")
            elif c.seq in chains and chains[c.seq] != c.chain:
                problems.append(f"checkpoint at {c.seq}: the log no longer matches the signed head")
            elif c.seq >= expected:
                problems.append(f"checkpoint at {c.seq}: entries up to {c.seq} were signed but are gone (truncated)")
        signed = {c.seq: c.chain for c in checkpoints}
        return problems + anchor_problems(conn, self.head, chains, signed)

    def rechain_into(self, conn: Connection, new: SecureLog) -> tuple[int, dict[str, object]]:
        """Re-seal and re-chain every entry under ``new``'s keys and re-sign the checkpoints that
        sign kept entries (a key rotation, inside its transaction); returns the entries done and
        the old head. ``new``'s head file follows once the transaction commits.

        Raises:
            IntegrityError: an entry does not open under this log's key (nothing is changed).
        """
        entries = log_rows.rows(conn)
        if not entries:
            return 0, {}
        first = entries[0].seq
        anchor = log_rows.checkpoint_chain(conn, first - 1)
        previous = GENESIS if first == 1 or anchor is None else anchor
        old_head: dict[str, object] = {"seq": entries[-1].seq, "chain": entries[-1].chain.hex()}
        rewritten: dict[int, tuple[bytes, bytes]] = {}
        for r in entries:
            header = _header(r.seq, r.timestamp, r.event_type, r.user_id)
            resealed = seal(new._seal_key, unseal(self._seal_key, r.sealed, header), header)
            previous = mac(new._chain_key, previous + header + resealed)
            rewritten[r.seq] = (resealed, previous)
        log_rows.rewrite(conn, rewritten)
        last_seq = entries[-1].seq
        after_commit(conn, lambda: new.head.write(last_seq, rewritten[last_seq][1]))
        for c in log_rows.checkpoints(conn):
            if c.seq in rewritten:
                chain = rewritten[c.seq][1]
                signature = new.keys.sign(_checkpoint_message(c.seq, chain, c.timestamp))
                log_rows.put_checkpoint(conn, log_rows.CheckpointRow(c.seq, c.timestamp, chain, signature))
        return len(entries), old_head

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
        kept = log_rows.chain_at(conn, seq)
        if kept is not None:
            if kept == chain:
                return []
            return [
                f"entry {seq} no longer matches the checkpoint given (altered, or re-chained by a key rotation since)"
            ]
        first = log_rows.first_seq(conn)
        if first is not None and first > seq and log_rows.checkpoint_chain(conn, first - 1) is not None:
            return []  # retention removed the entries up to a later checkpoint, which anchors the rest
        return [f"the checkpoint given signed entries up to {seq}, but the log no longer holds them"]


def _checkpoint_message(seq: int, chain: bytes, ts: str) -> bytes:
    return b"occur-secure-log-checkpoint\x00" + _header(seq, ts, "checkpoint", None) + chain

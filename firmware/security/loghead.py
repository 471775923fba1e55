"""Anchors of the secure log outside its table, and what they can prove.

The chain proves that the entries present were not altered, reordered or forged, and signed
checkpoints prove the entries up to them existed. Neither shows that the newest entries, or all
of them, were deleted. Three anchors do, each outside the rows an attacker would delete:

- **the counter** (``secure_log_head``): the highest sequence number ever written, kept by a
  trigger that only lets it grow; retention never touches it;
- **the head file** ``keys/secure_log.head``: the newest entry's number and chain value, with a
  MAC under a key derived from the data key, written once that entry is durable. Someone who
  can change the database but not read the data key cannot forge it; deleting it is reported;
- **checkpoints held elsewhere**: each signed checkpoint is published, retained, on
  ``<prefix>/audit``; ``occur audit verify --checkpoint FILE`` compares the log with one.

What none can prove: someone holding the device's keys and the whole data folder (root on the
device) can rewrite the log, the counter and the head file together. Only a checkpoint kept off
the device shows that, up to that checkpoint.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from firmware.crypto.keys import Keys, mac
from firmware.platform.fileio import write_private
from firmware.store.db import Connection
from firmware.store.secure_log import counter

HEAD_FILE = "secure_log.head"


def _message(seq: int, chain: bytes) -> bytes:
    return b"occur-secure-log-head\x00" + str(seq).encode() + b"\x00" + chain


class HeadFile:
    """``keys/secure_log.head``: the newest entry, authenticated with the data key."""

    def __init__(self, keys: Keys) -> None:
        self.path: Path = keys.folder / HEAD_FILE
        self._key = keys.derive("secure-log/head")

    def write(self, seq: int, chain: bytes) -> None:
        """Record the newest durable entry (atomically, synced)."""
        doc = {"seq": seq, "chain": chain.hex(), "mac": mac(self._key, _message(seq, chain)).hex()}
        write_private(self.path, json.dumps(doc).encode())

    def read(self) -> tuple[int, bytes] | None:
        """The recorded (seq, chain); None when there is no file.

        Raises:
            ValueError: the file is unreadable or its MAC does not verify (altered or forged).
        """
        try:
            raw = self.path.read_bytes()
        except FileNotFoundError:
            return None
        try:
            doc: Any = json.loads(raw)
            seq, chain = int(doc["seq"]), bytes.fromhex(str(doc["chain"]))
            ok = mac(self._key, _message(seq, chain)).hex() == str(doc["mac"])
        except (ValueError, KeyError, TypeError) as err:
            raise ValueError(f"{self.path} is unreadable: {err}") from err
        if not ok:
            raise ValueError(f"the head file beside the keys ({self.path}) was altered or forged")
        return seq, chain


def _counter_problems(end: int | None, written: int, signed: dict[int, bytes]) -> list[str]:
    if end is None and written and written not in signed:
        return [f"the log is empty, but entries up to {written} were written (the counter in the database)"]
    if end is not None and end < written:
        return [f"entries after {end} are gone: the counter in the database records entry {written}"]
    if end is not None and end > written:
        return [f"the counter in the database ({written}) was set back below entry {end}"]
    return []


def anchor_problems(conn: Connection, head: HeadFile, chains: dict[int, bytes], signed: dict[int, bytes]) -> list[str]:
    """What the anchors say is missing: ``chains`` are the entries present (seq -> chain),
    ``signed`` the checkpoints in the table (seq -> chain)."""
    end = max(chains, default=None)
    written = counter(conn)
    problems = [] if written is None else _counter_problems(end, written, signed)
    try:
        recorded = head.read()
    except ValueError as err:
        return [*problems, str(err)]
    if recorded is None:
        if end is not None or written:
            problems.append(f"the head file beside the keys ({head.path.name}) is missing, but the log has had entries")
        return problems
    seq, chain = recorded
    start = min(chains, default=None)
    if seq in chains:
        if chains[seq] != chain:
            problems.append(f"entry {seq} no longer matches the head file beside the keys")
    elif start is not None and seq < start:
        pass  # removed by retention below a checkpoint; the chain from the checkpoint covers it
    elif seq in signed and signed[seq] == chain and end is None:
        pass  # retention cut the whole log at a checkpoint of its head
    elif end is None:
        problems.append(f"the log is empty, but the head file beside the keys records entry {seq}")
    else:
        problems.append(f"entries after {end} are gone: the head file beside the keys records entry {seq}")
    return problems

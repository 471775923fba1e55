"""Time-sortable unique event ids (ULID layout: 48-bit milliseconds + 80 random bits, Crockford
base32, 26 characters). Within one millisecond the random part is incremented, so ids from one
process sort in the order they were made; a subscriber deduplicates and orders on them."""

from __future__ import annotations

import os
import threading
import time

_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
_lock = threading.Lock()
_last = [0, 0]  # milliseconds, random part


def _encode(value: int, length: int) -> str:
    chars = []
    for _ in range(length):
        value, digit = divmod(value, 32)
        chars.append(_ALPHABET[digit])
    return "".join(reversed(chars))


def new_id(now_ms: int | None = None) -> str:
    """A new id; monotonic within this process."""
    ms = int(time.time() * 1000) if now_ms is None else now_ms
    with _lock:
        if ms <= _last[0]:
            ms = _last[0]
            rand = _last[1] + 1
        else:
            rand = int.from_bytes(os.urandom(10), "big") >> 1  # leave room to increment
        _last[0], _last[1] = ms, rand
    return _encode(ms, 10) + _encode(rand, 16)

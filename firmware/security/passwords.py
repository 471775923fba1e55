"""Password hashing for console accounts: scrypt from the standard library (OpenSSL).

Parameters: N = 2**13, r = 8, p = 10, a 16-byte salt and a 32-byte key. This is one of the
OWASP-equivalent scrypt settings (the same work as N = 2**17, p = 1) chosen for its memory: 8 MiB
per hash instead of 128 MiB, because the console shares a Raspberry Pi with the door and its
RSS budget is 30 MB. One hash takes about 0.1 s on a 2-core x86 VM and 0.5-1 s on a Pi 4.
Hashes run one at a time (a lock), so a burst of logins costs CPU time, never memory, and
cannot starve the door loop of more than one core.

The stored form carries its parameters (``scrypt$13$8$10$salt$key``, base64), so stronger
settings can come later without invalidating existing passwords.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import threading

LOG2_N, R, P = 13, 8, 10
KEY_BYTES = 32
_LOCK = threading.Lock()
_MAXMEM = 64 * 1024 * 1024


def _derive(password: str, salt: bytes, log2_n: int, r: int, p: int) -> bytes:
    with _LOCK:
        return hashlib.scrypt(
            password.encode("utf-8"), salt=salt, n=2**log2_n, r=r, p=p, maxmem=_MAXMEM, dklen=KEY_BYTES
        )


def hash_password(password: str) -> str:
    """The stored form of ``password``: parameters, salt and derived key."""
    salt = os.urandom(16)
    key = _derive(password, salt, LOG2_N, R, P)
    b64 = base64.b64encode
    return f"scrypt${LOG2_N}${R}${P}${b64(salt).decode()}${b64(key).decode()}"


def verify_password(password: str, stored: str) -> bool:
    """True when ``password`` matches ``stored``; False for a wrong password or a malformed hash
    (compared in constant time)."""
    try:
        kind, log2_n, r, p, salt, key = stored.split("$")
        if kind != "scrypt" or not (10 <= int(log2_n) <= 20 and 1 <= int(r) <= 32 and 1 <= int(p) <= 64):
            return False
        expected = base64.b64decode(key, validate=True)
        derived = _derive(password, base64.b64decode(salt, validate=True), int(log2_n), int(r), int(p))
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(derived, expected)


_DUMMY: list[str] = []


def burn_equal_time(password: str) -> None:
    """Spend what a real check spends, for a login name that does not exist: the answer's
    timing must not tell an attacker which names are accounts."""
    if not _DUMMY:
        _DUMMY.append(hash_password(os.urandom(16).hex()))
    verify_password(password, _DUMMY[0])

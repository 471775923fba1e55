"""Device keys and the cryptographic primitives: the only module that imports ``cryptography``.

Keys live in ``<data>/keys/`` (folder 0700, files 0600; a key file that group or others can read
is refused at load, because a copied key defeats encryption at rest):

- ``data.key``: 32 random bytes, the device data key. Sub-keys for each purpose are derived
  from it with HKDF-SHA256, so one file protects everything and rotating it re-keys everything.
- ``device_ed25519.key`` / ``.pub``: the device's signing key for secure-log checkpoints; the
  public half can be given to auditors.

Created only when asked (``create=True``): the store asks when its database holds nothing sealed
or signed yet, and provisioning does. A key file that disappears is never replaced behind the
operator's back: a new data key would silently make every user unknown and every sealed record
unreadable (see :mod:`firmware.store.keycheck`). AES-256-GCM seals data with a random 96-bit
nonce and associated data that names what the data is, so a ciphertext moved to another record
fails to open.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from firmware.errors import OccurError
from firmware.platform.fileio import write_private

NONCE = 12


class KeyFileError(OccurError):
    """A key file is missing, unreadable or readable by others."""


class IntegrityError(OccurError):
    """Sealed data failed authentication: altered, truncated, or moved to another record."""


PENDING_DATA_KEY = "data.key.next"
"""A key rotation's incoming data key: while it exists the rotation is unfinished."""
ROTATION_INTERRUPTED = "a key rotation was interrupted: run 'occur keys rotate --resume'"


def rotation_interrupted(folder: Path) -> bool:
    """Whether a key rotation in the keys ``folder`` was started and not finished or undone: the
    one check every entry point (``occur`` commands, the door, the store's key check) makes."""
    return (folder / PENDING_DATA_KEY).exists()


def _read_private(path: Path) -> bytes:
    mode = path.stat().st_mode
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise KeyFileError(f"{path} is readable by group or others (mode {oct(mode & 0o777)}): chmod 600 it")
    return path.read_bytes()


class Keys:
    """The device's keys, loaded (or created) from ``folder``."""

    def __init__(self, folder: Path, data_key: bytes | None = None, create: bool = False) -> None:
        """Load the keys in ``folder``; ``data_key`` overrides the data key file (used by key
        rotation for the incoming key); ``create`` makes the key files that are missing.

        Raises:
            KeyFileError: missing (without ``create``), unreadable or exposed key files, or an
                interrupted rotation.
        """
        self.folder = folder
        data = folder / "data.key"
        signing = folder / "device_ed25519.key"
        if data_key is None and rotation_interrupted(folder):
            raise KeyFileError(f"{ROTATION_INTERRUPTED} ({folder / PENDING_DATA_KEY} exists)")
        for path in (data, signing):
            if not create and not path.exists() and (path is signing or data_key is None):
                raise KeyFileError(
                    f"{path} is missing: restore the keys folder from where it was kept; "
                    "a new key is never made while data sealed or signed with the old one may exist"
                )
        try:
            if not data.exists() and data_key is None:
                write_private(data, os.urandom(32), exclusive=True)
            if not signing.exists():
                self._new_signing_key(signing)
            self._data = data_key if data_key is not None else _read_private(data)
            if len(self._data) != 32:
                raise KeyFileError(f"{data} must hold 32 bytes")
            from cryptography.hazmat.primitives.serialization import load_pem_private_key

            loaded = load_pem_private_key(_read_private(signing), password=None)
        except OSError as err:
            raise KeyFileError(f"cannot use the keys in {folder}: {err.strerror}") from err
        from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

        if not isinstance(loaded, Ed25519PrivateKey):
            raise KeyFileError(f"{signing} is not an Ed25519 key")
        self._signing = loaded

    @staticmethod
    def _new_signing_key(path: Path) -> None:
        from cryptography.hazmat.primitives import serialization
        from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

        key = Ed25519PrivateKey.generate()
        pem = key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        write_private(path, pem, exclusive=True)
        public = key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        path.with_suffix(".pub").write_bytes(public)

    def data_key_for_migration(self) -> bytes:
        """The raw data key, only for an operator-sealed migration export (``occur backup
        migration-export``): it is sealed to the operator's key at once and never written in
        the clear."""
        return self._data

    def fingerprint(self) -> str:
        """A short public fingerprint of the data key (to tell keys apart, never to derive one)."""
        return self.derive("fingerprint").hex()[:16]

    def derive(self, purpose: str) -> bytes:
        """A 32-byte sub-key for ``purpose`` (HKDF-SHA256 of the data key)."""
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.kdf.hkdf import HKDF

        return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=purpose.encode()).derive(self._data)

    def sign(self, message: bytes) -> bytes:
        """Ed25519 signature by the device key."""
        return self._signing.sign(message)

    def public_key_pem(self) -> bytes:
        """The device's public signing key."""
        from cryptography.hazmat.primitives import serialization

        return self._signing.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )

    def verify(self, signature: bytes, message: bytes) -> bool:
        """True when ``signature`` is the device key's over ``message``."""
        from cryptography.exceptions import InvalidSignature

        try:
            self._signing.public_key().verify(signature, message)
        except InvalidSignature:
            return False
        return True


def seal(key: bytes, plaintext: bytes, associated: bytes) -> bytes:
    """AES-256-GCM: nonce || ciphertext || tag."""
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    nonce = os.urandom(NONCE)
    return nonce + AESGCM(key).encrypt(nonce, plaintext, associated)


def unseal(key: bytes, sealed: bytes, associated: bytes) -> bytes:
    """Open :func:`seal`'s output. Raises IntegrityError if anything was changed."""
    from cryptography.exceptions import InvalidTag
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    try:
        return AESGCM(key).decrypt(sealed[:NONCE], sealed[NONCE:], associated)
    except (InvalidTag, ValueError) as err:
        raise IntegrityError("sealed data failed authentication") from err


def mac(key: bytes, message: bytes) -> bytes:
    """HMAC-SHA256."""
    import hashlib
    import hmac

    return hmac.new(key, message, hashlib.sha256).digest()


def seal_to_public_key(public_key: bytes, plaintext: bytes, associated: bytes) -> bytes:
    """Encrypt for the holder of an X25519 private key (ECIES: ephemeral X25519, HKDF-SHA256,
    AES-256-GCM). Returns ephemeral public key (32) || nonce || ciphertext || tag; the sender
    keeps nothing that could open it."""
    from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey

    ephemeral = X25519PrivateKey.generate()
    shared = ephemeral.exchange(X25519PublicKey.from_public_bytes(public_key))
    eph_public = ephemeral.public_key().public_bytes_raw()
    return eph_public + seal(_ecies_key(shared, eph_public, public_key), plaintext, associated)


def open_with_private_key(private_key: bytes, sealed: bytes, associated: bytes) -> bytes:
    """Open :func:`seal_to_public_key`'s output. Raises IntegrityError if anything was changed."""
    from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey

    key = X25519PrivateKey.from_private_bytes(private_key)
    eph_public = sealed[:32]
    shared = key.exchange(X25519PublicKey.from_public_bytes(eph_public))
    own_public = key.public_key().public_bytes_raw()
    return unseal(_ecies_key(shared, eph_public, own_public), sealed[32:], associated)


def x25519_keypair() -> tuple[bytes, bytes]:
    """(private, public) raw 32-byte X25519 keys, for the operator."""
    from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

    key = X25519PrivateKey.generate()
    return key.private_bytes_raw(), key.public_key().public_bytes_raw()


def _ecies_key(shared: bytes, eph_public: bytes, recipient: bytes) -> bytes:
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.kdf.hkdf import HKDF

    return HKDF(algorithm=hashes.SHA256(), length=32, salt=eph_public + recipient, info=b"occur-backup").derive(shared)


def make_tls_certificate(key_path: Path, cert_path: Path, names: list[str], days: int = 3650) -> str:
    """A self-signed ECDSA P-256 certificate for the web console (``names``: DNS names and IP
    addresses for its subjectAltName, the first also its common name); the key is written 0600.
    Returns the certificate's SHA-256 fingerprint, which operators compare on first connection.

    Raises:
        OSError: the files cannot be written.
    """
    import datetime
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    alt: list[x509.GeneralName] = []
    for name in names:
        try:
            alt.append(x509.IPAddress(ipaddress.ip_address(name)))
        except ValueError:
            alt.append(x509.DNSName(name))
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, names[0])])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=days))
        .add_extension(x509.SubjectAlternativeName(alt), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .sign(key, hashes.SHA256())
    )
    pem_key = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    write_private(key_path, pem_key)
    pem = cert.public_bytes(serialization.Encoding.PEM)
    write_private(cert_path, pem, 0o644)
    return certificate_fingerprint(pem)


def certificate_fingerprint(pem: bytes) -> str:
    """SHA-256 of the first certificate in ``pem`` (DER), as colon-separated hex.

    Raises:
        ValueError: not a PEM certificate.
    """
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes

    return x509.load_pem_x509_certificate(pem).fingerprint(hashes.SHA256()).hex(":").upper()


def certificate_spki_sha256(pem: bytes) -> str:
    """Base64 SHA-256 of the certificate's public key (SPKI): the pin browsers and HTTP clients
    accept (Chromium's ``--ignore-certificate-errors-spki-list``, HPKP-style pins).

    Raises:
        ValueError: not a PEM certificate.
    """
    import base64
    import hashlib

    from cryptography import x509
    from cryptography.hazmat.primitives import serialization

    spki = (
        x509.load_pem_x509_certificate(pem)
        .public_key()
        .public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    return base64.b64encode(hashlib.sha256(spki).digest()).decode()

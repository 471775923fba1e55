"""The operator's TUF repository: keys, inventory, signing (``occur-ota init/add/publish/rotate-keys``).

Folder layout::

    keys/<role>.pem           Ed25519 private keys, 0600 (keep root.pem offline in a fleet)
    inventory.json            what the next publish signs: channel -> bundle file and version
    repository/               what the web server, bucket or CDN serves
      metadata/N.root.json    every root version (devices walk the chain after a rotation)
      metadata/N.targets.json, N.snapshot.json, timestamp.json   (consistent snapshots)
      targets/channels/<sha256>.<channel>.bundle

Only ``timestamp.json`` changes name-stably; everything else is immutable once written, so
caches may keep it forever. Expiry: root 365 days, targets and snapshot 90, timestamp 7 by
default: devices refuse a repository whose timestamp is not re-signed (``publish``) in time.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.serialization import load_pem_private_key
from securesystemslib.signer import CryptoSigner
from tuf.api.metadata import Metadata, MetaFile, Root, Snapshot, TargetFile, Targets, Timestamp
from tuf.api.serialization.json import JSONSerializer

from firmware.ota import bundle
from firmware.platform.fileio import write_private

ROLES = ("root", "targets", "snapshot", "timestamp")
DEFAULT_DAYS = {"root": 365.0, "targets": 90.0, "snapshot": 90.0, "timestamp": 7.0}


class RepoError(Exception):
    """The operator's repository folder is missing, inconsistent, or asked to do the impossible."""


def _expiry(days: float) -> datetime:
    return (datetime.now(UTC) + timedelta(days=days)).replace(microsecond=0)


class Repository:
    """One operator repository folder (see the module docstring)."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.keys = folder / "keys"
        self.metadata = folder / "repository" / "metadata"
        self.targets = folder / "repository" / "targets"
        self.inventory_file = folder / "inventory.json"

    def signer(self, role: str) -> CryptoSigner:
        """The private key of ``role``."""
        try:
            pem = (self.keys / f"{role}.pem").read_bytes()
        except OSError as err:
            raise RepoError(f"no key for {role} in {self.keys} ({err})") from err
        return CryptoSigner(load_pem_private_key(pem, None))

    def _new_key(self, role: str) -> CryptoSigner:
        signer = CryptoSigner.generate_ed25519()
        write_private(self.keys / f"{role}.pem", signer.private_bytes)
        return signer

    def inventory(self) -> dict[str, Any]:
        """Channels, versions and expiry settings (what ``publish`` signs next)."""
        try:
            raw = json.loads(self.inventory_file.read_text())
        except (OSError, ValueError) as err:
            raise RepoError(f"{self.inventory_file}: not an occur-ota repository ({err}); run 'init' first") from err
        return dict(raw)

    def _save_inventory(self, inventory: dict[str, Any]) -> None:
        write_private(self.inventory_file, json.dumps(inventory, indent=2, sort_keys=True).encode(), 0o644)

    def _write(self, md: Metadata[Any], name: str) -> None:
        write_private(self.metadata / name, md.to_bytes(JSONSerializer(compact=False)), 0o644)

    def root(self) -> Metadata[Root]:
        """The newest root metadata."""
        return Metadata[Root].from_file(str(self.metadata / "root.json"))

    def init(self, days: dict[str, float] | None = None) -> Path:
        """Create keys and version 1 of every role; returns the root file to install on devices.

        Raises:
            RepoError: the folder already holds a repository.
        """
        if self.inventory_file.exists():
            raise RepoError(f"{self.folder} already holds a repository")
        self.metadata.mkdir(parents=True, exist_ok=True)  # served: not the 0700 of a private folder
        self.targets.mkdir(parents=True, exist_ok=True)
        root = Metadata(Root(expires=_expiry(DEFAULT_DAYS["root"]), consistent_snapshot=True))
        signers = {role: self._new_key(role) for role in ROLES}
        for role, signer in signers.items():
            root.signed.add_key(signer.public_key, role)
        root.sign(signers["root"])
        self._write(root, "1.root.json")
        shutil.copyfile(self.metadata / "1.root.json", self.metadata / "root.json")
        self._save_inventory({"channels": {}, "days": {**DEFAULT_DAYS, **(days or {})}, "versions": {}})
        self.publish()
        return self.metadata / "1.root.json"

    def add(self, bundle_file: Path, channel: str) -> dict[str, Any]:
        """Put ``bundle_file`` in the repository as ``channel``'s bundle (signed at publish)."""
        info = bundle.read_info(bundle_file)
        data = bundle_file.read_bytes()
        digest = hashlib.sha256(data).hexdigest()
        target = self.targets / "channels" / f"{digest}.{channel}.bundle"
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
        inventory = self.inventory()
        entry = {"file": str(target.relative_to(self.targets)), "name": info.name, "version": info.version}
        inventory["channels"][channel] = entry
        self._save_inventory(inventory)
        return entry

    def publish(self) -> dict[str, int]:
        """Sign new targets, snapshot and timestamp versions with fresh expiry dates."""
        inventory = self.inventory()
        days, versions = inventory["days"], inventory["versions"]
        targets = Metadata(Targets(version=versions.get("targets", 0) + 1, expires=_expiry(days["targets"])))
        for channel, entry in sorted(inventory["channels"].items()):
            path = f"channels/{channel}.bundle"
            local = self.targets / entry["file"]
            info = TargetFile.from_file(path, str(local), ["sha256"])
            info.unrecognized_fields["custom"] = {"name": entry["name"], "version": entry["version"]}
            targets.signed.targets[path] = info
        targets.sign(self.signer("targets"))
        self._write(targets, f"{targets.signed.version}.targets.json")
        snapshot = Metadata(Snapshot(version=versions.get("snapshot", 0) + 1, expires=_expiry(days["snapshot"])))
        snapshot.signed.meta["targets.json"] = MetaFile(version=targets.signed.version)
        snapshot.sign(self.signer("snapshot"))
        self._write(snapshot, f"{snapshot.signed.version}.snapshot.json")
        timestamp = Metadata(Timestamp(version=versions.get("timestamp", 0) + 1, expires=_expiry(days["timestamp"])))
        timestamp.signed.snapshot_meta = MetaFile(version=snapshot.signed.version)
        timestamp.sign(self.signer("timestamp"))
        self._write(timestamp, "timestamp.json")
        published = {
            "targets": targets.signed.version,
            "snapshot": snapshot.signed.version,
            "timestamp": timestamp.signed.version,
        }
        inventory["versions"] = published
        self._save_inventory(inventory)
        return published

    def rotate_keys(self, roles: list[str]) -> int:
        """Replace the keys of ``roles`` with new ones in a new root version, signed by the old
        root key and (if rotated) the new one; then publish. Returns the new root version."""
        unknown = [r for r in roles if r not in ROLES]
        if unknown:
            raise RepoError(f"unknown roles: {', '.join(unknown)}")
        root = self.root()
        old_root = self.signer("root")
        signers: list[CryptoSigner] = [old_root]
        for role in roles:
            for keyid in list(root.signed.roles[role].keyids):
                root.signed.revoke_key(keyid, role)
            signer = self._new_key(role)
            root.signed.add_key(signer.public_key, role)
            if role == "root":
                signers.append(signer)
        root.signed.version += 1
        root.signed.expires = _expiry(self.inventory()["days"]["root"])
        root.signatures.clear()
        for signer in signers:
            root.sign(signer, append=True)
        self._write(root, f"{root.signed.version}.root.json")
        shutil.copyfile(self.metadata / f"{root.signed.version}.root.json", self.metadata / "root.json")
        self.publish()
        return root.signed.version

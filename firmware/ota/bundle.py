"""Model bundles: the unit an update delivers (format 1).

A bundle is an uncompressed tar whose first member is ``bundle.json``; every other member is a
flat file it lists with size and sha256: the ``.tflite``, its ``.manifest.json``, licence files,
optionally ``fusion.json``, and per model two self-test arrays, ``selftest-<model>.inputs.npy``
(uint8 chips, N x S x S x 3, exactly what the embedder receives) and
``selftest-<model>.expected.npy`` (float32 N x D, what the operator's build produced; for a
presentation-attack model, N x 1 live scores compared within ``tolerance``). TUF vouches
for the bundle as a whole; the per-file digests make extraction check itself and keep a
half-written release from passing as whole.

Reading is defensive: regular files only, flat safe names, no duplicates, nothing unlisted,
sizes bounded, every digest checked while streaming to disk.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import re
import tarfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from firmware.errors import UpdateError

FORMAT = 1
INDEX = "bundle.json"
NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")
MAX_FILE_BYTES = 512 << 20
MAX_FILES = 64


@dataclass(frozen=True)
class SelfTest:
    """One model's self-test vectors and how close the device's outputs must be."""

    inputs: str
    expected: str
    min_cosine: float = 0.999
    tolerance: float = 1e-3  # presentation-attack models: largest difference of a live score


@dataclass(frozen=True)
class BundleInfo:
    """What ``bundle.json`` declares."""

    name: str
    version: str
    created: str
    models: tuple[str, ...]
    files: dict[str, tuple[int, str]] = field(default_factory=dict)
    selftests: dict[str, SelfTest] = field(default_factory=dict)

    @property
    def release_id(self) -> str:
        """Folder name of the installed release: ``<name>-<version>``."""
        return f"{self.name}-{self.version}"

    def to_json(self) -> dict[str, Any]:
        """The ``bundle.json`` document."""
        return {
            "format": FORMAT,
            "name": self.name,
            "version": self.version,
            "created": self.created,
            "models": list(self.models),
            "files": {n: {"size": s, "sha256": h} for n, (s, h) in sorted(self.files.items())},
            "selftest": {
                m: {"inputs": t.inputs, "expected": t.expected, "min_cosine": t.min_cosine, "tolerance": t.tolerance}
                for m, t in sorted(self.selftests.items())
            },
        }


def _parse_index(raw: Any) -> BundleInfo:
    if not isinstance(raw, dict) or raw.get("format") != FORMAT:
        raise UpdateError(f"bundle.json: not a format-{FORMAT} bundle index")
    try:
        name, version = str(raw["name"]), str(raw["version"])
        files = {str(n): (int(v["size"]), str(v["sha256"])) for n, v in dict(raw["files"]).items()}
        tests = {
            str(m): SelfTest(
                str(t["inputs"]), str(t["expected"]), float(t.get("min_cosine", 0.999)), float(t.get("tolerance", 1e-3))
            )
            for m, t in dict(raw.get("selftest", {})).items()
        }
        models = tuple(str(m) for m in raw["models"])
    except (KeyError, TypeError, ValueError, AttributeError) as err:
        raise UpdateError(f"bundle.json: malformed ({err})") from err
    if not NAME.fullmatch(name) or not NAME.fullmatch(version) or not models or len(files) > MAX_FILES:
        raise UpdateError("bundle.json: bad name, version, model list or file count")
    for fname, (size, digest) in files.items():
        if not NAME.fullmatch(fname) or fname == INDEX or not 0 <= size <= MAX_FILE_BYTES or len(digest) != 64:
            raise UpdateError(f"bundle.json: bad entry for file {fname!r}")
    for model, test in tests.items():
        bad_limits = not 0.0 < test.min_cosine <= 1.0 or not 0.0 < test.tolerance <= 0.5
        if test.inputs not in files or test.expected not in files or bad_limits:
            raise UpdateError(f"bundle.json: self-test of {model} names files the bundle lacks")
    missing = [m for m in models if m not in tests]
    if missing:
        raise UpdateError(f"bundle.json: no self-test vectors for {', '.join(missing)}")
    return BundleInfo(name, version, str(raw.get("created", "")), models, files, tests)


def read_info(path: Path) -> BundleInfo:
    """The index of a bundle file, without extracting anything.

    Raises:
        UpdateError: not a tar, no index first, or a malformed index.
    """
    try:
        with tarfile.open(path, "r:") as tar:
            first = tar.next()
            if first is None or first.name != INDEX or not first.isfile() or first.size > 1 << 20:
                raise UpdateError(f"{path.name}: the first member must be {INDEX}")
            handle = tar.extractfile(first)
            assert handle is not None
            return _parse_index(json.loads(handle.read()))
    except (tarfile.TarError, OSError, ValueError) as err:
        raise UpdateError(f"{path.name}: not a readable bundle ({err})") from err


def read_info_file(path: Path) -> BundleInfo:
    """The index of an installed release (its ``bundle.json``).

    Raises:
        UpdateError: missing or malformed.
    """
    try:
        return _parse_index(json.loads(path.read_text()))
    except (OSError, ValueError) as err:
        raise UpdateError(f"{path}: unreadable bundle index ({err})") from err


def extract(path: Path, dest: Path) -> BundleInfo:
    """Check ``path`` and write its files (and ``bundle.json``) into the empty folder ``dest``,
    each fsynced. Nothing outside ``dest`` is touched.

    Raises:
        UpdateError: any member unlisted, repeated, not a regular file, of the wrong size or
            digest, or missing.
    """
    info = read_info(path)
    seen: set[str] = set()
    try:
        with tarfile.open(path, "r:") as tar:
            for member in tar:
                if member.name == INDEX and not seen:
                    seen.add(INDEX)
                    continue
                if member.name not in info.files or member.name in seen or not member.isfile():
                    raise UpdateError(f"{path.name}: unexpected member {member.name!r}")
                size, digest = info.files[member.name]
                if member.size != size:
                    raise UpdateError(f"{path.name}: {member.name} is {member.size} bytes, index says {size}")
                handle = tar.extractfile(member)
                assert handle is not None
                _write_checked(handle, dest / member.name, digest)
                seen.add(member.name)
    except (tarfile.TarError, OSError) as err:
        raise UpdateError(f"{path.name}: cannot be extracted ({err})") from err
    missing = sorted(set(info.files) - seen)
    if missing:
        raise UpdateError(f"{path.name}: members missing: {', '.join(missing)}")
    (dest / INDEX).write_text(json.dumps(info.to_json(), indent=2, sort_keys=True))
    return info


def _write_checked(handle: io.BufferedReader | Any, target: Path, digest: str) -> None:
    hasher = hashlib.sha256()
    with target.open("xb") as out:
        for block in iter(lambda: handle.read(1 << 20), b""):
            hasher.update(block)
            out.write(block)
        out.flush()
        os.fsync(out.fileno())
    if hasher.hexdigest() != digest:
        target.unlink()
        raise UpdateError(f"{target.name}: sha256 differs from the bundle index")


def write(out: Path, info: BundleInfo, sources: dict[str, Path]) -> None:
    """Write a bundle (the operator side), whole or not at all. ``info.files`` must describe
    ``sources`` exactly.

    Raises:
        UpdateError: a source is missing or differs from ``info``.
    """
    if set(sources) != set(info.files):
        raise UpdateError("bundle sources and index disagree")
    index = json.dumps(info.to_json(), indent=2, sort_keys=True).encode()
    partial = out.with_name(out.name + ".partial")
    with tarfile.open(partial, "w:", format=tarfile.USTAR_FORMAT) as tar:
        entry = tarfile.TarInfo(INDEX)
        entry.size, entry.mode = len(index), 0o644
        tar.addfile(entry, io.BytesIO(index))
        for name in sorted(sources):
            data = sources[name].read_bytes()
            if (len(data), hashlib.sha256(data).hexdigest()) != info.files[name]:
                raise UpdateError(f"{name} changed while bundling")
            entry = tarfile.TarInfo(name)
            entry.size, entry.mode = len(data), 0o644
            tar.addfile(entry, io.BytesIO(data))
    os.replace(partial, out)

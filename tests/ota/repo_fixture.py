"""An operator repository made with ``occur-ota``, served by Debian's nginx, and a device
data folder with enrolled users, configured to update from it."""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from firmware.ota import bundle
from firmware.vision.engine import default_models_dir
from tests.conftest import SHARED
from tests.security.nginx import Nginx

OCCUR_OTA = str(Path(sys.executable).parent / "occur-ota")
OCCUR = str(Path(sys.executable).parent / "occur")
FACES = SHARED / "data" / "faces"
PEOPLE = ("amy", "bernadette")


def ota(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([OCCUR_OTA, *map(str, args)], capture_output=True, text=True, timeout=300)


def new_model_dir(folder: Path) -> Path:
    """A "new" SFace release: the float16 file published under the name the device runs (sface)."""
    build = default_models_dir()
    folder.mkdir(parents=True)
    manifest = json.loads((build / "sface_f16.tflite.manifest.json").read_text())
    manifest.update(name="sface", version="2026.12")
    shutil.copyfile(build / "sface_f16.tflite", folder / "sface_f16.tflite")
    (folder / "sface_f16.tflite.manifest.json").write_text(json.dumps(manifest))
    for name in (
        "sface.LICENSE-Apache-2.0",
        "blazeface_full_range.tflite",
        "blazeface_full_range.tflite.manifest.json",
    ):
        shutil.copyfile(build / name, folder / name)
    return folder


def make_bundle(folder: Path, version: str) -> Path:
    out = folder / f"models-{version}.bundle"
    models = new_model_dir(folder / f"src-{version}")
    done = ota(
        "bundle",
        models,
        "--model",
        "sface",
        "--version",
        version,
        "--photos",
        default_models_dir() / "demo",
        "--out",
        out,
    )
    assert done.returncode == 0, done.stderr
    return out


def repack_with_wrong_vectors(source: Path, out: Path) -> None:
    """The same bundle whose expected outputs no model would produce (a self-test failure)."""
    scratch = out.parent / (out.name + ".d")
    scratch.mkdir()
    info = bundle.extract(source, scratch)
    import numpy as np

    test = info.selftests["sface"]
    expected = np.load(scratch / test.expected)
    np.save(scratch / test.expected, -expected, allow_pickle=False)
    files = {
        n: ((scratch / n).stat().st_size, hashlib.sha256((scratch / n).read_bytes()).hexdigest()) for n in info.files
    }
    bad = bundle.BundleInfo(info.name, info.version + "-bad", info.created, info.models, files, info.selftests)
    bundle.write(out, bad, {n: scratch / n for n in info.files})


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

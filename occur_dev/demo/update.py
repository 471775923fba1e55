"""The demo's model-update part: an operator repository, a signed bundle, and the door's install.

The operator side (``occur_ota/``: init, bundle, add, publish) makes a TUF repository in the scratch
folder, served on loopback by Python's HTTP server (a stand-in for the static host or CDN; the
tests use nginx). The bundle is the float16 SFace published as a new ``sface`` release, so it
is a different file with the same role. The door demo's data folder installs it with the
production installer, recognises its enrolled person with the new models, refuses a tampered
copy, and rolls back.
"""

from __future__ import annotations

import contextlib
import functools
import http.server
import json
import shutil
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path

from firmware.config import Config, OtaConfig
from firmware.errors import UpdateError
from firmware.imaging.image import read_image_limited
from firmware.ota.install import Installer, Outcome
from firmware.platform.install import built_models_dir
from firmware.recognition.recogniser import Recogniser
from firmware.store.store import Store
from firmware.vision.engine import FaceEngine

VERSION = "demo-2"


@dataclass
class UpdateDemoReport:
    """What the update part did."""

    installed: Outcome | None = None
    recognised_after: str | None = None
    refused: str = ""
    rolled_back: Outcome | None = None
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """Installed, recognised, tamper refused, rolled back."""
        return not self.problems


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        return


@contextlib.contextmanager
def _serve(folder: Path) -> Iterator[str]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_Quiet, directory=str(folder)))
    thread = threading.Thread(target=server.serve_forever, name="demo-http", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def new_model_dir(folder: Path, version: str) -> Path:
    """A "new" SFace release to publish: the float16 file under the name the door runs
    (``sface``), with the full-range detector ``occur-ota bundle`` uses for its vectors and the
    landmark model its mesh-aligned chips need."""
    build = built_models_dir()
    folder.mkdir(parents=True)
    manifest = json.loads((build / "sface_f16.tflite.manifest.json").read_text())
    manifest.update(name="sface", version=version)
    (folder / "sface_f16.tflite.manifest.json").write_text(json.dumps(manifest))
    for name in (
        "sface_f16.tflite",
        "sface.LICENSE-Apache-2.0",
        "blazeface_full_range.tflite",
        "blazeface_full_range.tflite.manifest.json",
        "face_landmark.tflite",
        "face_landmark.tflite.manifest.json",
    ):
        shutil.copyfile(build / name, folder / name)
    return folder


def run(scratch: Path, door_data: Path, person: tuple[str, str]) -> UpdateDemoReport:
    """Publish, install, recognise ``person`` (photo name, user name), refuse, roll back."""
    from occur_ota import bundler
    from occur_ota.repo import Repository

    report = UpdateDemoReport()
    repo = Repository(scratch / "operator")
    root = repo.init()
    photos = built_models_dir() / "demo"
    bundle_file = scratch / f"models-{VERSION}.bundle"
    bundler.make(
        new_model_dir(scratch / "new-model", VERSION), ["sface"], "models", VERSION, bundle_file, [photos / person[0]]
    )
    repo.add(bundle_file, "stable")
    repo.publish()
    with _serve(repo.folder / "repository") as url:
        config = replace(
            Config(data_dir=door_data),
            ota=OtaConfig(repository_url=url, trusted_root=str(root), check_interval_s=0),
            vision=replace(Config().vision, min_people=1),  # the demo door's one person (see demo_door)
        )
        with Store.open(config.paths) as store:
            installer = Installer(config, store)
            served = next((repo.targets / "channels").glob("*.stable.bundle"))
            good = served.read_bytes()
            tampered = bytearray(good)
            tampered[len(good) // 2] ^= 1
            served.write_bytes(bytes(tampered))
            try:
                installer.apply()
                report.problems.append("a tampered bundle was installed")
            except UpdateError as err:
                report.refused = str(err).split(" kept: ", 1)[-1].split(": Observed", 1)[0]
            served.write_bytes(good)
            report.installed = installer.apply()
            engine = FaceEngine.load(config.active_vision().for_photos())
            found = Recogniser(store, engine).identify(read_image_limited(photos / person[0])[0])
            report.recognised_after = found[0].name if found else None
            if report.recognised_after != person[1]:
                report.problems.append(f"{person[1]} not recognised after the update")
            report.rolled_back = installer.rollback("demo")
    if report.installed.status != "installed":
        report.problems.append("the update was not installed")
    return report

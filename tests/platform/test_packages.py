"""The venv sees the platform's apt-only camera and pin packages while the pinned pip packages
win. Real system packages installed by ``setup.sh --dev`` stand in for Raspberry Pi OS's:
``python3-prctl`` (an apt-only extension module, as libcamera's bindings are) and
``python3-gpiozero`` 1.6 (older than the pinned gpiozero). Stand-in ``picamera2`` and ``lgpio``
packages in a folder named by ``$OCCUR_SYSTEM_SITE`` drive the camera backend and the pin
factory through the same finder."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from firmware.platform import packages as platform_packages

DIST_PACKAGES = Path("/usr/lib/python3/dist-packages")

PICAMERA2 = """
import numpy as np

class Picamera2:
    def create_video_configuration(self, main, controls=None):
        return {"main": main, "controls": controls or {}}

    def configure(self, config):
        assert config["main"]["format"] == "RGB888"
        self.size = config["main"]["size"]

    def start(self):
        self.n = 0

    def capture_array(self, name="main"):
        self.n += 1
        width, height = self.size
        return np.full((height, width, 3), 90 + self.n, np.uint8)

    def capture_metadata(self):
        return {"ExposureTime": 8000, "AnalogueGain": 1.5}

    def stop(self):
        pass

    def close(self):
        pass
"""


def run(code: str, system_site: Path | None = None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != platform_packages.SYSTEM_SITE_ENV}
    if system_site is not None:
        env[platform_packages.SYSTEM_SITE_ENV] = str(system_site)
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, env=env)


def stand_in(tmp_path: Path) -> Path:
    site = tmp_path / "dist-packages"
    (site / "picamera2").mkdir(parents=True)
    (site / "picamera2" / "__init__.py").write_text(PICAMERA2)
    (site / "lgpio.py").write_text("def gpiochip_open(chip):\n    return 1\n\ndef __getattr__(name):\n    return 0\n")
    (site / "numpy").mkdir()  # an older system NumPy must never be picked
    (site / "numpy" / "__init__.py").write_text("raise ImportError('the system numpy was imported')\n")
    return site


def test_apt_only_modules_import_and_the_pinned_packages_win() -> None:
    if not (DIST_PACKAGES / "prctl.py").exists() or not (DIST_PACKAGES / "gpiozero").is_dir():
        pytest.fail("python3-prctl and python3-gpiozero are missing: run ./setup.sh --dev")
    done = run(
        """
        import importlib.metadata as md, json, prctl, gpiozero
        try:
            md.version("python-prctl")
            seen = True
        except md.PackageNotFoundError:
            seen = False
        print(json.dumps({"prctl": prctl.__file__, "gpiozero": gpiozero.__file__,
                          "version": md.version("gpiozero"), "pip_sees_system": seen}))
        """
    )
    assert done.returncode == 0, done.stderr
    found = json.loads(done.stdout)
    assert found["prctl"].startswith(str(DIST_PACKAGES))
    assert found["gpiozero"].startswith(sys.prefix) and int(found["version"].split(".")[0]) >= 2
    assert found["pip_sees_system"] is False  # so pip installs every pinned package into the venv


def test_the_finder_is_last_and_only_inside_the_venv() -> None:
    done = run("import sys; print([type(f).__name__ for f in sys.meta_path])")
    assert done.stdout.strip().endswith("'PlatformFinder']")
    base = Path(sys.base_prefix) / "bin" / "python3"
    plain = subprocess.run(
        [str(base), "-c", "import firmware.platform.packages as p; print(p.install())"],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])},
    )
    assert plain.stdout.strip() == "False"  # the system interpreter is left alone


def test_stand_in_picamera2_feeds_the_camera_backend_and_the_doctor(tmp_path: Path) -> None:
    site = stand_in(tmp_path)
    done = run(
        """
        import json, numpy
        from firmware.config import CameraConfig
        from firmware.hw.camera import make_camera
        camera = make_camera("picamera2", CameraConfig(width=64, height=48, fps=10.0))
        camera.open()
        frames = [camera.read() for _ in range(3)]
        print(json.dumps({"shape": list(frames[-1].image.shape), "index": frames[-1].index,
                          "exposure": camera.exposure(), "numpy": numpy.__file__}))
        camera.close()
        """,
        site,
    )
    assert done.returncode == 0, done.stderr
    found = json.loads(done.stdout)
    assert found["shape"] == [48, 64, 3] and found["index"] == 2
    assert found["exposure"] == "exposure 8000 us, gain 1.50" and found["numpy"].startswith(sys.prefix)
    doctor = subprocess.run(
        [str(Path(sys.executable).parent / "occur"), "--data-dir", str(tmp_path / "data"), "doctor", "--gpio", "mock"],
        capture_output=True,
        text=True,
        env={**os.environ, platform_packages.SYSTEM_SITE_ENV: str(site)},
    )
    camera_row = next(line for line in doctor.stdout.splitlines() if line.startswith("camera"))
    assert " ok " in camera_row and "picamera2: 1280x720" in camera_row and "exposure 8000 us" in camera_row
    missing = run(
        "from firmware.config import CameraConfig\nfrom firmware.hw.camera import make_camera\n"
        "make_camera('picamera2', CameraConfig()).open()",
        tmp_path / "empty",
    )
    assert "picamera2 is not installed (apt install python3-picamera2)" in missing.stderr


def test_lgpio_is_the_pin_factory_and_its_absence_is_an_error(tmp_path: Path) -> None:
    code = """
        from firmware.config import DoorConfig
        from firmware.hw.door import Door
        Door(DoorConfig())
        """
    without = run(code, tmp_path / "empty")
    assert without.returncode != 0
    assert "GPIO pin factory lgpio is unavailable (apt install python3-lgpio)" in without.stderr
    assert "No module named 'lgpio'" in without.stderr
    with_stand_in = run(code, stand_in(tmp_path))
    assert with_stand_in.returncode != 0  # lgpio found; gpiozero then wants a Raspberry Pi board
    assert "No module named 'lgpio'" not in with_stand_in.stderr
    assert "Pi revision" in with_stand_in.stderr and "GPIO pin factory lgpio" in with_stand_in.stderr

"""Peak RSS of the door process through a background model install (a benchmark, not a test).

``python -m tests.ota.install_memory [--models sface,dlib] [--dir DIR]`` builds what the update
tests build (an operator repository made with occur-ota, served by nginx, two people enrolled
from the dev photos), runs the door on a replay in this process with the update worker on, waits
until the new release is installed and loaded between frames, and prints this process's peak RSS
(VmHWM) before and through the install. The self-test runs in its own process.
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import threading
import time
from dataclasses import replace
from pathlib import Path

from firmware import service
from firmware.config import DoorConfig, LoopConfig, VisionConfig, load
from tests.conftest import query
from tests.ota.repo_fixture import FACES, OCCUR, PEOPLE, make_bundle, make_site, ota
from tests.ota.test_door_follows import replay


def hwm_mib() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM"):
            return int(line.split()[1]) / 1024
    return 0.0


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--models", default="sface,dlib")
    parser.add_argument("--dir", type=Path)
    args = parser.parse_args()
    folder = args.dir or Path(tempfile.mkdtemp(prefix="install-memory-"))
    import subprocess

    template = folder / "template"
    for who in PEOPLE:
        photos = [str(p) for p in sorted((FACES / who).glob("*.jpg"))][1:4]
        subprocess.run(
            [OCCUR, "--data-dir", str(template), "enroll", who, *photos, "--consent-by", "hr"], capture_output=True
        )
    site = make_site(folder / "site", template)
    bundle_file = make_bundle(folder / "bundle", "2026.12")
    for command in (("add", site.operator, bundle_file), ("publish", site.operator)):
        assert ota(*command).returncode == 0
    base = load(site.toml, str(site.data))
    config = replace(
        base,
        door=DoorConfig(pulse_s=0.2),
        loop=LoopConfig(cooldown_s=0.0),
        camera=replace(base.camera, fps=20.0),
        vision=VisionConfig(models=tuple(args.models.split(","))),
        ota=replace(base.ota, check_interval_s=1.0),
    )
    stop = threading.Event()
    runner = threading.Thread(
        target=lambda: service.run(config, f"replay:{replay(folder / 'frames', 2400)}", gpio="mock", stop=stop)
    )
    runner.start()
    try:
        deadline = time.monotonic() + 600

        def seen(kind: str) -> bool:
            sql = "SELECT 1 FROM system_events WHERE event_type = ?"
            return config.paths.database.exists() and bool(query(config.paths, sql, (kind,)))

        while time.monotonic() < deadline and not seen("ota_download"):
            time.sleep(0.2)
        before = hwm_mib()
        while time.monotonic() < deadline and not seen("ota_loaded"):
            time.sleep(0.5)
        time.sleep(3)  # frames through the new models
    finally:
        stop.set()
        runner.join(60)
        site.server.stop()
        if args.dir is None:
            shutil.rmtree(folder, ignore_errors=True)
    print(f"models {args.models}: door process peak RSS {before:.1f} MiB before the install began,")
    print(f"{hwm_mib():.1f} MiB through the install and the switch (the self-test runs in its own process)")


if __name__ == "__main__":
    main()

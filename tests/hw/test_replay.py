"""A replay folder with files that cannot be decoded: each is skipped, recorded once and counted;
the replay goes on from the next file and ``--until-end`` ends (it used to restart at frame 0
forever, writing an outage and a recovery every second)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from dataclasses import replace
from pathlib import Path

from firmware import service
from firmware.config import Config
from firmware.errors import FrameError
from firmware.hw.replay import ReplayCamera
from firmware.hw.resilient import ResilientCamera
from tests.conftest import SHARED, query
from tests.vision import bombs

NOFACE = SHARED / "data" / "faces" / "noface" / "faceapi_white.jpg"
OCCUR = Path(sys.executable).parent / "occur"


def bad_replay(folder: Path) -> tuple[int, list[str]]:
    """Good frames around five bad files; returns (good frames, bad file names)."""
    folder.mkdir()
    bad = {
        "00002.jpg": NOFACE.read_bytes()[:500],  # truncated
        "00003.png": bombs.png(30000, 30000),  # a bomb's header
        "00004.jpg": b"not an image at all",
        "00006.ppm": bombs.netpbm(60000, 60000, "P6"),  # broke cv2 with an uncaught error
        "00009.bmp": bombs.bmp(0, 5),
    }
    for name, body in bad.items():
        (folder / name).write_bytes(body)
    good = 0
    for n in range(12):
        name = f"{n:05d}.jpg"
        if not any(b.startswith(f"{n:05d}.") for b in bad):
            os.link(NOFACE, folder / name)
            good += 1
    return good, sorted(bad)


def test_the_replay_camera_skips_a_bad_file_and_carries_on(tmp_path: Path) -> None:
    good, bad = bad_replay(tmp_path / "r")
    skipped: list[str] = []
    outages: list[str] = []
    camera = ResilientCamera(ReplayCamera(tmp_path / "r"), 0.05, outages.append, lambda _s: None)
    camera.on_skipped = skipped.append
    frames = []
    while (frame := camera.read()) is not None:
        frames.append(frame)
        assert len(frames) <= good, "the replay started again"
    assert len(frames) == good and outages == [] and camera.skipped == len(bad)
    assert [s.split(":")[0].rsplit("/", 1)[-1] for s in skipped] == bad


def test_a_bad_file_is_a_frame_error_not_a_camera_failure(tmp_path: Path) -> None:
    good, bad = bad_replay(tmp_path / "r")
    camera = ReplayCamera(tmp_path / "r")
    camera.open()
    errors = []
    for _ in range(good + len(bad)):
        try:
            camera.read()
        except FrameError as err:
            errors.append(str(err))
    assert len(errors) == len(bad) and camera.read() is None


def test_run_until_end_ends_and_records_each_bad_file_once(tmp_path: Path) -> None:
    good, bad = bad_replay(tmp_path / "r")
    config = replace(Config(data_dir=tmp_path / "data"), camera=replace(Config().camera, fps=0.0))
    stop = threading.Event()
    reports: list[service.RunReport] = []
    runner = threading.Thread(
        target=lambda: reports.append(service.run(config, f"replay:{tmp_path / 'r'}", "mock", True, stop))
    )
    runner.start()
    runner.join(120)
    ended_by_itself = not runner.is_alive()
    stop.set()
    runner.join(30)
    assert ended_by_itself, "occur run --until-end did not end"
    assert reports[0].frames == good
    events = query(config.paths, "SELECT event_type, details FROM system_events ORDER BY id")
    kinds = [k for k, _ in events]
    assert "camera_outage" not in kinds and "camera_recovered" not in kinds
    skipped = [str(d) for k, d in events if k == "frame_skipped"]
    assert len(skipped) == len(bad)
    for name in bad:
        assert sum(name in d for d in skipped) == 1, name
    status = json.loads((config.paths.root / "run" / "status.json").read_text())
    assert status["frames_skipped"] == len(bad)


def test_occur_run_until_end_exits_0_on_a_folder_with_bad_files(tmp_path: Path) -> None:
    bad_replay(tmp_path / "r")
    out = subprocess.run(
        [str(OCCUR), "--data-dir", str(tmp_path / "data"), "run", "--source", f"replay:{tmp_path / 'r'}",
         "--gpio", "mock", "--until-end", "--quiet"],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    assert "Traceback" not in out.stderr and "stopped: 7 frames" in out.stdout

"""``occur demo``, the README's first command: storage, the door loop, recognition, a model update."""

from __future__ import annotations

from pathlib import Path

from firmware.config import Paths
from occur_dev.demo.door import STRANGER_YAW_DEG
from tests.conftest import Cli, query


def test_demo_runs_every_part_and_passes(cli: Cli, tmp_path: Path) -> None:
    result = cli("demo", "--into", str(tmp_path / "demo"))
    assert result.status == 0, result.out + result.err
    out = result.out
    assert "5. integrity_check, foreign_key_check, schema check: ok" in out
    assert "ok: the door opened for her twice, never for the stranger, and is locked" in out
    assert "ok: nobody named wrongly, the stranger not named" in out
    door = Paths(tmp_path / "demo" / "door")
    assert query(door, "SELECT outcome FROM door_events ORDER BY id") == [
        ("granted",),
        ("denied",),
        ("granted",),
        ("denied",),
    ]
    assert query(door, "SELECT seen_count FROM unknown_faces") == [(2,)]
    # the default liveness policy lets her still photo in, and says so
    assert query(door, "SELECT liveness FROM door_events WHERE outcome = 'granted'") == [
        ("not_proven",),
        ("not_proven",),
    ]
    assert "a print or a phone held still is" in out
    assert "a tampered copy of the bundle was refused: bundle models-demo-2 refused: a file differs" in out
    assert "with the new models the door recognises: Eileen Collins" in out
    kinds = [
        r[0] for r in query(door, "SELECT event_type FROM system_events WHERE event_type LIKE 'ota_%' ORDER BY id")
    ]
    assert kinds.count("ota_failed") == 1 and kinds.count("ota_installed") == 1 and kinds[-1] == "ota_rolled_back"


def test_demo_without_labelled_photos_skips_only_that_part(cli: Cli, tmp_path: Path) -> None:
    result = cli("demo", "--into", str(tmp_path / "demo"), "--faces", str(tmp_path / "none"))
    assert result.status == 0, result.out + result.err
    assert "7. Recognition: skipped, no labelled photos" in result.out
    assert "ok: the door opened for her twice" in result.out


def test_bench_loop_prints_its_figures(cli: Cli, tmp_path: Path) -> None:
    assert cli("demo", "--into", str(tmp_path / "demo"), "--faces", str(tmp_path / "none")).status == 0
    frames = tmp_path / "demo" / "door" / "demo_frames"
    config = tmp_path / "demo.toml"  # the demo's turn allowance: its stranger looks 39 degrees aside
    config.write_text(f"[vision]\nmax_yaw_deg = {STRANGER_YAW_DEG}\n")
    result = cli(
        "--config", str(config), "bench", "loop", "--source", f"replay:{frames}", "--dir", str(tmp_path / "bench"),
        "--json",
    )  # fmt: skip
    assert result.status == 0, result.err
    import json

    doc = json.loads(result.out)
    assert doc["frames"] == 80 and doc["decisions"] == 4 and doc["inference_s"] > 0 and doc["overhead_ratio"] > 1

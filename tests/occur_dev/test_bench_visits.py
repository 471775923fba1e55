"""``occur bench visits``: every replayed visit is counted once, and a visit the door holds for
liveness (decided when its track ends, after the visit's last frame) still counts as decided."""

from __future__ import annotations

import json
from pathlib import Path

from tests.conftest import Cli

FACES = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "faces"


def test_visits_held_for_liveness_are_counted_as_decided(cli: Cli, tmp_path: Path) -> None:
    result = cli(
        "bench", "visits", str(FACES), "--enrolled", "3", "--strangers", "2", "--photos", "2", "--frames", "2",
        "--tilt", "0", "--dir", str(tmp_path / "bench"), "--json",
    )  # fmt: skip
    assert result.status == 0, result.err
    report = json.loads(result.out)
    enrolled, strangers = report["outcomes"]["enrolled"], report["outcomes"]["stranger"]
    assert sum(enrolled.values()) == report["visits"]["enrolled"] == 3
    assert sum(strangers.values()) == report["visits"]["stranger"] == 2
    assert enrolled.get("named correctly", 0) >= 2, enrolled  # 0 when held decisions fell outside the visit
    assert "named as someone else" not in strangers and "several decisions" not in enrolled

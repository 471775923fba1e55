"""``occur bench pad`` on a tiny run: what it prints and what it refuses to claim."""

from __future__ import annotations

import json

from tests.conftest import Cli


def test_bench_pad_labels_its_figures_and_measures_no_bona_fide_rate(cli: Cli) -> None:
    args = ("bench", "pad", "--sequences", "2", "--frames", "12", "--species", "print,screen", "--renders", "1")
    result = cli(*args)
    assert result.status == 0, result.err
    assert "SYNTHETIC ATTACKS, NOT ISO/IEC 30107-3 CONFORMANT" in result.out
    assert "BPCER (bona fide rejected): not measured" in result.out
    assert "fewer than 300 sequences per species: too few to assess the targets" in result.out
    assert "NOT MET" not in result.out and " met" not in result.out  # no verdict on two sequences
    doc = json.loads(cli(*args, "--json").out)
    assert doc["label"] == "synthetic attacks, not ISO/IEC 30107-3 conformant"
    assert doc["bpcer"].startswith("not measured")
    cells = {(c["species"], c["policy"]): c for c in doc["cells"]}
    assert set(cells) == {(s, p) for s in ("print", "screen") for p in
                          ("deny_attacks", "deny_attacks_2s", "require_live", "challenge")}  # fmt: skip
    for cell in cells.values():
        missed = doc["not_acquired"].get(cell["species"], 0)
        assert cell["attempts"] == 2 or cell["attempts"] + missed == 4  # replaced, up to twice as many made
        assert cell["apcer"] <= cell["apcer_upper_95"] <= 1.0
    assert cells[("print", "require_live")]["target"] == 0.01
    assert doc["renders"] <= 1 and all(len(v) <= doc["renders"] for v in doc["live_after_s"].values())


def test_bench_pad_refuses_unknown_species(cli: Cli) -> None:
    result = cli("bench", "pad", "--species", "hologram")
    assert result.status == 2 and "unknown species ['hologram']" in result.err

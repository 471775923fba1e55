"""``occur bench pad``: APCER on synthetic attacks, per species and policy."""

from __future__ import annotations

import argparse
from pathlib import Path

from firmware.cli.common import Context, ExitStatus, add_json_flag
from firmware.errors import InvalidInputError

_SHARED = Path(__file__).resolve().parents[3] / "shared" / "data"


def register(bsub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``bench pad``."""
    p = bsub.add_parser(
        "pad",
        help="attack error rates (APCER) on synthetic prints, screens, masks and replays",
        description="Synthetic attacks, not ISO/IEC 30107-3 conformant; no bona fide rate is measured.",
    )
    p.add_argument(
        "--photos", type=Path, action="append", help=f"photo folders (default {_SHARED}/faces and calibration)"
    )
    p.add_argument(
        "--sequences",
        type=int,
        default=300,
        help="attack sequences judged per species (default 300; those whose face is found in fewer than 3 frames are "
        "replaced, up to twice as many made)",
    )
    p.add_argument("--frames", type=int, default=56, help="frames per sequence (default 56: 3.7 s at 15 fps)")
    p.add_argument("--fps", type=float, default=15.0, help="camera frame rate of the sequences (default 15)")
    p.add_argument("--species", help="comma-separated species (default: all)")
    p.add_argument("--renders", type=int, default=40, help="synthetic live renders for the latency (default 40)")
    p.add_argument("--seed", type=int, default=15)
    p.add_argument("--pad-model", help="also use this presentation-attack model from the models folder")
    add_json_flag(p)
    p.set_defaults(handler=bench_pad)


def bench_pad(ctx: Context, args: argparse.Namespace) -> int:
    """Generate, judge and print the table."""
    import sys
    from dataclasses import replace

    from firmware.imaging.image import read_image
    from firmware.vision.engine import FaceEngine
    from firmware.vision.liveness.pad_model import PadModel
    from occur_dev.bench import padattacks, padbench

    folders = args.photos or [_SHARED / "faces", _SHARED / "calibration"]
    missing = [str(f) for f in folders if not f.is_dir()]
    species = tuple(s for s in str(args.species or ",".join(padattacks.SPECIES)).split(",") if s)
    unknown = [s for s in species if s not in padattacks.SPECIES]
    if missing or unknown or args.sequences < 1 or args.frames < 5 or args.fps <= 0 or args.renders < 0:
        raise InvalidInputError(
            f"bad arguments: missing folders {missing or 'none'}, unknown species {unknown or 'none'} "
            f"(choose {', '.join(padattacks.SPECIES)}); --sequences >= 1, --frames >= 5, --fps > 0 needed"
        )
    vision = ctx.config.active_vision()
    engine = FaceEngine.load(replace(vision, models=vision.models[:1]), fused=False)
    if engine.landmarks is None:
        raise InvalidInputError("the face landmark model is not installed (run ./setup.sh)")
    pad = None
    if args.pad_model:
        pad = PadModel.load(vision.models_folder(), args.pad_model)
    scenes = [read_image(p) for p in sorted((_SHARED / "faces" / "noface").glob("*.jpg"))]

    def progress(text: str) -> None:
        sys.stderr.write(f"occur bench pad: {text}\n")

    report = padbench.run(
        engine, folders, scenes, ctx.config.liveness, args.sequences, args.frames, args.fps, args.seed,
        args.renders, pad, species, progress,
    )  # fmt: skip
    if ctx.json:
        ctx.emit_json(_as_json(report))
        return ExitStatus.SUCCESS
    _print(ctx, report, args.sequences)
    return ExitStatus.SUCCESS


def _as_json(report: object) -> dict[str, object]:
    from occur_dev.bench.padbench import PadBenchReport

    assert isinstance(report, PadBenchReport)
    return {
        "label": report.label,
        "sequences_per_species": report.sequences,
        "frames": report.frames,
        "fps": report.fps,
        "cells": [
            {
                "species": c.species,
                "policy": c.policy,
                "attempts": c.attempts,
                "accepted": c.accepted,
                "apcer": c.apcer,
                "apcer_upper_95": c.upper,
                "target": c.target,
            }
            for c in report.cells.values()
        ],
        "not_acquired": dict(report.not_acquired),
        "accepted_as": {f"{s}/{p}": dict(c) for (s, p), c in report.accepted_by.items()},
        "caught_by_under_deny_attacks": {k: dict(v) for k, v in report.caught_by.items()},
        "renders": report.renders,
        "live_after_s": report.live_after_s,
        "bpcer": "not measured (synthetic renders are not bona fide presentations)",
        "landmark_ms_per_face": report.landmark_ms,
        "seconds": report.seconds,
    }


def _print(ctx: Context, report: object, asked: int) -> None:
    import numpy as np

    from occur_dev.bench.padbench import MIN_SEQUENCES, PadBenchReport

    assert isinstance(report, PadBenchReport)
    ctx.out(f"{report.label.upper()}")
    ctx.out(
        f"{report.sequences} sequences per species, {report.frames} frames at {report.fps:g} fps; every attack taken"
        " as recognised at its third frame; APCER with its one-sided 95 % Clopper-Pearson upper bound"
    )
    rows = []
    for cell in report.cells.values():
        target = "-" if cell.target is None else f"<= {cell.target:.0%}"
        assessed = cell.target is not None and cell.attempts >= MIN_SEQUENCES
        verdict = "" if not assessed else ("met" if cell.upper <= (cell.target or 0.0) else "NOT MET")
        rows.append(
            (cell.species, cell.policy, cell.attempts, cell.accepted, f"{cell.apcer:.1%}", f"{cell.upper:.1%}",
             target, verdict)
        )  # fmt: skip
    ctx.table(["species", "policy", "attacks", "accepted", "APCER", "95% upper", "target", ""], rows)
    if asked < MIN_SEQUENCES:
        ctx.out(f"fewer than {MIN_SEQUENCES} sequences per species: too few to assess the targets")
    for species, count in report.not_acquired.items():
        ctx.out(
            f"{species}: {count} sequences not acquired (face in fewer than 3 frames), left out of the rates "
            "and replaced by new ones"
        )
    for (species, policy), why in report.accepted_by.items():
        if policy in ("require_live", "challenge"):
            ctx.out(f"accepted under {policy}, {species}: " + ", ".join(f"{k} {v}" for k, v in why.items()))
    for species, causes in report.caught_by.items():
        ctx.out(
            f"caught under deny_attacks, {species}: " + (", ".join(f"{k} {v}" for k, v in causes.items()) or "none")
        )
    ctx.out("BPCER (bona fide rejected): not measured; needs real captures (occur pad record / occur pad report)")
    for policy, values in report.live_after_s.items():
        ctx.out(
            f"synthetic live renders proved live under {policy}: {len(values)} of {report.renders}, "
            f"median {np.median(values):.2f} s, "
            f"p95 {np.percentile(values, 95):.2f} s after recognition (renders, not people)"
        )
    if report.landmark_ms:
        ctx.out(f"landmark model: {report.landmark_ms[0]:.2f} ms per face (mean inference)")
    if report.cue_ms:
        ctx.out(f"detect + landmarks + cues per frame: median {np.median(report.cue_ms):.1f} ms")
    ctx.out(f"{report.seconds:.0f} s in all")

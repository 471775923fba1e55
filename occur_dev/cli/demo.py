"""``occur demo``: show the appliance's storage and recognition working, on a scratch folder."""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from firmware.cli.common import Context, ExitStatus

_SHARED_FACES = Path(__file__).resolve().parents[3] / "shared" / "data" / "faces"


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the command."""
    p = sub.add_parser(
        "demo", help="run the storage and recognition demo on a scratch data folder", description=__doc__
    )
    p.add_argument("--into", type=Path, metavar="DIR", help="empty folder to use (default: a new temporary folder)")
    p.add_argument(
        "--faces",
        type=Path,
        metavar="DIR",
        help=f"labelled photos, one folder per person (default {_SHARED_FACES} when present)",
    )
    p.set_defaults(handler=demo)


def demo(ctx: Context, args: argparse.Namespace) -> int:
    """Run the demo and print what happened; exit 7 if the final checks fail."""
    from occur_dev.demo import storage as demo_module

    if args.into is not None:
        demo_module.check_folder(args.into)
    folder = args.into or Path(tempfile.mkdtemp(prefix="occur-demo-"))
    report = demo_module.run(folder)
    ctx.out(f"OCCUR-CALL storage demo in {report.data_dir}")
    ctx.out("")
    ctx.out("1. Import of the original system's databases (face_events.db + main database):")
    ctx.table(
        ["table", "into", "found", "imported"],
        [(t.source_table, t.target_table, t.found, t.imported) for t in report.first_import.tables],
    )
    ctx.out(
        f"   second run of the same import: {report.second_import.imported} new rows, "
        f"{report.second_import.already} recognised as already imported"
    )
    ctx.out("")
    ctx.out(f"2. {report.events_logged} face events from 4 threads via the store (the path of firmware.compat),")
    ctx.out(f"   each durable before returning: {report.commits} commits (group commit)")
    ctx.out("")
    ctx.out("3. Most recent events:")
    ctx.table(
        ["timestamp", "kind", "type", "details"], [(e.timestamp, e.kind, e.event_type, e.detail) for e in report.recent]
    )
    ctx.out("")
    ctx.out("4. Row counts:")
    ctx.table(["table", "rows"], sorted(report.stats.tables.items()))
    ctx.out("")
    verdict = "ok" if report.check.ok else "FAILED: " + "; ".join(report.check.problems)
    ctx.out(f"5. integrity_check, foreign_key_check, schema check: {verdict}")
    ctx.out("")
    door_ok = _door(ctx, report.data_dir)
    ctx.out("")
    vision_ok = _vision(ctx, report.data_dir / "recognition", args.faces or _SHARED_FACES)
    ctx.out("")
    update_ok = _update(ctx, report.data_dir)
    ctx.out("")
    ctx.out(f"Explore it: .venv/bin/occur --data-dir {report.data_dir} events --limit 20")
    ctx.out(f"            .venv/bin/occur --data-dir {report.data_dir / 'door'} events --limit 20")
    return ExitStatus.SUCCESS if report.check.ok and door_ok and vision_ok and update_ok else ExitStatus.CHECK_FAILED


def _door(ctx: Context, data_dir: Path) -> bool:
    from occur_dev.demo import door as demo_door

    report = demo_door.run(data_dir / "door")
    ctx.out("6. The door loop (occur run's code; no camera: replayed frames; no GPIO: gpiozero MockFactory pins):")
    ctx.out(
        f"   enrolled {demo_door.PERSON[1]} (role staff) from {demo_door.PERSON[0]} "
        "(scikit-image, NASA, public domain);"
    )
    ctx.out(
        f"   replayed {report.frames} frames: her, a scene, a stranger ({demo_door.STRANGER}), a scene, her, a scene,"
    )
    ctx.out("   the stranger, a scene (10 frames each)")
    ctx.table(
        ["frame", "who", "door", "reason", "liveness", "fused score"],
        [
            (
                d.frame,
                d.name or f"stranger #{d.unknown_id}",
                "GRANTED" if d.granted else "denied",
                d.reason,
                d.liveness or "not checked",
                "-" if d.score is None else f"{d.score:.3f}",
            )
            for d in report.decisions
        ],
    )
    ctx.out(
        "   liveness: her frames are one still photo, so there is no head turn and no blink: not_proven. The default"
    )
    ctx.out(
        "   policy, deny_attacks, refuses only proven attacks, so this photo gets in: a print or a phone held still is"
    )
    ctx.out("   not stopped by it. require_live or challenge ([liveness] policy) would refuse these frames.")
    for label, history in report.pins.items():
        changes = ", ".join(f"{t:.2f}s {'high' if s else 'low'}" for t, s in history)
        ctx.out(f"   pin history {label}: {changes}")
    ctx.out("   rows: " + ", ".join(f"{k} {v}" for k, v in report.rows.items()))
    first = "-" if report.first_decision_s is None else f"{report.first_decision_s:.2f} s"
    ctx.out(f"   {report.seconds:.1f} s in all; start to first decision {first}")
    ctx.out(
        f"   {'ok' if report.ok else 'FAILED'}: the door opened for her twice, never for the stranger, and is locked"
    )
    return report.ok


def _vision(ctx: Context, data_dir: Path, faces: Path) -> bool:
    from firmware.config import Paths
    from occur_dev.demo import vision as demo_vision

    if not faces.is_dir():
        ctx.out(f"7. Recognition: skipped, no labelled photos at {faces} (pass --faces DIR)")
        return True
    report = demo_vision.run(Paths(data_dir), faces)
    ctx.out(
        "7. Recognition on labelled photos (BlazeFace + SFace + dlib ResNet fused, "
        f"models loaded in {report.load_ms:.0f} ms):"
    )
    ctx.out(
        f"   enrolled {', '.join(f'{k} ({v} photos)' for k, v in report.enrolled.items())}; "
        f"{report.rejected} photo(s) rejected by the quality gates"
    )
    ctx.table(
        ["held-out photo", "expected", "decision", "named", "fused score"],
        [
            (
                Path(p.photo).name,
                p.expected or "(stranger)",
                p.decision,
                p.name,
                None if p.score is None else f"{p.score:.3f}",
            )
            for p in report.probes
        ],
    )
    if any(p.decision == "low_quality" for p in report.probes):
        ctx.out("   low_quality: the face failed a quality gate (e.g. turned away) and was not matched")
    ctx.out(f"   {'ok' if report.ok else 'FAILED'}: nobody named wrongly, the stranger not named")
    return report.ok


def _update(ctx: Context, data_dir: Path) -> bool:
    from occur_dev.demo import door as demo_door
    from occur_dev.demo import update as demo_update

    report = demo_update.run(data_dir / "update", data_dir / "door", demo_door.PERSON)
    ctx.out("8. A signed model update (occur-ota repository served on loopback; the door demo's data folder):")
    ctx.out(f"   a tampered copy of the bundle was refused: {report.refused}")
    if report.installed is not None:
        steps = ", ".join(f"{k} {v:.2f} s" for k, v in report.installed.seconds.items())
        ctx.out(f"   {report.installed.detail}: {steps}")
        ctx.out(f"   self-test {report.installed.selftest}; re-embedded {report.installed.reembedded}")
    ctx.out(f"   with the new models the door recognises: {report.recognised_after}")
    if report.rolled_back is not None:
        ctx.out(f"   rolled back: {report.rolled_back.detail}")
    ctx.out(f"   {'ok' if report.ok else 'FAILED: ' + '; '.join(report.problems)}")
    return report.ok

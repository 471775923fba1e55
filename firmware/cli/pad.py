"""``occur pad record|list|report|delete``: measure presentation-attack detection on this door."""

from __future__ import annotations

import argparse
import sys
from dataclasses import replace
from typing import Any

from firmware.cli.common import Context, ExitStatus, add_json_flag


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``pad`` and its subcommands."""
    p = sub.add_parser(
        "pad", help="record and evaluate presentation-attack sessions", description="See the README: capture protocol."
    )
    psub = p.add_subparsers(dest="pad_command", metavar="WHAT", required=True)
    r = psub.add_parser("record", help="record one consented bona fide or attack presentation, sealed")
    r.add_argument("--species", required=True, help="bona_fide | print | phone | tablet | video_replay | mask | other")
    r.add_argument("--subject", required=True, help="pseudonymous label of the person (never a name)")
    r.add_argument("--consent-by", help="who recorded the person's consent (required unless collected elsewhere)")
    r.add_argument("--instrument", default="", help="what was presented: printer and paper, device model, ...")
    r.add_argument("--notes", default="")
    r.add_argument("--seconds", type=float, default=5.0, help="length of the recording (default 5)")
    r.add_argument("--source", help="camera source (default: [camera] source)")
    r.add_argument("--challenge", action="store_true", help="show a liveness challenge on the LEDs during it")
    r.add_argument("--gpio", choices=("real", "mock"), default="real", help="LED pins for --challenge")
    add_json_flag(r)
    r.set_defaults(handler=pad_record)
    ls = psub.add_parser("list", help="recorded sessions")
    add_json_flag(ls)
    ls.set_defaults(handler=pad_list)
    rep = psub.add_parser("report", help="APCER per species (and the worst) and BPCER from the sessions")
    add_json_flag(rep)
    rep.set_defaults(handler=pad_report)
    d = psub.add_parser("delete", help="erase a session's frames and row")
    d.add_argument("session", type=int)
    d.set_defaults(handler=pad_delete)


def pad_record(ctx: Context, args: argparse.Namespace) -> int:
    """Record one session."""
    from firmware.actions.people import require_consent
    from firmware.errors import InvalidInputError
    from firmware.hw.camera import make_camera
    from firmware.padcapture import sessions

    if not 0.5 <= args.seconds <= 120:
        raise InvalidInputError("--seconds must be between 0.5 and 120")
    consent = require_consent(ctx.config, args.consent_by) or "collected elsewhere"
    ctx.refuse_if_running("pad record (the camera is in use)")
    camera = make_camera(args.source or ctx.config.camera.source, ctx.config.camera)
    door = None
    if args.challenge:
        from firmware.hw.door import Door, mock_factory

        door = Door(ctx.config.door, mock_factory() if args.gpio == "mock" else None)
    try:
        with ctx.open_store() as store:
            session = sessions.record(ctx.config, store, camera, args.species, args.subject, consent, args.seconds,
                                      args.instrument, args.notes, door)  # fmt: skip
    finally:
        if door is not None:
            door.close()
    if ctx.json:
        ctx.emit_json(session.__dict__)
    else:
        shown = (
            f"; challenge {session.challenge['kind']} at {session.challenge['shown_at']} s" if session.challenge else ""
        )
        ctx.out(f"session {session.id}: {session.species}, {session.frames} frames at {session.fps:.1f} fps{shown}")
    return ExitStatus.SUCCESS


def pad_list(ctx: Context, args: argparse.Namespace) -> int:
    """List the sessions."""
    from firmware.padcapture import sessions

    with ctx.open_store(create=False) as store:
        found = sessions.sessions(store)
    if ctx.json:
        ctx.emit_json([s.__dict__ for s in found])
        return ExitStatus.SUCCESS
    ctx.table(
        ["id", "recorded", "species", "subject", "frames", "fps", "challenge"],
        [(s.id, s.created_at, s.species, s.subject, s.frames, f"{s.fps:.1f}", (s.challenge or {}).get("kind", "-"))
         for s in found],
    )  # fmt: skip
    return ExitStatus.SUCCESS


def pad_report(ctx: Context, args: argparse.Namespace) -> int:
    """Evaluate every session under each policy."""
    from firmware.padcapture.report import evaluate
    from firmware.vision.engine import FaceEngine
    from firmware.vision.liveness.pad_model import PadModel

    vision = ctx.config.active_vision()
    engine = FaceEngine.load(replace(vision, models=vision.models[:1]), fused=False)
    pad = None
    if ctx.config.liveness.pad_model:
        folder = vision.models_folder()
        pad = PadModel.load(folder, ctx.config.liveness.pad_model)

    def progress(text: str) -> None:
        sys.stderr.write(f"occur pad report: {text}\n")

    with ctx.open_store(create=False) as store:
        report = evaluate(ctx.config, store, engine, pad, progress)
    if ctx.json:
        ctx.emit_json(_json(report))
        return ExitStatus.SUCCESS
    ctx.out(f"{report.sessions} sessions; not acquired (face in fewer than 3 frames): {report.not_acquired or 'none'}")
    rows = []
    for result in report.results.values():
        for species, rate in sorted(result.apcer.items()):
            rows.append(
                (result.policy, f"APCER {species}", rate.errors, rate.presentations, _pct(rate.value), _pct(rate.upper))
            )
        worst = result.worst
        if worst is not None:
            rows.append((result.policy, f"APCER worst ({worst[0]})", worst[1].errors, worst[1].presentations,
                         _pct(worst[1].value), _pct(worst[1].upper)))  # fmt: skip
        b = result.bpcer
        rows.append((result.policy, "BPCER", b.errors, b.presentations, _pct(b.value), _pct(b.upper)))
    ctx.table(["policy", "rate", "errors", "presentations", "value", "95% upper"], rows)
    ctx.out("ISO/IEC 30107-3 reports each species' APCER and the worst; the bounds show how few sessions mean.")
    return ExitStatus.SUCCESS


def _pct(value: float | None) -> str:
    return "not measured" if value is None else f"{value:.1%}"


def _json(report: Any) -> dict[str, Any]:
    out: dict[str, Any] = {"sessions": report.sessions, "not_acquired": report.not_acquired, "policies": {}}
    for result in report.results.values():
        worst = result.worst
        out["policies"][result.policy] = {
            "apcer": {s: {"errors": r.errors, "presentations": r.presentations, "value": r.value, "upper_95": r.upper}
                      for s, r in result.apcer.items()},
            "apcer_worst": None if worst is None
            else {"species": worst[0], "value": worst[1].value, "upper_95": worst[1].upper},
            "bpcer": {"errors": result.bpcer.errors, "presentations": result.bpcer.presentations,
                      "value": result.bpcer.value, "upper_95": result.bpcer.upper},
        }  # fmt: skip
    out["decisions"] = [
        {"session": s, "species": sp, "policy": p, "correct": ok, "reason": why}
        for s, sp, p, ok, why in report.decisions
    ]
    return out


def pad_delete(ctx: Context, args: argparse.Namespace) -> int:
    """Erase one session."""
    from firmware.padcapture import sessions

    with ctx.open_store(create=False) as store:
        sessions.delete(ctx.config, store, args.session)
    ctx.out(f"session {args.session} erased")
    return ExitStatus.SUCCESS

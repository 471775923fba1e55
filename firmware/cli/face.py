"""``occur enroll|identify|verify|reembed``: faces against the enrolled users."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from firmware.cli.common import Context, ExitStatus, actor, add_json_flag


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the face commands."""
    e = sub.add_parser(
        "enroll",
        help="enrol a person from photos",
        description="Each photo must hold exactly one usable face; others are rejected "
        "with the reason and nothing from them is stored.",
    )
    e.add_argument(
        "name",
        help="the person's name (an existing name, any case, adds samples to that user) or an existing user's id",
    )
    e.add_argument("images", nargs="+", type=Path, metavar="IMAGE")
    e.add_argument("--email")
    e.add_argument("--role", help="role used by the door's access policy (e.g. staff, visitor)")
    e.add_argument(
        "--consent-by",
        metavar="WHO",
        help="who recorded the person's consent (required unless [privacy] consent = 'collected_elsewhere')",
    )
    add_json_flag(e)
    e.set_defaults(handler=enroll)

    i = sub.add_parser("identify", help="who is in these photos")
    i.add_argument("images", nargs="+", type=Path, metavar="IMAGE")
    add_json_flag(i)
    i.set_defaults(handler=identify)

    v = sub.add_parser("verify", help="exit 0 if the photo shows this person, 1 if not")
    v.add_argument("user", help="numeric id or exact name")
    v.add_argument("image", type=Path)
    add_json_flag(v)
    v.set_defaults(handler=verify)

    r = sub.add_parser(
        "reembed",
        help="rebuild encodings from the stored enrolment chips with the installed models",
        description="Run after adding or updating an embedding model: samples whose encoding "
        "came from another model file (or none) are embedded again.",
    )
    add_json_flag(r)
    r.set_defaults(handler=reembed)


def _engine(ctx: Context, models: tuple[str, ...] | None = None, fused: bool = True) -> Any:
    from dataclasses import replace

    from firmware.vision.engine import FaceEngine

    photos = ctx.config.active_vision().for_photos()
    vision = photos if models is None else replace(photos, models=models)
    return FaceEngine.load(vision, fused)


def enroll(ctx: Context, args: argparse.Namespace) -> int:
    """Enrol; exit 0 when every image was accepted, 1 when some were rejected, 2 when none was
    usable (each photo's reason is printed in every case)."""
    from firmware.actions.people import enrol_person
    from firmware.errors import InvalidInputError
    from firmware.recognition.enrol import NothingEnrolledError

    engine = _engine(ctx)
    with ctx.open_store(create=True) as store:
        try:
            report = enrol_person(
                store, ctx.config, engine, args.name, list(args.images), actor(), args.email, args.role, args.consent_by
            )
        except NothingEnrolledError as err:
            _rejections(ctx, err.rejected)
            raise InvalidInputError(err.summary) from err
    if ctx.json:
        ctx.emit_json(report)
    else:
        verb = "created" if report.created else "added to"
        ctx.out(f"{verb} user {report.user_id} ({report.name}): {len(report.accepted)} sample(s) enrolled")
        _rejections(ctx, report.rejected)
        for warning in report.warnings:
            print(f"warning: {warning}", file=ctx.stderr)
    return ExitStatus.ERROR if report.rejected else ExitStatus.SUCCESS


def _rejections(ctx: Context, rejected: dict[str, list[str]]) -> None:
    """One stderr line per rejected photo, with its reasons."""
    for path, reasons in rejected.items():
        print(f"rejected {path}: {'; '.join(reasons)}", file=ctx.stderr)


def _box(box: tuple[float, ...], factor: float) -> list[int]:
    """A face box in the photo's own pixels (large photos are decoded reduced)."""
    return [round(v * factor) for v in box]


def identify(ctx: Context, args: argparse.Namespace) -> int:
    """Print every face of every image with its user (or none) and score."""
    from firmware.errors import ImageError
    from firmware.imaging.image import read_image_limited
    from firmware.recognition.recogniser import Recogniser
    from firmware.security.audit import audit

    engine = _engine(ctx)
    results: list[dict[str, Any]] = []
    failed = False
    with ctx.open_store() as store:
        recogniser = Recogniser(store, engine)
        audit(
            store,
            ctx.config.paths,
            "identification",
            {"images": [str(p) for p in args.images]},
            device_id=ctx.config.device.id,
        )
        for path in args.images:
            try:
                image, factor = read_image_limited(path)
                found = recogniser.identify(image)
            except ImageError as err:
                results.append({"image": str(path), "error": str(err), "faces": []})
                failed = True
                continue
            faces = [
                {
                    "box": _box(f.face.detection.box, factor),
                    "detection_score": round(f.face.detection.score, 3),
                    "user_id": f.match.user_id,
                    "name": f.name,
                    "decision": f.match.decision,
                    "score": None if f.match.score is None else round(f.match.score, 4),
                    "distances": {k: round(v, 4) for k, v in f.match.distances.items()},
                    "margin": None if f.match.margin is None else round(f.match.margin, 4),
                    "quality": list(f.face.quality.problems),
                }
                for f in found
            ]
            results.append({"image": str(path), "faces": faces})
        point = recogniser.point()
    if ctx.json:
        ctx.emit_json({"threshold": point.threshold, "door": point.status_fields(), "images": results})
    else:
        if point.closed:
            print(f"occur: the door names nobody: {point.closed}", file=ctx.stderr)
        rows: list[tuple[Any, ...]] = []
        for r in results:
            if "error" in r:
                print(f"occur: error: {r['error']}", file=ctx.stderr)
            rows.extend(
                (
                    r["image"],
                    ",".join(map(str, f["box"])),
                    f["detection_score"],
                    f["name"] or "-",
                    f["decision"],
                    f["score"],
                    f["margin"],
                    "; ".join(f["quality"]) or None,
                )
                for f in r["faces"]
            )
            if not r["faces"] and "error" not in r:
                rows.append((r["image"], "no face", None, None, None, None, None, None))
        ctx.table(["image", "box", "det", "user", "decision", "score", "margin", "reason"], rows)
    return ExitStatus.ERROR if failed else ExitStatus.SUCCESS


def verify(ctx: Context, args: argparse.Namespace) -> int:
    """1:1 check; exit 0 same person, 1 not (including no face)."""
    from firmware.imaging.image import read_image_limited
    from firmware.recognition.recogniser import Recogniser
    from firmware.security.audit import audit
    from firmware.store import users

    engine = _engine(ctx)
    image, _ = read_image_limited(args.image)
    with ctx.open_store() as store:
        with store.reader() as conn:
            user = users.find_user(conn, args.user)
        same, score, face = Recogniser(store, engine).verify(user.id, image)
        audit(
            store,
            ctx.config.paths,
            "verification",
            {"image": str(args.image), "same": same},
            user.id,
            ctx.config.device.id,
        )
    if ctx.json:
        ctx.emit_json(
            {
                "user_id": user.id,
                "name": user.name,
                "same": same,
                "score": score,
                "threshold": engine.fusion.threshold,
                "face_found": face is not None,
            }
        )
    elif face is None:
        ctx.out(f"no face found in {args.image}: not {user.name}")
    elif score is None:
        ctx.out(f"{user.name} has no enrolled samples for these models: not verified")
    else:
        verdict = "same person" if same else "different person"
        ctx.out(f"{verdict}: {user.name}, score {score:.4f} (threshold {engine.fusion.threshold:.4f})")
    return ExitStatus.SUCCESS if same else ExitStatus.ERROR


def reembed(ctx: Context, args: argparse.Namespace) -> int:
    """Re-embed stale or missing encodings; exit 1 if any sample failed."""
    from firmware.recognition.reembed import reembed as run

    engine = _engine(ctx)
    with ctx.open_store() as store:
        report = run(store, engine)
    if ctx.json:
        ctx.emit_json(report)
    else:
        ctx.out("re-embedded: " + ", ".join(f"{m} {n}" for m, n in report.embedded.items()))
        for sample, reason in report.failed.items():
            print(f"sample {sample}: {reason}", file=ctx.stderr)
    return ExitStatus.ERROR if report.failed else ExitStatus.SUCCESS

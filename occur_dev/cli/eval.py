"""``occur eval-pairs`` and ``occur embed``: evaluation tools for the door threshold."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import numpy as np

from firmware.cli.common import Context, ExitStatus, add_json_flag
from firmware.errors import InvalidInputError


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``eval-pairs`` and ``embed``."""
    p = sub.add_parser(
        "eval-pairs",
        help="distance and decision for pairs of photos",
        description="FILE lines: IMAGE_A<TAB>IMAGE_B[<TAB>1|0] (1 = same person). Relative "
        "paths are taken from the file's folder.",
    )
    p.add_argument("file", type=Path)
    p.add_argument("--target-far", type=float, default=0.001, help="false-accept rate to find a threshold for")
    add_json_flag(p)
    p.set_defaults(handler=eval_pairs)

    m = sub.add_parser("embed", help="save the main face's embedding of each photo to an .npz file")
    m.add_argument("images", nargs="+", type=Path, metavar="IMAGE")
    m.add_argument("--out", type=Path, required=True, metavar="FILE.npz")
    m.add_argument("--model", default="dlib", help="embedding model (default dlib)")
    m.set_defaults(handler=embed)


def read_pairs(path: Path) -> list[tuple[str, str, int | None]]:
    """Parse a pairs file.

    Raises:
        InvalidInputError: unreadable file or a malformed line (with its number).
    """
    try:
        lines = path.read_text().splitlines()
    except (OSError, UnicodeDecodeError) as err:
        raise InvalidInputError(f"{path}: cannot read pairs file ({err})") from err
    pairs: list[tuple[str, str, int | None]] = []
    for number, line in enumerate(lines, 1):
        if not line.strip() or line.startswith("#"):
            continue
        cols = line.rstrip("\n").split("\t")
        if len(cols) not in (2, 3) or (len(cols) == 3 and cols[2].strip() not in ("0", "1")):
            raise InvalidInputError(f"{path}:{number}: expected IMAGE_A<TAB>IMAGE_B[<TAB>1|0]")
        a, b = (str(path.parent / c) if not Path(c).is_absolute() else c for c in cols[:2])
        pairs.append((a, b, int(cols[2]) if len(cols) == 3 else None))
    if not pairs:
        raise InvalidInputError(f"{path}: no pairs")
    return pairs


def eval_pairs(ctx: Context, args: argparse.Namespace) -> int:
    """Print each pair's fused distance, per-model distances and decision; with labels, rates."""
    from firmware.vision.engine import FaceEngine
    from occur_dev.evaluate import EmbeddingCache, pair_distances, rates, threshold_at_far

    if not 0 < args.target_far < 1:
        raise InvalidInputError("--target-far must be between 0 and 1")
    pairs = read_pairs(args.file)
    engine = FaceEngine.load(ctx.config.active_vision().for_photos())
    fusion = engine.fusion
    cache = EmbeddingCache(engine)
    results: list[dict[str, Any]] = []
    for a, b, label in pairs:
        ea, eb = cache.get(a), cache.get(b)
        row: dict[str, Any] = {"a": a, "b": b, "label": label}
        if ea is None or eb is None:
            missing = [p for p, e in ((a, ea), (b, eb)) if e is None]
            row.update(
                distance=None,
                distances={},
                decision="different",
                note="; ".join(f"{p}: {cache.errors.get(p, 'no face')}" for p in missing),
            )
        else:
            per_model = pair_distances(fusion, ea, eb)
            score = fusion.score(per_model)
            row.update(
                distance=round(score, 4),
                distances={k: round(v, 4) for k, v in per_model.items()},
                decision="same" if fusion.accepts(score) else "different",
            )
        results.append(row)
    summary = _summary(results, fusion.threshold, args.target_far, rates, threshold_at_far)
    if ctx.json:
        ctx.emit_json(
            {"threshold": fusion.threshold, "models": list(fusion.calibrations), "pairs": results, "summary": summary}
        )
        return ExitStatus.SUCCESS
    models = list(fusion.calibrations)
    ctx.table(
        ["a", "b", "label", "distance", *models, "decision"],
        [
            (r["a"], r["b"], r["label"], r["distance"], *(r["distances"].get(m) for m in models), r["decision"])
            for r in results
        ],
    )
    for r in results:
        if "note" in r:
            print(f"no face: {r['note']}", file=ctx.stderr)
    if summary:
        ctx.out(
            f"threshold {fusion.threshold:.4f}: accuracy {summary['accuracy']:.4f}, FAR {summary['far']:.4f}, "
            f"FRR {summary['frr']:.4f} ({summary['genuine']} same / {summary['impostor']} different pairs)"
        )
        ctx.out(f"threshold for FAR <= {args.target_far}: {summary['threshold_at_target_far']:.4f}")
    return ExitStatus.SUCCESS


def _summary(results: list[dict[str, Any]], threshold: float, target: float, rates: Any, at_far: Any) -> dict[str, Any]:
    labelled = [r for r in results if r["label"] is not None]
    if not labelled:
        return {}
    scores = np.array([np.inf if r["distance"] is None else r["distance"] for r in labelled])
    labels = np.array([r["label"] for r in labelled])
    r = rates(scores[labels == 1], scores[labels == 0], threshold)
    return {
        "accuracy": r.accuracy,
        "far": r.far,
        "frr": r.frr,
        "genuine": int(labels.sum()),
        "impostor": int((labels == 0).sum()),
        "threshold_at_target_far": at_far(scores[labels == 0], target),
    }


def embed(ctx: Context, args: argparse.Namespace) -> int:
    """Write {path: embedding} for each image with a face; list the others on stderr."""
    from dataclasses import replace

    from firmware.vision.engine import FaceEngine
    from occur_dev.evaluate import EmbeddingCache

    vision = replace(ctx.config.active_vision().for_photos(), models=(args.model,))
    cache = EmbeddingCache(FaceEngine.load(vision, False))
    vectors: dict[str, Any] = {}
    for path in args.images:
        found = cache.get(str(path))
        if found is not None:
            vectors[str(path)] = found[args.model]
    for path, reason in cache.errors.items():
        print(f"left out {path}: {reason}", file=ctx.stderr)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    with args.out.open("wb") as handle:
        np.savez(handle, **vectors)
    ctx.out(f"wrote {len(vectors)} embedding(s) ({args.model}) to {args.out}")
    return ExitStatus.SUCCESS if vectors else ExitStatus.ERROR

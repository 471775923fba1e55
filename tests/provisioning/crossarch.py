"""Same answers on ARM: embeddings written by ``occur embed`` in the arm64 root against this
machine's, photo by photo, and the door decisions both give on the labelled photos.

``python -m tests.provisioning.crossarch OUT_DIR [FACES]`` prints the comparison of the
``embeddings-arm64-<model>.npz`` files that ``provisioning/build-rootfs.sh --faces`` wrote.
"""

from __future__ import annotations

import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from firmware.config import VisionConfig
from firmware.vision.engine import FaceEngine
from firmware.vision.gallery import Gallery
from tests.conftest import SHARED

MODELS = ("sface", "dlib")


@dataclass
class Comparison:
    """Per model: photos compared and the lowest cosine; decisions that differ."""

    photos: dict[str, int] = field(default_factory=dict)
    min_cosine: dict[str, float] = field(default_factory=dict)
    max_abs: dict[str, float] = field(default_factory=dict)
    missing: dict[str, list[str]] = field(default_factory=dict)
    decisions: int = 0
    differing: list[tuple[str, str, str]] = field(default_factory=list)


def embed_here(faces: Path, out: Path, model: str) -> dict[str, np.ndarray]:
    """``occur embed`` on this machine, with the same relative names as in the root."""
    out = out.resolve()  # occur embed runs in the photos' folder
    names = sorted(
        str(p.relative_to(faces).as_posix()) for p in faces.rglob("*") if p.suffix.lower() in {".jpg", ".jpeg", ".png"}
    )
    occur = str(Path(sys.executable).parent / "occur")
    done = subprocess.run(
        [occur, "--data-dir", str(out / "data"), "embed", "--model", model, "--out", str(out / f"{model}.npz")]
        + [f"./{n}" for n in names],
        cwd=faces,
        capture_output=True,
        text=True,
        timeout=1800,
    )
    assert done.returncode == 0, done.stderr
    return load(out / f"{model}.npz")


def load(path: Path) -> dict[str, np.ndarray]:
    with np.load(path) as data:
        return {k.removeprefix("./"): data[k] for k in data.files}


def decisions(vectors: dict[str, dict[str, np.ndarray]]) -> dict[str, str]:
    """Leave-one-out 1:N decisions with the shipped fusion: each photo against all the others
    (one user per person folder): ``match:<person>``, ``unknown`` or ``ambiguous``."""
    engine = FaceEngine.load(VisionConfig(models=MODELS))
    fusion = engine.fusion
    engine.close()
    names = sorted(set.intersection(*(set(v) for v in vectors.values())))
    people = sorted({n.split("/")[0] for n in names})
    ids = {p: i + 1 for i, p in enumerate(people)}
    out = {}
    for probe in names:
        others = [n for n in names if n != probe and not n.startswith(("group/", "noface/"))]
        others.sort(key=lambda n: ids[n.split("/")[0]])
        rows = {
            m: (
                np.array([ids[n.split("/")[0]] for n in others], dtype=np.int64),
                np.stack([vectors[m][n] for n in others]).astype(np.float32),
            )
            for m in MODELS
        }
        match = Gallery(rows).search({m: vectors[m][probe] for m in MODELS}, fusion)
        who = people[match.user_id - 1] if match.user_id is not None else ""
        out[probe] = f"match:{who}" if match.decision == "match" else match.decision
    return out


def compare(arm: dict[str, dict[str, np.ndarray]], here: dict[str, dict[str, np.ndarray]]) -> Comparison:
    """Cosine and largest absolute difference per photo and model; decisions on both sides."""
    result = Comparison()
    for m in MODELS:
        common = sorted(set(arm[m]) & set(here[m]))
        result.missing[m] = sorted(set(arm[m]) ^ set(here[m]))
        a = np.stack([arm[m][n] for n in common]).astype(np.float64)
        b = np.stack([here[m][n] for n in common]).astype(np.float64)
        cosines = np.sum(a * b, axis=1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1))
        result.photos[m] = len(common)
        result.min_cosine[m] = float(np.min(cosines))
        result.max_abs[m] = float(np.max(np.abs(a - b)))
    arm_decisions, here_decisions = decisions(arm), decisions(here)
    result.decisions = len(here_decisions)
    result.differing = [
        (n, arm_decisions.get(n, "-"), d) for n, d in here_decisions.items() if arm_decisions.get(n) != d
    ]
    return result


def main(argv: list[str]) -> int:
    out = Path(argv[0])
    faces = Path(argv[1]) if len(argv) > 1 else SHARED / "data" / "faces"
    arm = {m: load(out / f"embeddings-arm64-{m}.npz") for m in MODELS}
    scratch = out / "x86"
    scratch.mkdir(exist_ok=True)
    here = {m: embed_here(faces, scratch, m) for m in MODELS}
    result = compare(arm, here)
    for m in MODELS:
        print(
            f"{m}: {result.photos[m]} photos, lowest cosine {result.min_cosine[m]:.7f}, "
            f"largest |difference| {result.max_abs[m]:.2e}, only on one side: {result.missing[m]}"
        )
    print(f"decisions: {result.decisions} photos, {len(result.differing)} differ {result.differing}")
    return 0 if all(c >= 0.999 for c in result.min_cosine.values()) and not result.differing else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

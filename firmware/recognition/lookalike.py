"""Look-alikes at enrolment: refuse samples that fit another user better, warn about close people.

A sample that is nearer to another enrolled user than to the person it is enrolled for poisons
both: the door would confuse them on every visit. Such a sample is refused when that other
score is also a match by itself (under the one-to-one threshold); the person's own score comes
from their other samples, stored or in the same enrolment, and a first and only photo has none,
so it can only be warned about. When the new person's best score against someone
else is under the door's threshold, the door could name one as the other (only the margin rule
stands between them): the enrolment says so, with the margin the door would need and the one
there is.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from firmware.errors import NotFoundError
from firmware.recognition.recogniser import Recogniser
from firmware.store import users
from firmware.store.store import Store
from firmware.vision.embed import Vector, distances
from firmware.vision.engine import FaceEngine
from firmware.vision.gallery import Fusion, Gallery


@dataclass
class Screening:
    """Which new samples (by index) are refused and why, and warnings about the person."""

    refused: dict[int, str] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)


def _user_scores(gallery: Gallery, fusion: Fusion, probe: dict[str, Vector]) -> npt.NDArray[np.float64]:
    """Fused score of ``probe`` against every gallery user (as the door scores a visit)."""
    parts = []
    for m, cal in fusion.calibrations.items():
        d = gallery.per_user(m, fusion.metrics[m], probe[m]).astype(np.float64)
        parts.append((d - cal.genuine_mean) / (cal.impostor_mean - cal.genuine_mean))
    return np.asarray(np.mean(parts, axis=0), dtype=np.float64) if parts else np.zeros(0)


def _pair_score(fusion: Fusion, a: dict[str, Vector], b: dict[str, Vector]) -> float:
    return fusion.score({m: float(distances(fusion.metrics[m], a[m][None, :], b[m])[0]) for m in fusion.calibrations})


def _own_user(store: Store, name: str) -> int | None:
    with store.reader() as conn:
        try:
            return users.find_user(conn, name.strip()).id
        except NotFoundError:
            return None


def screen(store: Store, engine: FaceEngine, name: str, samples: Sequence[dict[str, Vector]]) -> Screening:
    """Check the embeddings of new samples of ``name`` against everyone enrolled.

    Refusals go one at a time, the clearest first (most nearer another user than its own), and
    a refused sample stops counting as the person's own for the others: one wrong photo in an
    enrolment does not take the good ones with it.

    Raises:
        AmbiguousError: several users have this name.
    """
    recogniser = Recogniser(store, engine)
    gallery = recogniser.gallery()
    fusion = engine.fusion
    own_id = _own_user(store, name)
    names = recogniser.names()
    others = gallery.users != own_id
    scores = [_user_scores(gallery, fusion, sample) if len(gallery) else np.zeros(0) for sample in samples]
    stored_own = [
        float(s[~others][0]) if own_id is not None and s.size and not others.all() else math.inf for s in scores
    ]
    pair = {
        (i, j): _pair_score(fusion, samples[i], samples[j])
        for i in range(len(samples))
        for j in range(len(samples))
        if i != j
    }
    out = Screening()
    while True:
        kept = [i for i in range(len(samples)) if i not in out.refused]
        found = []
        for i in kept:
            if not scores[i][others].size:
                continue
            k = int(np.argmin(np.where(others, scores[i], np.inf)))
            own = min([stored_own[i], *(pair[i, j] for j in kept if j != i)])
            found.append((float(scores[i][k]) - own, i, float(scores[i][k]), int(gallery.users[k]), own))
        clash = [f for f in found if math.isfinite(f[4]) and f[2] < min(f[4], fusion.threshold)]
        if not clash:
            break
        _, i, best, other_id, own = min(clash)
        out.refused[i] = (
            f"matches {names.get(other_id, other_id)} (score {best:.3f}) better than "
            f"{name.strip()}'s other samples ({own:.3f}); enrol a clearer photo"
        )
    if found:
        _, _, best, other_id, own = min(found, key=lambda f: f[2])
        _warn(out, recogniser.point().threshold, fusion, (name.strip(), names.get(other_id, str(other_id)), best, own))
    return out


def _warn(out: Screening, door_threshold: float | None, fusion: Fusion, close: tuple[str, str, float, float]) -> None:
    name, other, score, own = close
    threshold = fusion.threshold if door_threshold is None else door_threshold
    if score >= threshold:
        return
    gap = "" if not math.isfinite(own) else f"; the gap to their own samples is {score - own:.3f}"
    out.warnings.append(
        f"{name} looks like {other}: score {score:.3f} is under the door threshold {threshold:.3f}, so only the "
        f"margin rule keeps them apart (the door needs a gap of {fusion.margin:.3f} between the two best users{gap}); "
        "visits of either may be 'ambiguous'"
    )

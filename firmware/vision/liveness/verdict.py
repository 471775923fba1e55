"""The liveness verdict of one visit and the thresholds that produce it."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

State = Literal["live", "attack", "not_proven"]


@dataclass(frozen=True)
class Verdict:
    """What the cues say about a visit at time ``now`` (seconds, the frames' clock).

    ``cue`` names the deciding cue for ``live`` (``parallax``, ``blink``) and ``attack``
    (``planar_motion``, ``screen_bezel``, ``glare``, ``moire``, ``pad_model``), and the reason
    for ``not_proven``. ``events`` are the moments of live evidence, ``(kind, t)`` with kind
    ``turn`` (parallax) or ``blink``, which a challenge is checked against. ``cues`` holds
    every measured value, for the records.
    """

    state: State
    cue: str
    now: float
    events: tuple[tuple[str, float], ...] = ()
    cues: dict[str, Any] = field(default_factory=dict)

    def record(self, policy: str) -> dict[str, Any]:
        """The JSON-able form kept with a door decision and sent in its MQTT event."""
        return {"policy": policy, "verdict": self.state, "cue": self.cue, "cues": self.cues}


@dataclass(frozen=True)
class Thresholds:
    """Cue thresholds; lengths are fractions of the inter-ocular distance (IOD).

    Defaults come from the landmark model on synthetic prints and the published parallax of a
    real head (see ``occur bench pad`` and the README): a flat picture's landmarks follow one
    homography to within about 1-2.5 % of the IOD, a real head's nose leaves it by about
    0.18 x IOD x sin(yaw).
    """

    live_parallax: float = 0.045
    flat_parallax: float = 0.02
    min_plane_motion: float = 0.012
    live_frames: int = 2
    planar_frames: int = 3
    cue_frames: int = 3
    cue_fraction: float = 0.5
    blink_ratio: float = 0.6
    blink_max_s: float = 0.6
    min_fps: float = 8.0
    min_iod_px: float = 36.0
    pad_threshold: float = 0.5

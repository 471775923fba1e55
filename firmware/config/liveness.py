"""``[liveness]``: is a live face at the door, and what the door does when it cannot tell.

The verdict comes from :mod:`firmware.vision.liveness`; what a verdict allows is the policy
(``firmware.policy.liveness``), per role. See the README's security section for what each policy
stops and what it does not.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from firmware.config.fields import setting as _f


@dataclass(frozen=True)
class LivenessConfig:
    """Presentation-attack detection policy, timings and the optional operator-supplied model."""

    policy: Literal["off", "deny_attacks", "require_live", "challenge"] = _f(
        "deny_attacks",
        "off | deny_attacks (grant unless a cue proves an attack) | require_live (grant only with "
        "head-motion parallax or a blink) | challenge (the LEDs ask for a head turn or a blink)",
    )
    roles: tuple[str, ...] = _f(
        (),
        "per-role policies 'ROLE POLICY', e.g. 'server-room challenge'; other roles use policy",
        pattern=r"\S+\s+(off|deny_attacks|require_live|challenge)",
    )
    observe_s: float = _f(
        1.0, "deny_attacks: a visit is watched this long (from the face's first frame) before a grant, s",
        min=0.0, max=10.0,
    )  # fmt: skip
    max_wait_s: float = _f(
        3.0,
        "require_live / challenge: longest wait for the evidence after recognition; deny_attacks: for a face "
        "the cues can look at (landmarks found in half the frames), then refused, s",
        min=0.5,
        max=30.0,
    )
    window_s: float = _f(5.0, "evidence older than this at the decision does not count, s", min=1.0, max=60.0)
    challenge_delay_s: float = _f(
        1.5, "challenge: it is shown at a random moment up to this long after recognition, s", min=0.2, max=10.0
    )
    challenge_response_s: float = _f(
        2.0, "challenge: the head turn or blink must come within this time after it is shown, s", min=0.5, max=10.0
    )
    min_fps: float = _f(8.0, "below this frame rate motion and blinks are not trusted (not_proven)", min=1.0, max=120.0)
    min_iod_px: float = _f(
        36.0,
        "smallest eye distance (px) for the motion and blink tests; smaller faces are screened but not_proven",
        min=8.0,
    )
    blink_ratio: float = _f(
        0.6, "a blink: the eye aspect ratio drops under this fraction of its open-eye level", min=0.1, max=0.95
    )
    pad_model: str = _f("", "operator-supplied presentation-attack model in the models folder ('' = none)")

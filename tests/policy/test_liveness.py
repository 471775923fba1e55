"""What each liveness policy allows, per role, and how a challenge is shown and answered."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from firmware.config import from_mapping
from firmware.config.liveness import LivenessConfig
from firmware.errors import ConfigError
from firmware.policy.liveness import Challenge, LivenessRules, Visit, judge, parse_roles
from firmware.vision.liveness.verdict import Verdict
from tests.conftest import Cli

CONFIG = LivenessConfig()
LIVE = Verdict("live", "parallax", 1.0, (("turn", 0.9),))
ATTACK = Verdict("attack", "planar_motion", 1.0)
UNSURE = Verdict("not_proven", "no head turn or blink yet", 1.0, checked=True)
UNSEEN = Verdict("not_proven", "no face landmarks", 1.0, cues={"frames": 16, "found": 0, "usable": 0})


@pytest.mark.parametrize("policy", ["deny_attacks", "require_live", "challenge"])
def test_no_policy_grants_on_an_attack(policy: str) -> None:
    for watched in (0.0, 5.0, 60.0):
        j = judge(policy, ATTACK, watched, watched, CONFIG, Challenge("turn", 0.0))
        assert j.final and not j.allowed and j.reason == "presentation attack: planar_motion"


def test_off_never_looks() -> None:
    assert judge("off", ATTACK, 0.0, 0.0, CONFIG).allowed


def test_deny_attacks_watches_then_grants_what_is_not_proven() -> None:
    assert not judge("deny_attacks", UNSURE, 0.5, 0.3, CONFIG).final  # still watching
    j = judge("deny_attacks", UNSURE, CONFIG.observe_s, 0.9, CONFIG)
    assert j.final and j.allowed and "liveness not proven" in j.reason
    assert judge("deny_attacks", LIVE, 0.2, 0.0, CONFIG).allowed  # live evidence: at once


def test_deny_attacks_never_grants_a_visit_the_cues_could_not_look_at() -> None:
    """A print the landmark model cannot find shows no attack cue because nothing was measured."""
    assert not judge("deny_attacks", UNSEEN, CONFIG.observe_s, 0.9, CONFIG).final  # waits for the face
    assert not judge("deny_attacks", UNSEEN, 3.0, CONFIG.max_wait_s - 0.1, CONFIG).final
    j = judge("deny_attacks", UNSEEN, 4.0, CONFIG.max_wait_s, CONFIG)
    assert j.final and not j.allowed
    assert j.reason == "liveness not checked: the landmark model found the face in 0 of 16 frames (no face landmarks)"
    visit = Visit("deny_attacks", CONFIG, 0.0, random.Random(1))
    visit.recognised(0.1)
    ended = visit.end(UNSEEN)
    assert not ended.allowed and ended.reason.endswith("(no face landmarks); visit ended")


def test_deny_attacks_keeps_watching_a_visit_where_a_cue_fired_once() -> None:
    """One frame with a sheet's edges is not yet an attack (two are), but it is no time to grant."""
    glimpse = Verdict("not_proven", "no head turn or blink yet", 1.0, cues={"screen_bezel": 1}, checked=True)
    assert not judge("deny_attacks", glimpse, CONFIG.observe_s, 0.9, CONFIG).final
    j = judge("deny_attacks", glimpse, 4.0, CONFIG.max_wait_s, CONFIG)
    assert j.final and j.allowed  # never proven: a single glimpse refuses nobody
    clean = Verdict("not_proven", "no head turn or blink yet", 1.0, cues={"screen_bezel": 0, "glare": 0}, checked=True)
    assert judge("deny_attacks", clean, CONFIG.observe_s, 0.9, CONFIG).allowed


def test_require_live_needs_evidence_and_waits_for_it() -> None:
    assert not judge("require_live", UNSURE, 1.0, 1.0, CONFIG).final
    j = judge("require_live", UNSURE, 9.0, CONFIG.max_wait_s, CONFIG)
    assert j.final and not j.allowed and j.reason == "liveness not proven: no head turn or blink yet"
    assert judge("require_live", LIVE, 0.3, 0.0, CONFIG).allowed


def test_a_challenge_needs_the_asked_evidence_after_it_was_shown() -> None:
    shown = Challenge("turn", 2.0)
    before = Verdict("live", "parallax", 2.5, (("turn", 1.5),))
    assert not judge("challenge", before, 3, 3, CONFIG, shown).final  # old evidence does not answer
    other = Verdict("live", "blink", 2.5, (("blink", 2.4),))
    assert not judge("challenge", other, 3, 3, CONFIG, shown).final  # nor the other kind
    reflex = Verdict("live", "parallax", 2.1, (("turn", 2.1),))
    assert not judge("challenge", reflex, 3, 3, CONFIG, shown).final  # faster than a person reacts
    answered = Verdict("live", "parallax", 3.0, (("turn", 2.8),))
    j = judge("challenge", answered, 3, 3, CONFIG, shown)
    assert j.final and j.allowed and j.reason == "live: turn on request"
    late = Verdict("live", "parallax", 4.5, (("turn", 4.4),))
    j = judge("challenge", late, 5, 5, CONFIG, shown)
    assert j.final and not j.allowed and "challenge not answered" in j.reason


def test_a_visit_shows_its_challenge_at_a_random_moment_and_asks_for_what_was_not_just_seen() -> None:
    visit = Visit("challenge", CONFIG, 0.0, random.Random(3))
    visit.recognised(0.2)
    assert visit.led() is None
    turning = Verdict("not_proven", "x", 1.8, (("turn", 1.7),))
    visit.step(turning)  # at 1.8 s the challenge is due (delay <= 1.5 s)
    assert visit.challenge is not None and visit.challenge.kind == "blink"  # the face was turning
    assert visit.led() == "challenge_blink"
    assert 0.5 <= visit.challenge.shown_at <= 1.8


def test_a_recorded_challenge_is_replayed_as_recorded() -> None:
    visit = Visit("challenge", CONFIG, 0.0, random.Random(1), Challenge("blink", 1.2))
    visit.recognised(0.1)
    visit.step(Verdict("not_proven", "x", 1.0))
    assert visit.challenge is None
    visit.step(Verdict("not_proven", "x", 1.3))
    assert visit.challenge == Challenge("blink", 1.2)


def test_a_visit_that_ends_is_judged_on_what_it_showed() -> None:
    for policy, allowed in (("deny_attacks", True), ("require_live", False), ("challenge", False)):
        visit = Visit(policy, CONFIG, 0.0, random.Random(1))
        visit.recognised(0.1)
        assert visit.end(Verdict("not_proven", "x", 0.3, checked=True)).allowed is allowed


def test_roles_pick_their_policy() -> None:
    rules = LivenessRules.from_config(LivenessConfig(roles=("server-room challenge", "staff require_live")))
    assert rules.policy_for("server-room") == "challenge"
    assert rules.policy_for("staff") == "require_live"
    assert rules.policy_for("visitor") == "deny_attacks"
    assert rules.policy_for(None) == "deny_attacks"
    assert not LivenessRules.from_config(LivenessConfig(policy="off")).needed
    assert LivenessRules.from_config(LivenessConfig(policy="off", roles=("x challenge",))).needed
    with pytest.raises(ConfigError, match="expected 'ROLE POLICY'"):
        parse_roles(("staff maybe",))


def test_the_config_section_is_validated_key_by_key(cli: Cli, tmp_path: Path) -> None:
    config = from_mapping({"liveness": {"policy": "challenge", "roles": ["staff deny_attacks"], "max_wait_s": 4.0}})
    assert config.liveness.policy == "challenge" and config.liveness.roles == ("staff deny_attacks",)
    bad = tmp_path / "bad.toml"
    bad.write_text('[liveness]\npolicy = "strict"\nroles = ["staff sometimes"]\nmax_wait_s = 0\n')
    result = cli("check-config", str(bad))
    assert result.status == 3
    for key in ("liveness.policy", "liveness.roles[0]", "liveness.max_wait_s"):
        assert key in result.err

"""The access policy (pure)."""

from __future__ import annotations

from datetime import datetime

import pytest

from firmware.config import DoorConfig
from firmware.errors import ConfigError
from firmware.policy.access import AccessPolicy, Person, parse_schedule

MONDAY_9 = datetime(2026, 11, 23, 9, 0)
SUNDAY_9 = datetime(2026, 11, 29, 9, 0)
STAFF = Person(1, "staff", True)


def test_only_a_decided_match_of_an_active_allowed_user_is_granted() -> None:
    policy = AccessPolicy.from_config(DoorConfig(allowed_roles=("staff",)))
    assert policy.decide("match", STAFF, MONDAY_9) == (True, "recognised and allowed")
    assert policy.decide("unknown", None, MONDAY_9) == (False, "unknown face")
    assert policy.decide("ambiguous", None, MONDAY_9) == (False, "ambiguous match")
    assert policy.decide("low_quality", None, MONDAY_9)[0] is False
    assert policy.decide("match", Person(1, "staff", False), MONDAY_9) == (False, "user disabled")
    assert policy.decide("match", Person(2, "visitor", True), MONDAY_9) == (
        False,
        "role visitor not allowed at this door",
    )
    assert policy.decide("match", Person(3, None, True), MONDAY_9)[0] is False


def test_no_role_list_admits_every_active_user() -> None:
    policy = AccessPolicy.from_config(DoorConfig())
    assert policy.decide("match", Person(2, None, True), SUNDAY_9)[0] is True


def test_weekly_windows() -> None:
    policy = AccessPolicy.from_config(DoorConfig(schedule=("staff mon-fri 07:00-19:00", "night sat,sun 22:00-06:00")))
    assert policy.decide("match", STAFF, MONDAY_9)[0] is True
    assert policy.decide("match", STAFF, SUNDAY_9) == (False, "outside the role's schedule")
    night = Person(4, "night", True)
    assert policy.decide("match", night, datetime(2026, 11, 28, 23, 0))[0] is True  # Saturday 23:00
    assert policy.decide("match", night, datetime(2026, 11, 30, 5, 0))[0] is True  # Monday 05:00, Sunday's window
    assert policy.decide("match", night, datetime(2026, 11, 30, 7, 0))[0] is False


@pytest.mark.parametrize("line", ["staff", "staff funday 07:00-19:00", "staff mon 7-19"])
def test_bad_schedule_lines_are_config_errors(line: str) -> None:
    with pytest.raises(ConfigError):
        parse_schedule((line,))

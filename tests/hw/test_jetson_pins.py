"""The one Door on the Jetson pin factory, with Jetson.GPIO's pins simulated (no Jetson here):
the relay's first level is locked, a grant ends by itself, inputs arrive as door events, and
closing locks and releases the lines."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import pytest

from firmware.config import DoorConfig
from firmware.errors import HardwareError
from firmware.hw.door import Door
from firmware.hw.jetson_pins import JetsonFactory

RELAY, GREEN, RED, CONTACT, EXIT, TAMPER = 12, 16, 18, 22, 24, 26


class SimulatedJetsonGPIO:
    """Jetson.GPIO's interface over simulated lines; inputs idle high (external pull-ups)."""

    BOARD, OUT, IN = "BOARD", "OUT", "IN"
    HIGH, LOW = 1, 0
    BOTH, RISING, FALLING = "both", "rising", "falling"

    def __init__(self) -> None:
        self.mode: str | None = None
        self.levels: dict[int, int] = {}
        self.history: dict[int, list[int]] = {}
        self.directions: dict[int, str] = {}
        self.watchers: dict[int, tuple[str, Callable[[int], None]]] = {}
        self.cleaned = False

    def setmode(self, mode: str) -> None:
        self.mode = mode

    def setup(self, channel: int, direction: str, initial: int | None = None) -> None:
        self.directions[channel] = direction
        if direction == self.OUT:
            self._set(channel, self.LOW if initial is None else initial)
        else:
            self.levels.setdefault(channel, self.HIGH)

    def _set(self, channel: int, level: int) -> None:
        self.levels[channel] = level
        self.history.setdefault(channel, []).append(level)

    def output(self, channel: int, level: int) -> None:
        assert self.directions.get(channel) == self.OUT, f"pin {channel} is not an output"
        self._set(channel, level)

    def input(self, channel: int) -> int:
        return self.levels.get(channel, self.HIGH)

    def add_event_detect(self, channel: int, edge: str, callback: Any = None, bouncetime: Any = None) -> None:
        assert channel not in self.watchers, f"pin {channel} is watched twice"
        self.watchers[channel] = (edge, callback)

    def remove_event_detect(self, channel: int) -> None:
        self.watchers.pop(channel, None)

    def cleanup(self) -> None:
        self.cleaned = True

    def drive(self, channel: int, level: int) -> None:
        """What the wiring does to an input line."""
        before = self.levels.get(channel, self.HIGH)
        self.levels[channel] = level
        edge, callback = self.watchers.get(channel, ("", None))
        rising, falling = before == self.LOW and level == self.HIGH, before == self.HIGH and level == self.LOW
        if callback and ((edge == self.BOTH and (rising or falling)) or (edge == self.RISING and rising)
                         or (edge == self.FALLING and falling)):  # fmt: skip
            callback(channel)


def wait_for(condition: Callable[[], bool], timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.01)
    return False


@pytest.fixture
def config() -> DoorConfig:
    return replace(
        DoorConfig(), gpio="jetson", relay_pin=RELAY, green_led_pin=GREEN, red_led_pin=RED,
        contact_pin=CONTACT, exit_button_pin=EXIT, tamper_pin=TAMPER, pulse_s=0.2,
    )  # fmt: skip


def test_the_relay_starts_locked_and_a_grant_relocks_by_itself(config: DoorConfig) -> None:
    gpio = SimulatedJetsonGPIO()
    door = Door(config, JetsonFactory(gpio))
    try:
        assert gpio.mode == gpio.BOARD
        assert gpio.history[RELAY] == [gpio.LOW]  # never high before a grant
        assert not door.unlocked
        door.grant()
        assert wait_for(lambda: gpio.HIGH in gpio.history[RELAY])
        assert wait_for(lambda: gpio.levels[RELAY] == gpio.LOW and not door.unlocked)
        assert gpio.history[RELAY][-2:] == [gpio.HIGH, gpio.LOW]
    finally:
        door.close()


def test_an_active_low_relay_starts_high(config: DoorConfig) -> None:
    gpio = SimulatedJetsonGPIO()
    door = Door(replace(config, relay_active_high=False), JetsonFactory(gpio))
    try:
        assert gpio.history[RELAY] == [gpio.HIGH]
        assert not door.unlocked
    finally:
        door.close()


def test_inputs_become_door_events(config: DoorConfig) -> None:
    gpio = SimulatedJetsonGPIO()
    events: list[str] = []
    door = Door(config, JetsonFactory(gpio), on_input=events.append)
    try:
        gpio.drive(CONTACT, gpio.LOW)  # contact closes: the door is shut
        gpio.drive(CONTACT, gpio.HIGH)
        gpio.drive(EXIT, gpio.LOW)
        gpio.drive(EXIT, gpio.HIGH)
        gpio.drive(TAMPER, gpio.LOW)
        assert wait_for(lambda: len(events) == 4)
        assert events == ["door_closed", "door_opened", "exit_request", "tamper"]
    finally:
        door.close()


def test_leds_show_the_state(config: DoorConfig) -> None:
    gpio = SimulatedJetsonGPIO()
    door = Door(config, JetsonFactory(gpio))
    try:
        door.show("denied")
        assert (gpio.levels[GREEN], gpio.levels[RED]) == (gpio.LOW, gpio.HIGH)
        door.show("granted")
        assert (gpio.levels[GREEN], gpio.levels[RED]) == (gpio.HIGH, gpio.LOW)
    finally:
        door.close()


def test_closing_locks_and_releases_the_lines(config: DoorConfig) -> None:
    gpio = SimulatedJetsonGPIO()
    factory = JetsonFactory(gpio)
    door = Door(config, factory)
    door.grant(30)
    assert wait_for(lambda: gpio.levels[RELAY] == gpio.HIGH)
    door.close()
    factory.close()
    assert gpio.levels[RELAY] == gpio.LOW
    assert gpio.watchers == {} and gpio.cleaned


def test_pins_are_board_numbers() -> None:
    factory = JetsonFactory(SimulatedJetsonGPIO())
    assert factory.pin("BOARD12") is factory.pin(12)
    with pytest.raises(HardwareError, match="BOARD numbers"):
        factory.pin("GPIO17")


def test_the_jetson_board_without_its_library_is_a_clear_error() -> None:
    with pytest.raises(HardwareError, match=r"Jetson\.GPIO is not installed"):
        Door(DoorConfig(gpio="jetson"))

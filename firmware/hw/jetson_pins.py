"""The door's roles on a Jetson through ``Jetson.GPIO`` (NVIDIA's RPi.GPIO-compatible library).

Same interface as :class:`firmware.hw.door.Door`: relay driven locked first, pulses capped by
``pulse_s`` and ended by a timer thread, steady LED states (Jetson.GPIO has no background
blink), inputs by edge callbacks. Pins are BOARD numbers. Kept thin: no Jetson here to test on,
so this module is type-checked and import-checked only.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

from firmware.config import DoorConfig
from firmware.errors import HardwareError

log = logging.getLogger(__name__)
STEADY = {
    "idle": (True, False),
    "processing": (True, False),
    "granted": (True, False),
    "denied": (False, True),
    "fault": (False, True),
    "offline": (True, True),
    "challenge_turn": (True, True),  # steady LEDs only: both challenges look alike on a Jetson
    "challenge_blink": (True, True),
}


class JetsonDoor:
    """Relay + two LEDs + optional inputs on Jetson.GPIO."""

    def __init__(self, config: DoorConfig, on_input: Callable[[str], None] | None = None) -> None:
        try:
            import Jetson.GPIO as GPIO
        except ImportError as err:
            raise HardwareError("Jetson.GPIO is not installed (pip install Jetson.GPIO on the Jetson)") from err
        self.gpio: Any = GPIO
        self.config = config
        self._locked_level = GPIO.LOW if config.relay_active_high else GPIO.HIGH
        self._open_level = GPIO.HIGH if config.relay_active_high else GPIO.LOW
        self._timer: threading.Timer | None = None
        self._lock = threading.Lock()
        self._state = ""
        GPIO.setmode(GPIO.BOARD)
        GPIO.setup(config.relay_pin, GPIO.OUT, initial=self._locked_level)
        for pin in (config.green_led_pin, config.red_led_pin):
            if pin:
                GPIO.setup(pin, GPIO.OUT, initial=GPIO.LOW)
        notify = on_input or (lambda _: None)
        inputs = (
            (config.contact_pin, "door_contact"),
            (config.exit_button_pin, "exit_request"),
            (config.tamper_pin, "tamper"),
        )
        for pin, kind in inputs:
            if pin:
                GPIO.setup(pin, GPIO.IN)
                GPIO.add_event_detect(
                    pin,
                    GPIO.BOTH if kind == "door_contact" else GPIO.FALLING,
                    callback=lambda p, k=kind: notify(self._input_kind(p, k)),
                    bouncetime=50,
                )
        self.show("idle")

    def _input_kind(self, pin: int, kind: str) -> str:
        if kind != "door_contact":
            return kind
        return "door_closed" if self.gpio.input(pin) == self.gpio.LOW else "door_opened"

    @property
    def unlocked(self) -> bool:
        """True while the relay holds the door unlocked."""
        return bool(self.gpio.input(self.config.relay_pin) == self._open_level)

    def grant(self, seconds: float | None = None) -> None:
        """Unlock for ``seconds`` (default and cap: ``pulse_s``)."""
        duration = min(seconds or self.config.pulse_s, self.config.pulse_s)
        with self._lock:
            if self._timer is not None:
                self._timer.cancel()
            self.gpio.output(self.config.relay_pin, self._open_level)
            self._timer = threading.Timer(duration, self.lock)
            self._timer.daemon = True
            self._timer.start()

    def lock(self) -> None:
        """Lock now."""
        self.gpio.output(self.config.relay_pin, self._locked_level)

    def show(self, state: str) -> None:
        """Steady LED state for ``state``."""
        self._state = state
        for pin, on in zip((self.config.green_led_pin, self.config.red_led_pin), STEADY[state], strict=True):
            if pin:
                self.gpio.output(pin, self.gpio.HIGH if on else self.gpio.LOW)

    @property
    def state(self) -> str:
        """The LED state shown."""
        return self._state

    def close(self) -> None:
        """Lock and release the pins."""
        with self._lock:
            if self._timer is not None:
                self._timer.cancel()
        try:
            self.lock()
        finally:
            self.gpio.cleanup()

"""The door's GPIO devices through gpiozero: relay, two status LEDs, optional inputs.

gpiozero's device / pin-factory split keeps this one door for every board: a Raspberry Pi (lgpio
or RPi.GPIO factories), a Jetson (:mod:`firmware.hw.jetson_pins`), and tests and the demo
(``MockFactory``, whose pins record their history). A new board is a new pin factory, not a new
door. The relay is driven locked when the object is built, before anything else, and again
on :meth:`close`; every grant is a pulse that ends by itself even if the process hangs after
starting it (gpiozero's background blink thread), and it is capped by ``[door] pulse_s``.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any, Protocol

from firmware.config import DoorConfig
from firmware.domain import DoorInput
from firmware.errors import HardwareError

log = logging.getLogger(__name__)

# LED patterns: (green, red), each "on", "off" or (on_s, off_s) blinking.
Pattern = tuple[str | tuple[float, float], str | tuple[float, float]]
PATTERNS: dict[str, Pattern] = {
    "idle": ((0.1, 2.9), "off"),
    "processing": ((0.15, 0.15), "off"),
    "granted": ("on", "off"),
    "denied": ("off", "on"),
    "fault": ("off", (0.5, 0.5)),
    "offline": ((1.0, 1.0), (1.0, 1.0)),
    # liveness challenges (a sign beside the camera explains them): turn your head / blink
    "challenge_turn": ("on", (0.25, 0.25)),
    "challenge_blink": ((0.25, 0.25), "on"),
}


class DoorDevice(Protocol):
    """What the loop needs from the door (:class:`Door`; tests may stand in for it)."""

    @property
    def unlocked(self) -> bool:
        """True while the relay holds the door unlocked."""

    @property
    def state(self) -> str:
        """The LED pattern shown."""

    @property
    def door_open(self) -> bool | None:
        """The door contact: True open, False shut, None when no contact is fitted."""

    def grant(self, seconds: float | None = None) -> None:
        """Unlock for a capped pulse."""

    def lock(self) -> None:
        """Lock now."""

    def show(self, state: str) -> None:
        """Show an LED pattern."""

    def close(self) -> None:
        """Lock and release the pins."""


FACTORIES = {
    "lgpio": ("gpiozero.pins.lgpio", "LGPIOFactory", "apt install python3-lgpio"),
    "rpigpio": ("gpiozero.pins.rpigpio", "RPiGPIOFactory", "apt install python3-rpi-lgpio"),
    "pigpio": ("gpiozero.pins.pigpio", "PiGPIOFactory", "apt install python3-pigpio and run pigpiod"),
    "native": ("gpiozero.pins.native", "NativeFactory", "no Raspberry Pi 5 support"),
}


def make_pin_factory(config: DoorConfig) -> Any:
    """The configured board's pin factory: ``[door] gpio = "jetson"`` gives Jetson.GPIO's,
    otherwise the gpiozero factory ``[door] pin_factory`` names, never a silent fallback to
    another (gpiozero's default would drop to its native driver, which cannot drive a Pi 5).

    Raises:
        HardwareError: the library is missing or this is not a board it knows.
    """
    import importlib

    if config.gpio == "jetson":
        from firmware.hw.jetson_pins import JetsonFactory

        log.info("door GPIO through Jetson.GPIO (BOARD pin numbers)")
        return JetsonFactory()
    name = config.pin_factory
    module_name, class_name, hint = FACTORIES[name]
    try:
        factory = getattr(importlib.import_module(module_name), class_name)()
    except Exception as err:
        raise HardwareError(f"GPIO pin factory {name} is unavailable ({hint}): {err}") from err
    log.info("door GPIO through gpiozero's %s", class_name)
    return factory


def mock_factory() -> Any:
    """gpiozero's MockFactory (pins that record their state history), for tests and the demo."""
    from gpiozero.pins.mock import MockFactory

    return MockFactory()


class Door:
    """Relay + LEDs + optional door contact, exit button and tamper inputs, on ``pin_factory``
    (default: :func:`make_pin_factory` for the configured board, closed with the door)."""

    def __init__(self, config: DoorConfig, pin_factory: Any = None,
                 on_input: Callable[[DoorInput], None] | None = None) -> None:  # fmt: skip
        from gpiozero import LED, Button, DigitalOutputDevice

        self.config = config
        self._lock = threading.Lock()
        self._devices: list[Any] = []
        self._state = ""
        on_input = on_input or (lambda _: None)
        self._own_factory = pin_factory is None
        self.factory = pin_factory if pin_factory is not None else make_pin_factory(config)
        try:
            self.relay = DigitalOutputDevice(config.relay_pin, active_high=config.relay_active_high,
                                             initial_value=False, pin_factory=self.factory)  # fmt: skip
            self._devices.append(self.relay)
            self.green = LED(config.green_led_pin, pin_factory=self.factory) if config.green_led_pin else None
            self.red = LED(config.red_led_pin, pin_factory=self.factory) if config.red_led_pin else None
            self._devices += [d for d in (self.green, self.red) if d is not None]
            self.contact = self._button(Button, config.contact_pin, self.factory)
            self.exit_button = self._button(Button, config.exit_button_pin, self.factory)
            self.tamper = self._button(Button, config.tamper_pin, self.factory)
        except Exception as err:
            self.close()
            raise HardwareError(f"door GPIO: {err}") from err
        if self.contact is not None:
            self.contact.when_released = lambda: on_input("door_opened")
            self.contact.when_pressed = lambda: on_input("door_closed")
        if self.exit_button is not None:
            self.exit_button.when_pressed = lambda: on_input("exit_request")
        if self.tamper is not None:
            self.tamper.when_pressed = lambda: on_input("tamper")
        self.show("idle")

    def _button(self, kind: Any, pin: int, factory: Any) -> Any:
        if not pin:
            return None
        device = kind(pin, pull_up=True, bounce_time=0.05, pin_factory=factory)
        self._devices.append(device)
        return device

    @property
    def unlocked(self) -> bool:
        """True while the relay holds the door unlocked."""
        return bool(self.relay.value)

    @property
    def door_open(self) -> bool | None:
        """The door contact: True open, False shut, None when no contact is fitted (read at start
        for the retained ``door/contact`` topic, which needs a state before the first change)."""
        return None if self.contact is None else not self.contact.is_pressed

    def grant(self, seconds: float | None = None) -> None:
        """Unlock for ``seconds`` (default and cap: ``pulse_s``), then lock again by itself."""
        duration = min(seconds or self.config.pulse_s, self.config.pulse_s)
        with self._lock:
            self.relay.blink(on_time=duration, off_time=0.0, n=1, background=True)
        log.info("door unlocked for %.1f s", duration)

    def lock(self) -> None:
        """Lock now (also stops a pulse in progress)."""
        with self._lock:
            self.relay.off()

    def show(self, state: str) -> None:
        """Set the LED pattern: idle, processing, granted, denied, fault, offline, or a liveness
        challenge (challenge_turn, challenge_blink)."""
        if state == self._state:
            return
        self._state = state
        for led, how in zip((self.green, self.red), PATTERNS[state], strict=True):
            if led is None:
                continue
            if how == "on":
                led.on()
            elif how == "off":
                led.off()
            else:
                led.blink(on_time=how[0], off_time=how[1], background=True)

    @property
    def state(self) -> str:
        """The LED pattern shown."""
        return self._state

    def close(self) -> None:
        """Lock, turn the LEDs off and release every pin; safe to call twice."""
        devices: list[Any] = list(reversed(self._devices))
        for device in devices:
            try:
                if device is self.__dict__.get("relay"):
                    self.relay.off()
                device.close()
            except Exception as err:  # noqa: BLE001 - closing must go on for the other pins
                log.error("door GPIO: closing %s failed: %s", device, err)
        self._devices.clear()
        if self._own_factory:
            self._own_factory = False
            try:
                self.factory.close()
            except Exception as err:  # noqa: BLE001 - the pins are already released
                log.error("door GPIO: closing the pin factory failed: %s", err)

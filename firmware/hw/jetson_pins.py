"""A gpiozero pin factory for NVIDIA Jetson boards, through ``Jetson.GPIO`` (BOARD pin numbers).

The door is one device (:class:`firmware.hw.door.Door`, gpiozero's relay, LEDs and buttons); a
board is a pin factory under it, as gpiozero intends. On a Raspberry Pi that is one of gpiozero's
own factories; on a Jetson it is this module, so the Jetson gets exactly the Pi's door: relay
driven locked first, pulses ended by gpiozero's background thread, blinking LEDs, debounced
inputs. Supporting another board means writing one such module.

Jetson.GPIO has no software pull resistors: the inputs (contact, exit button, tamper) need the
external pull-ups the wiring guide shows; the requested pull is recorded, not applied.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

from gpiozero.pins import Factory, Pin, PinInfo

from firmware.errors import HardwareError

_EDGES = ("both", "rising", "falling")


def _info(number: int) -> Any:
    name = f"BOARD{number}"
    return PinInfo(number, name, frozenset({name, number}), "", 0, 0, frozenset({"gpio"}))


def _board_number(name: int | str) -> int:
    text = str(name).removeprefix("BOARD")
    if not text.isdigit():
        raise HardwareError(f"Jetson pins are BOARD numbers, not {name!r}")
    return int(text)


class _Header:
    """What gpiozero's pin reservations look pins up in (``board_info.find_pin``)."""

    def find_pin(self, name: int | str) -> list[tuple[None, Any]]:
        return [(None, _info(_board_number(name)))]


class JetsonPin(Pin):  # type: ignore[misc]  # gpiozero is untyped
    """One BOARD-numbered pin. It is left unconfigured until a device sets its function, so an
    output's first level is the one the device asks for (the relay's, locked)."""

    def __init__(self, factory: JetsonFactory, number: int) -> None:
        super().__init__()
        self._factory = factory
        self._gpio = factory.gpio
        self._number = number
        self._function = "input"
        self._configured = False
        self._pull = "floating"
        self._edges = "both"
        self._bounce: float | None = None
        self._when_changed: Callable[[float, int], None] | None = None
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"BOARD{self._number}"

    def _get_info(self) -> Any:
        return _info(self._number)

    def _get_function(self) -> str:
        return self._function

    def _set_function(self, value: str) -> None:
        if value not in ("input", "output"):
            raise HardwareError(f"{self!r}: Jetson.GPIO pins are inputs or outputs, not {value}")
        self._function, self._configured = value, True
        self._gpio.setup(self._number, self._gpio.OUT if value == "output" else self._gpio.IN)

    def output_with_state(self, state: bool) -> None:
        """Configure as an output already at ``state`` (no glitch on an active-low relay)."""
        self._function, self._configured = "output", True
        self._gpio.setup(self._number, self._gpio.OUT, initial=self._level(state))

    def _level(self, state: bool) -> Any:
        return self._gpio.HIGH if state else self._gpio.LOW

    def _get_state(self) -> bool:
        return bool(self._gpio.input(self._number) == self._gpio.HIGH)

    def _set_state(self, value: bool) -> None:
        if self._function != "output":
            raise HardwareError(f"{self!r}: cannot set the level of an input")
        self._gpio.output(self._number, self._level(bool(value)))

    def _get_pull(self) -> str:
        return self._pull

    def _set_pull(self, value: str) -> None:
        self._pull = value  # no software pulls on Jetson.GPIO (see the module doc)

    def _get_bounce(self) -> float | None:
        return self._bounce

    def _set_bounce(self, value: float | None) -> None:
        self._bounce = value
        self._restart_events()

    def _get_edges(self) -> str:
        return self._edges

    def _set_edges(self, value: str) -> None:
        if value not in _EDGES:
            raise HardwareError(f"{self!r}: edges must be one of {', '.join(_EDGES)}")
        self._edges = value
        self._restart_events()

    def _get_when_changed(self) -> Callable[[float, int], None] | None:
        return self._when_changed

    def _set_when_changed(self, value: Callable[[float, int], None] | None) -> None:
        with self._lock:
            if self._when_changed is not None:
                self._gpio.remove_event_detect(self._number)
            self._when_changed = value
            if value is not None:
                self._watch(value)

    def _restart_events(self) -> None:
        with self._lock:
            if self._when_changed is not None:
                self._gpio.remove_event_detect(self._number)
                self._watch(self._when_changed)

    def _watch(self, callback: Callable[[float, int], None]) -> None:
        if not self._configured:
            self._set_function("input")
        edge = {"both": self._gpio.BOTH, "rising": self._gpio.RISING, "falling": self._gpio.FALLING}[self._edges]
        bounce = None if self._bounce is None else max(1, round(self._bounce * 1000))

        def changed(channel: int) -> None:
            callback(self._factory.ticks(), int(self._gpio.input(channel) == self._gpio.HIGH))

        self._gpio.add_event_detect(self._number, edge, callback=changed, bouncetime=bounce)

    def close(self) -> None:
        """Stop watching the pin; the factory releases the lines when it closes."""
        self.when_changed = None


def _jetson_gpio() -> Any:
    try:
        import Jetson.GPIO
    except ImportError as err:
        raise HardwareError("Jetson.GPIO is not installed (pip install Jetson.GPIO on the Jetson)") from err
    return Jetson.GPIO


class JetsonFactory(Factory):  # type: ignore[misc]  # gpiozero is untyped
    """Pins by BOARD number. ``gpio`` is the ``Jetson.GPIO`` module (imported when not given)."""

    def __init__(self, gpio: Any = None) -> None:
        super().__init__()
        self.gpio = gpio if gpio is not None else _jetson_gpio()
        self.gpio.setmode(self.gpio.BOARD)
        self._pins: dict[int, JetsonPin] = {}

    def pin(self, name: int | str) -> JetsonPin:
        """The one pin object for a BOARD number (``12`` or ``"BOARD12"``)."""
        number = _board_number(name)
        if number not in self._pins:
            self._pins[number] = JetsonPin(self, number)
        return self._pins[number]

    def ticks(self) -> float:
        """Monotonic seconds (what gpiozero compares event times with)."""
        return time.monotonic()

    def ticks_diff(self, later: float, earlier: float) -> float:
        """Seconds from ``earlier`` to ``later``."""
        return later - earlier

    def _get_board_info(self) -> _Header:
        return _Header()

    def close(self) -> None:
        """Release every line Jetson.GPIO set up."""
        for pin in self._pins.values():
            pin.close()
        self.gpio.cleanup()

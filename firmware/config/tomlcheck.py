"""Build frozen dataclasses from parsed TOML, rejecting unknown keys and bad values.

Why not pydantic: it needs a compiled core on every target and adds import time and RSS on a
Pi Zero; the config is small and flat enough for a checker that walks dataclass fields. Field
metadata drives the checks:

- ``min`` / ``max``: inclusive numeric bounds; a float must also be finite (TOML allows ``nan``
  and ``inf``, and ``score >= nan`` is false: a NaN threshold would match every face);
- ``pattern``: a regular expression a string must match in full;
- ``help``: one line shown by ``occur check-config --explain`` and in errors.

Every problem is collected with its dotted key (``storage.busy_timeout_ms``) so one run names
them all.
"""

from __future__ import annotations

import dataclasses
import math
import re
import types
import typing
from pathlib import Path
from typing import Any, TypeVar, Union

T = TypeVar("T")
Problems = list[tuple[str, str]]


def build(cls: type[T], raw: object, prefix: str, problems: Problems) -> T:
    """Return an instance of dataclass ``cls`` from a TOML table, appending problems.

    On problems the returned instance holds defaults for the offending fields; callers must
    check ``problems`` before using it.
    """
    if not isinstance(raw, dict):
        problems.append((prefix or "<root>", f"expected a table, got {_kind(raw)}"))
        raw = {}
    hints = typing.get_type_hints(cls)
    known = {f.name: f for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    for key in raw:
        if key not in known:
            problems.append((_join(prefix, key), f"unknown key (allowed: {', '.join(sorted(known))})"))
    values: dict[str, Any] = {}
    for name, field in known.items():
        if name not in raw:
            continue
        key = _join(prefix, name)
        value = _convert(hints[name], raw[name], key, field.metadata, problems)
        if value is not _INVALID:
            values[name] = value
    return cls(**values)


class _Invalid:
    pass


_INVALID = _Invalid()


def _convert(hint: Any, value: object, key: str, meta: typing.Mapping[str, Any], problems: Problems) -> Any:
    origin = typing.get_origin(hint)
    if origin in (Union, types.UnionType):
        options = [a for a in typing.get_args(hint) if a is not type(None)]
        if value is None:
            return None
        return _convert(options[0], value, key, meta, problems)
    if origin is typing.Literal:
        allowed = typing.get_args(hint)
        if value not in allowed:
            problems.append((key, f"must be one of {', '.join(repr(a) for a in allowed)}, got {value!r}"))
            return _INVALID
        return value
    if dataclasses.is_dataclass(hint):
        return build(typing.cast(type[Any], hint), value, key, problems)
    if origin is tuple:
        return _convert_tuple(hint, value, key, meta, problems)
    return _convert_scalar(hint, value, key, meta, problems)


def _convert_tuple(hint: Any, value: object, key: str, meta: typing.Mapping[str, Any], problems: Problems) -> Any:
    if not isinstance(value, list):
        problems.append((key, f"expected a list, got {_kind(value)}"))
        return _INVALID
    item_hint = typing.get_args(hint)[0]
    items = [_convert(item_hint, v, f"{key}[{i}]", meta, problems) for i, v in enumerate(value)]
    return _INVALID if any(i is _INVALID for i in items) else tuple(items)


def _convert_scalar(hint: Any, value: object, key: str, meta: typing.Mapping[str, Any], problems: Problems) -> Any:
    if hint is bool:
        if not isinstance(value, bool):
            problems.append((key, f"expected true or false, got {_kind(value)}"))
            return _INVALID
        return value
    if hint is int or hint is float:
        ok = isinstance(value, int) if hint is int else isinstance(value, (int, float))
        if isinstance(value, bool) or not ok:
            problems.append((key, f"expected {'an integer' if hint is int else 'a number'}, got {_kind(value)}"))
            return _INVALID
        number: float = int(typing.cast(int, value)) if hint is int else float(typing.cast(float, value))
        if not math.isfinite(number):
            problems.append((key, f"{value} is not a finite number"))
            return _INVALID
        if ("min" in meta and number < meta["min"]) or ("max" in meta and number > meta["max"]):
            problems.append((key, f"{number} is outside {meta.get('min', '-inf')}..{meta.get('max', 'inf')}"))
            return _INVALID
        return number
    if hint is str or hint is Path:
        if not isinstance(value, str):
            problems.append((key, f"expected a string, got {_kind(value)}"))
            return _INVALID
        pattern = meta.get("pattern")
        if pattern is not None and not re.fullmatch(pattern, value):
            problems.append((key, f"{value!r} does not match {pattern}"))
            return _INVALID
        if hint is Path:
            if not value or "\0" in value:
                problems.append((key, "expected a non-empty path"))
                return _INVALID
            return Path(value)
        return value
    raise TypeError(f"config field {key} has unsupported type {hint!r}")


def _join(prefix: str, key: str) -> str:
    return f"{prefix}.{key}" if prefix else str(key)


def _kind(value: object) -> str:
    if isinstance(value, dict):
        return "a table"
    if isinstance(value, list):
        return "a list"
    return f"{type(value).__name__} {value!r}"

"""Timestamps: one format everywhere.

The original system specifies "ISO format" timestamps. The firmware writes ISO 8601 in UTC with
an explicit offset and microseconds (``2026-11-25T02:26:31.123456+00:00``): the offset makes each
value unambiguous, and a fixed-width UTC form sorts as text, so ``timestamp >= ?`` filters can
use an index.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone, tzinfo


def now_utc() -> datetime:
    """Return the current time as an aware UTC datetime."""
    return datetime.now(UTC)


def to_iso(moment: datetime) -> str:
    """Format an aware datetime as fixed-width ISO 8601 in UTC.

    Raises:
        ValueError: ``moment`` is naive (no zone): its instant would be a guess.
    """
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"timestamp {moment!r} has no time zone")
    return moment.astimezone(UTC).isoformat(timespec="microseconds")


def now_iso() -> str:
    """Return the current UTC time in the stored format."""
    return to_iso(now_utc())


def parse_iso(text: str, assume: tzinfo | None = None) -> datetime:
    """Parse an ISO 8601 date or date-time given by a person or a legacy database.

    Args:
        text: ``2026-11-25``, ``2026-11-25T08:00``, ``2026-11-25 08:00:00+01:00``, ``...Z``.
        assume: zone for values without an offset; ``None`` makes such values an error.

    Raises:
        ValueError: unparseable, or naive with no ``assume`` zone.
    """
    cleaned = text.strip()
    if cleaned.endswith(("Z", "z")):
        cleaned = cleaned[:-1] + "+00:00"
    try:
        moment = datetime.fromisoformat(cleaned)
    except ValueError as err:
        raise ValueError(f"not an ISO 8601 timestamp: {text!r}") from err
    if moment.tzinfo is None:
        if assume is None:
            raise ValueError(f"timestamp {text!r} has no UTC offset (add +00:00 or Z)")
        moment = moment.replace(tzinfo=assume)
    return moment


def parse_zone(text: str) -> tzinfo:
    """Parse ``UTC``, ``local``, a fixed offset (``+01:00``) or an IANA name (``Europe/Paris``).

    Raises:
        ValueError: unknown zone (IANA names need the system's tzdata).
    """
    value = text.strip()
    if value.upper() in {"UTC", "Z"}:
        return UTC
    if value.lower() == "local":
        local = datetime.now().astimezone().tzinfo
        return local if local is not None else UTC
    if value[:1] in {"+", "-"}:
        sign = -1 if value[0] == "-" else 1
        hours, _, minutes = value[1:].partition(":")
        try:
            delta = timedelta(hours=int(hours), minutes=int(minutes or 0))
        except ValueError as err:
            raise ValueError(f"bad UTC offset {text!r}") from err
        return timezone(sign * delta)
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    try:
        return ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError) as err:
        raise ValueError(f"unknown time zone {text!r}") from err


def unix_iso(seconds: float) -> str:
    """Format Unix time (seconds) in the stored format."""
    return to_iso(datetime.fromtimestamp(seconds, UTC))

"""Wall-clock times in Kota's time zone (``KOTA_TIMEZONE``) turned into instants.

A staff member types "2027-03-28 03:30"; this module says which instant that is in the
configured zone, refuses a time the clocks skip (spring forward) and, for a time the clocks
show twice (autumn back), asks which one unless ``fold`` says so (PEP 495: 0 the first,
1 the second).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from server.errors import Unprocessable

# Zone changes are at whole minutes; no zone skips or repeats more than a day.
_MINUTE = timedelta(minutes=1)


def parse_wall_time(raw: str, field: str) -> datetime:
    """A wall time such as ``2027-03-28T03:30`` (seconds allowed) as a naive datetime;
    one with an offset is refused."""
    try:
        value = datetime.fromisoformat(raw)
    except ValueError:
        raise Unprocessable(
            "invalid_field", f"{field} must be a local time like 2027-03-28T10:30."
        ) from None
    if value.tzinfo is not None:
        raise Unprocessable(
            "invalid_field",
            f"{field} is a wall time in Kota's time zone, without an offset"
            " (use starts_at/ends_at for times with an offset).",
        )
    if not 2000 <= value.year < 2200:  # stored times sort as text: four-digit years only
        raise Unprocessable("invalid_field", f"{field} must be a time between 2000 and 2199.")
    return value.replace(microsecond=0)


def _offset_text(offset: timedelta | None) -> str:
    minutes = int((offset or timedelta(0)).total_seconds() // 60)
    sign = "+" if minutes >= 0 else "-"
    hours, rest = divmod(abs(minutes), 60)
    return f"{sign}{hours:02d}:{rest:02d}"


def _round_trips(value: datetime) -> bool:
    back = value.astimezone(UTC).astimezone(value.tzinfo)
    return back.replace(tzinfo=None) == value.replace(tzinfo=None, fold=0)


def _gap(wall: datetime, tz: ZoneInfo) -> tuple[datetime, datetime]:
    """The wall times the clocks jump from and to around the skipped ``wall``."""
    early = wall.replace(tzinfo=tz, fold=1).astimezone(UTC)  # read with the later offset
    late = wall.replace(tzinfo=tz, fold=0).astimezone(UTC)  # read with the earlier offset
    low, high = min(early, late), max(early, late)
    before = low.astimezone(tz).utcoffset()
    moment = low
    while moment < high and moment.astimezone(tz).utcoffset() == before:
        moment += _MINUTE
    jump_from = (moment - _MINUTE).astimezone(tz) + _MINUTE
    return jump_from.replace(tzinfo=None), moment.astimezone(tz).replace(tzinfo=None)


def _clock(value: datetime) -> str:
    return value.strftime("%H.%M")


def resolve(wall: datetime, tz: ZoneInfo, fold: int | None, field: str) -> datetime:
    """The instant (in ``tz``) the clocks in ``tz`` show as ``wall``.

    Raises 422 ``nonexistent_local_time`` for a skipped time and ``ambiguous_local_time``
    (with both choices) for a repeated one when ``fold`` is None.
    """
    first = wall.replace(tzinfo=tz, fold=0)
    second = wall.replace(tzinfo=tz, fold=1)
    if not _round_trips(first):
        jump_from, jump_to = _gap(wall, tz)
        raise Unprocessable(
            "nonexistent_local_time",
            f"There is no {_clock(wall)} on {wall.date().isoformat()} in {tz.key}: the clocks"
            f" jump from {_clock(jump_from)} to {_clock(jump_to)} that night.",
            field=field,
            local=wall.isoformat(timespec="minutes"),
            jumps_from=jump_from.isoformat(timespec="minutes"),
            jumps_to=jump_to.isoformat(timespec="minutes"),
            timezone=tz.key,
        )
    if first.utcoffset() == second.utcoffset():
        return first
    if fold is None:
        raise Unprocessable(
            "ambiguous_local_time",
            f"{_clock(wall)} on {wall.date().isoformat()} happens twice in {tz.key}, because"
            " the clocks go back that night. Say which one with fold (0 the first, 1 the second).",
            field=field,
            local=wall.isoformat(timespec="minutes"),
            timezone=tz.key,
            choices=[_choice(first), _choice(second)],
        )
    return second if fold else first


def _choice(value: datetime) -> dict[str, Any]:
    return {
        "fold": value.fold,
        "utc_offset": _offset_text(value.utcoffset()),
        "summer_time": bool(value.dst()),
        "at": value.astimezone(UTC).astimezone(value.tzinfo).isoformat(),
    }

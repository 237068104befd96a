"""Whether a contact line is open now, until when, and when it opens next. Pure: no I/O, no
clock.

Hours are wall times in KOTA_TIMEZONE, one or more openings per weekday; closures are
whole days in that zone (both ends included). On a DST night the wall clock is taken at
its word: an opening or closing time the clocks skip happens when they jump (an opening
at 03:30 on the spring night opens at 04:00 summer time), and one the clocks show twice
opens at the first and closes at the second of the two instants, so the line is open for
every minute the clock on the wall shows inside its hours. Openings that touch (09-12 and
12-16) are one stretch: ``closes_at`` is the end of the whole stretch.

The hours and closures are read through their attributes only (``server.records``'
``LineHours`` and ``LineClosure`` fit), so this module needs nothing else of the server.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Final, Protocol
from zoneinfo import ZoneInfo

# How far ahead ``opens_at`` looks.
LOOKAHEAD: Final = timedelta(days=14)


class Opening(Protocol):
    """One opening on one weekday (0 = Monday): ``server.records.LineHours``."""

    @property
    def weekday(self) -> int: ...
    @property
    def opens(self) -> time: ...
    @property
    def closes(self) -> time: ...


class Closure(Protocol):
    """Whole days the line stays closed: ``server.records.LineClosure``."""

    @property
    def starts_on(self) -> date: ...
    @property
    def ends_on(self) -> date: ...


@dataclass(frozen=True)
class HoursNow:
    open: bool
    closes_at: datetime | None  # while open: the end of the current stretch (UTC)
    opens_at: datetime | None  # while closed: the next opening within 14 days (UTC)


def hours_now(hours: Sequence[Opening], closures: Sequence[Closure], zone: ZoneInfo,
              now: datetime) -> HoursNow:
    """Open or closed at ``now`` (aware), with the end of the stretch or the next opening."""
    if now.tzinfo is None:
        raise ValueError("now must be an aware datetime")
    now = now.astimezone(UTC)
    today = now.astimezone(zone).date()
    # From yesterday: no opening crosses midnight, but a wall day and a UTC day differ.
    stretches = openings(hours, closures, zone, today - timedelta(days=1),
                         today + LOOKAHEAD + timedelta(days=1))
    for start, end in stretches:
        if start <= now < end:
            return HoursNow(open=True, closes_at=end, opens_at=None)
    upcoming = (start for start, _ in stretches if now < start <= now + LOOKAHEAD)
    return HoursNow(open=False, closes_at=None, opens_at=next(upcoming, None))


def openings(hours: Sequence[Opening], closures: Sequence[Closure], zone: ZoneInfo,
             first_day: date, last_day: date) -> list[tuple[datetime, datetime]]:
    """The line's open stretches on the wall days ``first_day``..``last_day`` (both
    included), as UTC instants in time order, touching or overlapping openings merged."""
    found = sorted(
        (start, end)
        for day in _days(first_day, last_day)
        if not any(c.starts_on <= day <= c.ends_on for c in closures)
        for h in hours if h.weekday == day.weekday()
        for start, end in [(_opens(day, h.opens, zone), _closes(day, h.closes, zone))]
        if start < end
    )
    merged: list[tuple[datetime, datetime]] = []
    for start, end in found:
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
        else:
            merged.append((start, end))
    return merged


def _days(first: date, last: date) -> Iterator[date]:
    day = first
    while day <= last:
        yield day
        day += timedelta(days=1)


def _opens(day: date, wall: time, zone: ZoneInfo) -> datetime:
    """The first instant the clocks show ``wall`` on ``day``, or, if they skip it, the
    instant they jump over it."""
    local = datetime.combine(day, wall, zone)
    return _skipped_at(local, zone) or local.replace(fold=0).astimezone(UTC)


def _closes(day: date, wall: time, zone: ZoneInfo) -> datetime:
    """The last instant the clocks show ``wall`` on ``day``, or, if they skip it, the
    instant they jump over it."""
    local = datetime.combine(day, wall, zone)
    return _skipped_at(local, zone) or local.replace(fold=1).astimezone(UTC)


def _skipped_at(local: datetime, zone: ZoneInfo) -> datetime | None:
    """None when the clocks show ``local``; else the instant they jump over it.

    Read either way, a skipped wall time gives one instant before the jump and one after
    (zoneinfo's two folds); the jump lies between, found by halving to the second.
    """
    naive = local.replace(tzinfo=None)
    early, late = sorted(local.replace(fold=f).astimezone(UTC) for f in (0, 1))
    if early.astimezone(zone).replace(tzinfo=None) == naive:
        return None
    if late.astimezone(zone).replace(tzinfo=None) == naive:
        return None
    # Invariant: the clocks show less than ``naive`` at ``early``, more at ``late``.
    while late - early > timedelta(seconds=1):
        middle = early + (late - early) / 2
        if middle.astimezone(zone).replace(tzinfo=None) < naive:
            early = middle
        else:
            late = middle
    return late.replace(microsecond=0)

"""Free booking slots from weekly hours, closures and busy time. Pure: no I/O, no clock.

Hours are wall times in KOTA_TIMEZONE. Each opening (one professional, one weekday, opens
to closes) is cut into a grid from its opening time: a slot every ``slot + buffer``
minutes, so two neighbouring bookings keep the buffer between them. On a DST night a wall
time the clocks skip gives no slot, and a wall time they show twice gives one slot, at the
first of the two instants. A professional is free for a slot when it lies inside their
hours, outside every closure that covers them, and at least ``buffer`` away from their
busy time; a time is offered when any professional of the service is free then.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from server.records import Service, ServiceClosure, ServiceHours


@dataclass(frozen=True)
class SlotRules:
    slot: timedelta
    buffer: timedelta
    notice: timedelta
    horizon: timedelta
    max_per_day: int

    @classmethod
    def of(cls, service: Service) -> SlotRules:
        return cls(
            slot=timedelta(minutes=service.slot_minutes),
            buffer=timedelta(minutes=service.buffer_minutes),
            notice=timedelta(minutes=service.notice_minutes),
            horizon=timedelta(days=service.horizon_days),
            max_per_day=service.max_per_day,
        )

    @property
    def step(self) -> timedelta:
        return self.slot + self.buffer


@dataclass(frozen=True)
class Busy:
    """Time a professional is taken: an appointment or a held booking."""

    staff_id: int
    starts_at: datetime
    ends_at: datetime


@dataclass(frozen=True)
class Slot:
    starts_at: datetime
    ends_at: datetime
    staff_ids: tuple[int, ...]  # the professionals free then, lowest id first


def wall_clock(text: str) -> time:
    """'HH:MM' as a time; ValueError for anything else."""
    if len(text) != 5 or text[2] != ":" or not (text[:2] + text[3:]).isdigit():
        raise ValueError(f"not a time like 09:00: {text!r}")
    return time(int(text[:2]), int(text[3:]))


def _instant(day: date, wall: time, tz: ZoneInfo) -> datetime | None:
    """The first instant the clocks in ``tz`` show ``wall`` on ``day``; None if skipped."""
    local = datetime.combine(day, wall, tz)
    back = local.astimezone(UTC).astimezone(tz)
    if back.replace(tzinfo=None) != local.replace(tzinfo=None):
        return None
    return local.replace(fold=0).astimezone(UTC)


def _local_wall(moment: datetime, tz: ZoneInfo) -> tuple[date, time]:
    local = moment.astimezone(tz)
    return local.date(), local.time().replace(tzinfo=None)


def _inside(starts_at: datetime, ends_at: datetime, day: date, opens: time, closes: time,
            tz: ZoneInfo) -> bool:
    """The slot lies between the first instant showing ``opens`` and the last showing
    ``closes``, and its start and end both show wall times of ``day`` in [opens, closes]."""
    first = datetime.combine(day, opens, tz).replace(fold=0).astimezone(UTC)
    last = datetime.combine(day, closes, tz).replace(fold=1).astimezone(UTC)
    start_day, start_wall = _local_wall(starts_at, tz)
    end_day, end_wall = _local_wall(ends_at, tz)
    return (first <= starts_at and ends_at <= last and start_day == day and end_day == day
            and opens <= start_wall <= closes and opens <= end_wall <= closes)


def opening_slots(hours: ServiceHours, day: date, rules: SlotRules,
                  tz: ZoneInfo) -> list[tuple[datetime, datetime]]:
    """The grid of one opening on one day, as UTC instants."""
    if day.weekday() != hours.weekday:
        return []
    opens, closes = wall_clock(hours.opens), wall_clock(hours.closes)
    found = []
    step_minutes = int(rules.step.total_seconds() // 60)
    minute = opens.hour * 60 + opens.minute
    last = closes.hour * 60 + closes.minute
    slot_minutes = int(rules.slot.total_seconds() // 60)
    midnight = datetime.combine(day, time.min, tz)
    if midnight.utcoffset() == (midnight + timedelta(days=1)).astimezone(tz).utcoffset():
        # No change of the clocks that day: the grid is plain arithmetic in UTC.
        first = datetime.combine(day, opens, tz).astimezone(UTC)
        count = (last - minute - slot_minutes) // step_minutes + 1
        return [(first + k * rules.step, first + k * rules.step + rules.slot)
                for k in range(max(count, 0))]
    while minute + slot_minutes <= last:
        start = _instant(day, time(minute // 60, minute % 60), tz)
        if start is not None:
            end = start + rules.slot
            if _inside(start, end, day, opens, closes, tz):
                found.append((start, end))
        minute += step_minutes
    return found


class _Timeline:
    """One professional's busy intervals, searchable by time (a day may hold hundreds)."""

    def __init__(self) -> None:
        self._intervals: list[tuple[datetime, datetime]] = []
        self._starts: list[datetime] = []
        self._longest = timedelta(0)
        self._sorted = True

    def add(self, starts_at: datetime, ends_at: datetime) -> None:
        self._intervals.append((starts_at, ends_at))
        self._longest = max(self._longest, ends_at - starts_at)
        self._sorted = False

    def overlaps(self, starts_at: datetime, ends_at: datetime) -> bool:
        if not self._sorted:
            self._intervals.sort()
            self._starts = [a for a, _ in self._intervals]
            self._sorted = True
        low = bisect.bisect_left(self._starts, starts_at - self._longest)
        high = bisect.bisect_left(self._starts, ends_at)
        return any(b_end > starts_at for _, b_end in self._intervals[low:high])


def _overlaps(a_start: datetime, a_end: datetime, b_start: datetime, b_end: datetime) -> bool:
    return a_start < b_end and b_start < a_end


def free_slots(
    *,
    rules: SlotRules,
    hours: Iterable[ServiceHours],
    closures: Iterable[ServiceClosure],
    busy: Iterable[Busy],
    booked: Iterable[tuple[int, datetime]],
    now: datetime,
    first_day: date,
    days: int,
    tz: ZoneInfo,
) -> list[Slot]:
    """Free slots on ``days`` local days from ``first_day``, earliest first.

    ``booked``: (professional, start) of the service's live bookings, counted per local
    day against ``max_per_day``.
    """
    hours = list(hours)
    closures = list(closures)
    busy_by: dict[int, _Timeline] = {}
    for item in busy:
        busy_by.setdefault(item.staff_id, _Timeline()).add(item.starts_at, item.ends_at)
    per_day: dict[tuple[int, date], int] = {}
    for staff_id, starts_at in booked:
        key = (staff_id, starts_at.astimezone(tz).date())
        per_day[key] = per_day.get(key, 0) + 1
    earliest = now + rules.notice
    latest = now + rules.horizon
    free: dict[tuple[datetime, datetime], set[int]] = {}
    for offset in range(days):
        day = first_day + timedelta(days=offset)
        for opening in hours:
            if per_day.get((opening.staff_id, day), 0) >= rules.max_per_day:
                continue
            for start, end in opening_slots(opening, day, rules, tz):
                if start < earliest or start >= latest:
                    continue
                if any(
                    (c.staff_id is None or c.staff_id == opening.staff_id)
                    and _overlaps(start, end, c.starts_at, c.ends_at)
                    for c in closures
                ):
                    continue
                timeline = busy_by.get(opening.staff_id)
                if timeline is not None and timeline.overlaps(start - rules.buffer,
                                                              end + rules.buffer):
                    continue
                free.setdefault((start, end), set()).add(opening.staff_id)
    return [Slot(start, end, tuple(sorted(ids))) for (start, end), ids in sorted(free.items())]


def pick_professional(slot: Slot, booked: Iterable[tuple[int, datetime]], tz: ZoneInfo) -> int:
    """Of those free for ``slot``, the one with the fewest bookings that day (then the
    fewest overall in what ``booked`` holds, then the lowest id), to spread the load."""
    day = slot.starts_at.astimezone(tz).date()
    on_day: Mapping[int, int] = {}
    overall: dict[int, int] = {}
    counts: dict[int, int] = {}
    for staff_id, starts_at in booked:
        overall[staff_id] = overall.get(staff_id, 0) + 1
        if starts_at.astimezone(tz).date() == day:
            counts[staff_id] = counts.get(staff_id, 0) + 1
    on_day = counts
    return min(slot.staff_ids, key=lambda s: (on_day.get(s, 0), overall.get(s, 0), s))


def day_window(first_day: date, days: int, tz: ZoneInfo) -> tuple[datetime, datetime]:
    """Local midnight of ``first_day`` to local midnight after the last day, in UTC."""
    start = datetime.combine(first_day, time.min, tz).astimezone(UTC)
    end = datetime.combine(first_day + timedelta(days=days), time.min, tz).astimezone(UTC)
    return start, end

"""server/booking_slots.py: free slots from hours, closures and busy time. Pure, so the
tests pass times in; hypothesis checks the rules on random weeks, DST nights included."""

from __future__ import annotations

import itertools
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from hypothesis import given, settings
from hypothesis import strategies as st

from server.booking_slots import (
    Busy,
    Slot,
    SlotRules,
    free_slots,
    pick_professional,
    wall_clock,
)
from server.records import ServiceClosure, ServiceHours

TZ = ZoneInfo("Europe/Helsinki")
SPRING = date(2027, 3, 28)  # 03:00 -> 04:00: 03:xx does not exist
AUTUMN = date(2027, 10, 31)  # 04:00 -> 03:00: 03:xx happens twice


def rules(slot: int = 30, buffer: int = 0, notice: int = 0, horizon: int = 2000,
          per_day: int = 100) -> SlotRules:
    return SlotRules(timedelta(minutes=slot), timedelta(minutes=buffer),
                     timedelta(minutes=notice), timedelta(days=horizon), per_day)


def at(day: date, hour: int, minute: int = 0, fold: int = 0) -> datetime:
    return datetime.combine(day, time(hour, minute), TZ).replace(fold=fold)


def slots(hours: list[ServiceHours], first_day: date, days: int = 1, *,
          r: SlotRules | None = None, closures: list[ServiceClosure] | None = None,
          busy: list[Busy] | None = None, booked: list[tuple[int, datetime]] | None = None,
          now: datetime | None = None) -> list[Slot]:
    return free_slots(rules=r or rules(), hours=hours, closures=closures or [],
                      busy=busy or [], booked=booked or [],
                      now=now or datetime(2026, 1, 1, tzinfo=UTC), first_day=first_day,
                      days=days, tz=TZ)


def starts(found: list[Slot]) -> list[str]:
    return [s.starts_at.astimezone(TZ).strftime("%H:%M") for s in found]


def test_a_day_is_cut_into_slots_with_the_buffer_between() -> None:
    day = date(2027, 1, 4)  # a Monday
    hours = [ServiceHours(1, 0, "09:00", "12:00")]
    assert starts(slots(hours, day, r=rules(slot=45, buffer=15))) == ["09:00", "10:00", "11:00"]
    assert starts(slots(hours, day + timedelta(days=1))) == []  # Tuesday: no hours


def test_the_skipped_hour_of_spring_has_no_slots() -> None:
    hours = [ServiceHours(1, SPRING.weekday(), "02:00", "05:00")]
    found = slots(hours, SPRING, r=rules(slot=30))
    assert "03:00" not in starts(found) and "03:30" not in starts(found)
    assert starts(found) == ["02:00", "02:30", "04:00", "04:30"]
    for slot in found:
        assert slot.ends_at - slot.starts_at == timedelta(minutes=30)


def test_the_repeated_hour_of_autumn_has_no_double_slots() -> None:
    hours = [ServiceHours(1, AUTUMN.weekday(), "02:00", "05:00")]
    found = slots(hours, AUTUMN, r=rules(slot=30))
    assert starts(found) == ["02:00", "02:30", "03:00", "03:30", "04:00", "04:30"]
    instants = [s.starts_at for s in found]
    assert len(set(instants)) == len(instants)
    for a, b in itertools.pairwise(found):
        assert a.ends_at <= b.starts_at


def test_several_professionals_share_a_time_and_the_least_booked_gets_it() -> None:
    day = date(2027, 1, 4)
    hours = [ServiceHours(1, 0, "09:00", "10:00"), ServiceHours(2, 0, "09:00", "10:00")]
    found = slots(hours, day)
    assert [s.staff_ids for s in found] == [(1, 2), (1, 2)]
    booked = [(1, at(day, 12))]
    assert pick_professional(found[0], booked, TZ) == 2
    assert pick_professional(found[0], [], TZ) == 1
    busy = [Busy(2, at(day, 9), at(day, 9, 30))]
    assert [s.staff_ids for s in slots(hours, day, busy=busy)] == [(1,), (1, 2)]


def test_closures_notice_horizon_and_the_day_limit() -> None:
    day = date(2027, 1, 4)
    hours = [ServiceHours(1, 0, "09:00", "12:00")]
    closure = ServiceClosure(1, 1, None, at(day, 10), at(day, 11), "")
    assert starts(slots(hours, day, closures=[closure])) == ["09:00", "09:30", "11:00", "11:30"]
    assert starts(slots(hours, day, r=rules(notice=60), now=at(day, 9, 10))) == [
        "10:30", "11:00", "11:30"]
    a_day_before = at(day, 10) - timedelta(days=1)
    assert starts(slots(hours, day, r=rules(horizon=1), now=a_day_before)) == ["09:00", "09:30"]
    booked = [(1, at(day, 9)), (1, at(day, 10))]
    assert slots(hours, day, r=rules(per_day=2), booked=booked) == []


def test_wall_clock_refuses_other_text() -> None:
    assert wall_clock("09:30") == time(9, 30)
    for bad in ("9:30", "0930", "ab:cd", "09:3x"):
        try:
            wall_clock(bad)
        except ValueError:
            continue
        raise AssertionError(bad)


# -- properties -------------------------------------------------------------------

clock_minutes = st.integers(0, 23 * 60 + 59)


@st.composite
def openings(draw: st.DrawFn) -> list[ServiceHours]:
    found = []
    for staff_id in range(1, draw(st.integers(1, 3)) + 1):
        for weekday in draw(st.sets(st.integers(0, 6), max_size=7)):
            a, b = sorted(draw(st.lists(clock_minutes, min_size=2, max_size=2, unique=True)))
            found.append(ServiceHours(staff_id, weekday, f"{a // 60:02d}:{a % 60:02d}",
                                      f"{b // 60:02d}:{b % 60:02d}"))
    return found


first_days = st.sampled_from([date(2027, 1, 4), SPRING - timedelta(days=2),
                              AUTUMN - timedelta(days=2), date(2027, 6, 30)])


@st.composite
def intervals(draw: st.DrawFn, first_day: date) -> tuple[datetime, datetime]:
    base = datetime.combine(first_day, time(0), TZ).astimezone(UTC)
    start = base + timedelta(minutes=draw(st.integers(0, 5 * 24 * 60)))
    return start, start + timedelta(minutes=draw(st.integers(1, 8 * 60)))


@settings(max_examples=150)
@given(data=st.data(), hours=openings(), first_day=first_days,
       slot=st.sampled_from([10, 15, 30, 45, 60, 90]), buffer=st.sampled_from([0, 5, 15, 30]),
       notice=st.integers(0, 3000), horizon=st.integers(1, 6), per_day=st.integers(1, 6))
def test_no_slot_breaks_a_rule(data: st.DataObject, hours: list[ServiceHours],
                               first_day: date, slot: int, buffer: int, notice: int,
                               horizon: int, per_day: int) -> None:
    closures = [ServiceClosure(n, 1, data.draw(st.sampled_from([None, 1, 2])), *iv, "")
                for n, iv in enumerate(data.draw(st.lists(intervals(first_day), max_size=3)))]
    busy = [Busy(data.draw(st.integers(1, 3)), *iv)
            for iv in data.draw(st.lists(intervals(first_day), max_size=4))]
    now = datetime.combine(first_day, time(0), TZ).astimezone(UTC) + timedelta(
        minutes=data.draw(st.integers(0, 2 * 24 * 60)))
    r = rules(slot, buffer, notice, horizon, per_day)
    found = slots(hours, first_day, 5, r=r, closures=closures, busy=busy, now=now)
    for s in found:
        assert s.ends_at - s.starts_at == r.slot
        assert now + r.notice <= s.starts_at < now + r.horizon
        local_start, local_end = s.starts_at.astimezone(TZ), s.ends_at.astimezone(TZ)
        assert local_start.fold == 0 or local_start.utcoffset() == (
            local_start.replace(fold=0).utcoffset())  # never the second of a repeated time
        for staff_id in s.staff_ids:
            mine = [h for h in hours if h.staff_id == staff_id
                    and h.weekday == local_start.weekday()]
            inside = [
                h for h in mine
                if wall_clock(h.opens) <= local_start.time() and local_end.date()
                == local_start.date() and local_end.time() <= wall_clock(h.closes)
                and _on_grid(local_start, h, r)
            ]
            assert inside, (s, mine)
            for c in closures:
                if c.staff_id in (None, staff_id):
                    assert not (s.starts_at < c.ends_at and c.starts_at < s.ends_at)
            for b in busy:
                if b.staff_id == staff_id:
                    assert not (s.starts_at - r.buffer < b.ends_at
                                and b.starts_at < s.ends_at + r.buffer)
    instants = [s.starts_at for s in found]
    assert instants == sorted(set(instants))


def _on_grid(local_start: datetime, h: ServiceHours, r: SlotRules) -> bool:
    opens = wall_clock(h.opens)
    minutes = (local_start.hour * 60 + local_start.minute) - (opens.hour * 60 + opens.minute)
    return minutes % int(r.step.total_seconds() // 60) == 0


@settings(max_examples=60)
@given(hours=openings(), first_day=first_days, per_day=st.integers(1, 4),
       picks=st.lists(st.integers(0, 10_000), max_size=40))
def test_booking_slot_after_slot_never_passes_the_day_limit(
        hours: list[ServiceHours], first_day: date, per_day: int, picks: list[int]) -> None:
    """Book whatever is offered, again and again: no professional passes max_per_day on
    a day, and no two bookings of one professional overlap."""
    r = rules(slot=30, buffer=10, per_day=per_day)
    booked: list[tuple[int, datetime]] = []
    busy: list[Busy] = []
    for pick in picks:
        found = slots(hours, first_day, 3, r=r, busy=busy, booked=booked)
        if not found:
            break
        chosen = found[pick % len(found)]
        staff_id = pick_professional(chosen, booked, TZ)
        assert staff_id in chosen.staff_ids
        booked.append((staff_id, chosen.starts_at))
        busy.append(Busy(staff_id, chosen.starts_at, chosen.ends_at))
    per: dict[tuple[int, date], int] = {}
    for staff_id, starts_at in booked:
        key = (staff_id, starts_at.astimezone(TZ).date())
        per[key] = per.get(key, 0) + 1
    assert all(n <= per_day for n in per.values()), per
    for a in busy:
        for b in busy:
            if a is not b and a.staff_id == b.staff_id:
                assert not (a.starts_at < b.ends_at and b.starts_at < a.ends_at)

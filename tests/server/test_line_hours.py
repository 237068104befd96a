"""server/line_hours.py: open now, until when, when next — DST nights, closures, stretches
over several days, the 14-day look-ahead. Pure: times are passed in; hypothesis checks the
answers agree with each other at random instants, DST nights included."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from server.line_hours import HoursNow, hours_now, openings

TZ = ZoneInfo("Europe/Helsinki")
AUTUMN = date(2026, 10, 25)  # a Sunday: 04:00 summer time -> 03:00: 03:xx happens twice
SPRING = date(2027, 3, 28)  # a Sunday: 03:00 -> 04:00 summer time: 03:xx never happens
MONDAY = date(2026, 11, 2)


@dataclass(frozen=True)
class Hours:  # the attributes of server.records.LineHours
    weekday: int
    opens: time
    closes: time


@dataclass(frozen=True)
class Closed:  # the attributes of server.records.LineClosure
    starts_on: date
    ends_on: date
    note: str = ""


def hours(weekday: int, opens: str, closes: str) -> Hours:
    return Hours(weekday, time.fromisoformat(opens), time.fromisoformat(closes))


def local(day: date, wall: str, fold: int = 0) -> datetime:
    return datetime.combine(day, time.fromisoformat(wall), TZ).replace(fold=fold)


def utc(day: date, wall: str) -> datetime:
    return datetime.combine(day, time.fromisoformat(wall), UTC)


WEEKDAYS = [hours(d, "09:00", "16:00") for d in range(5)]


def test_open_in_the_hours_until_their_end() -> None:
    now = hours_now(WEEKDAYS, [], TZ, local(MONDAY, "10:30"))
    assert now == HoursNow(open=True, closes_at=utc(MONDAY, "14:00"), opens_at=None)


def test_before_opening_says_when() -> None:
    now = hours_now(WEEKDAYS, [], TZ, local(MONDAY, "08:59"))
    assert now == HoursNow(open=False, closes_at=None, opens_at=utc(MONDAY, "07:00"))


def test_opening_and_closing_instants() -> None:
    assert hours_now(WEEKDAYS, [], TZ, local(MONDAY, "09:00")).open
    at_close = hours_now(WEEKDAYS, [], TZ, local(MONDAY, "16:00"))
    assert not at_close.open
    assert at_close.opens_at == local(MONDAY + timedelta(days=1), "09:00")


def test_after_friday_it_opens_on_monday() -> None:
    friday = MONDAY + timedelta(days=4)
    now = hours_now(WEEKDAYS, [], TZ, local(friday, "17:00"))
    assert now.opens_at == local(MONDAY + timedelta(days=7), "09:00")


def test_the_answer_is_in_utc_whatever_the_zone_of_now() -> None:
    now = hours_now(WEEKDAYS, [], TZ, local(MONDAY, "10:30"))
    assert now.closes_at is not None and now.closes_at.tzinfo is UTC


def test_naive_now_is_refused() -> None:
    with pytest.raises(ValueError, match="aware"):
        hours_now(WEEKDAYS, [], TZ, datetime(2026, 11, 2, 10, 0))


def test_a_closure_closes_whole_days_and_moves_the_next_opening() -> None:
    closures = [Closed(MONDAY, MONDAY + timedelta(days=2), "staff training")]
    now = hours_now(WEEKDAYS, closures, TZ, local(MONDAY, "10:30"))
    assert now == HoursNow(open=False, closes_at=None,
                           opens_at=local(MONDAY + timedelta(days=3), "09:00"))


def test_closure_days_are_wall_days_in_the_zone() -> None:
    """An opening late in the evening belongs to its wall day, not its UTC day."""
    late = [hours(MONDAY.weekday(), "22:00", "23:30")]
    closures = [Closed(MONDAY, MONDAY)]
    assert not hours_now(late, closures, TZ, local(MONDAY, "22:30")).open
    assert hours_now(late, [], TZ, local(MONDAY, "23:15")).open  # 21:15 UTC


def test_touching_openings_are_one_stretch() -> None:
    split = [hours(0, "09:00", "12:00"), hours(0, "12:00", "16:00"), hours(0, "17:00", "18:00")]
    now = hours_now(split, [], TZ, local(MONDAY, "11:00"))
    assert now.closes_at == local(MONDAY, "16:00")
    gap = hours_now(split, [], TZ, local(MONDAY, "16:30"))
    assert gap.opens_at == local(MONDAY, "17:00")


def test_a_stretch_open_every_day_over_several_days() -> None:
    """Openings on several days are separate stretches, each with its own closing."""
    daily = [hours(d, "08:00", "20:00") for d in range(7)]
    found = openings(daily, [], TZ, MONDAY, MONDAY + timedelta(days=2))
    assert [(s.astimezone(TZ).strftime("%a %H:%M"), e.astimezone(TZ).strftime("%H:%M"))
            for s, e in found] == [("Mon 08:00", "20:00"), ("Tue 08:00", "20:00"),
                                   ("Wed 08:00", "20:00")]
    assert hours_now(daily, [], TZ, local(MONDAY, "21:00")).opens_at == local(
        MONDAY + timedelta(days=1), "08:00")


def test_opens_at_looks_14_days_ahead() -> None:
    long = [Closed(MONDAY, MONDAY + timedelta(days=30))]
    assert hours_now(WEEKDAYS, long, TZ, local(MONDAY, "10:00")).opens_at is None
    assert hours_now([], [], TZ, local(MONDAY, "10:00")) == HoursNow(False, None, None)
    # Exactly 14 days ahead is still said; a minute more is not.
    two_weeks = MONDAY + timedelta(days=14)
    until = [Closed(MONDAY, two_weeks - timedelta(days=1))]
    assert hours_now(WEEKDAYS, until, TZ, local(MONDAY, "09:00")).opens_at == local(
        two_weeks, "09:00")
    assert hours_now(WEEKDAYS, until, TZ, local(MONDAY, "08:59")).opens_at is None


# --- DST nights ------------------------------------------------------------------------------

def test_the_autumn_night_is_one_hour_longer() -> None:
    night = [hours(AUTUMN.weekday(), "02:00", "05:00")]
    [(start, end)] = openings(night, [], TZ, AUTUMN, AUTUMN)
    assert (start, end) == (utc(AUTUMN, "23:00") - timedelta(days=1), utc(AUTUMN, "03:00"))
    assert end - start == timedelta(hours=4)
    # 03:30 comes twice; the line is open both times.
    assert hours_now(night, [], TZ, local(AUTUMN, "03:30", fold=0)).open
    assert hours_now(night, [], TZ, local(AUTUMN, "03:30", fold=1)).open


def test_a_repeated_wall_time_opens_at_the_first_and_closes_at_the_second() -> None:
    short = [hours(AUTUMN.weekday(), "03:15", "03:45")]
    [(start, end)] = openings(short, [], TZ, AUTUMN, AUTUMN)
    assert (start, end) == (utc(AUTUMN, "00:15"), utc(AUTUMN, "01:45"))
    now = hours_now(short, [], TZ, local(AUTUMN, "03:50", fold=0))  # between the two
    assert now == HoursNow(open=True, closes_at=utc(AUTUMN, "01:45"), opens_at=None)


def test_the_spring_night_is_one_hour_shorter() -> None:
    night = [hours(SPRING.weekday(), "02:00", "05:00")]
    [(start, end)] = openings(night, [], TZ, SPRING, SPRING)
    assert (start, end) == (utc(SPRING, "00:00"), utc(SPRING, "02:00"))
    assert end - start == timedelta(hours=2)


def test_a_skipped_opening_time_opens_when_the_clocks_jump() -> None:
    skipped = [hours(SPRING.weekday(), "03:30", "06:00")]
    before = hours_now(skipped, [], TZ, local(SPRING, "02:59"))
    assert before.opens_at == utc(SPRING, "01:00")  # 04:00 summer time
    assert hours_now(skipped, [], TZ, utc(SPRING, "01:00")).open


def test_a_skipped_closing_time_closes_when_the_clocks_jump() -> None:
    skipped = [hours(SPRING.weekday(), "02:00", "03:30")]
    now = hours_now(skipped, [], TZ, local(SPRING, "02:30"))
    assert now.closes_at == utc(SPRING, "01:00")
    assert not hours_now(skipped, [], TZ, utc(SPRING, "01:00")).open


def test_an_opening_inside_the_skipped_hour_never_happens() -> None:
    gone = [hours(SPRING.weekday(), "03:10", "03:50")]
    assert openings(gone, [], TZ, SPRING, SPRING) == []
    assert hours_now(gone, [], TZ, local(SPRING, "02:00")).opens_at == local(
        SPRING + timedelta(days=7), "03:10")


def test_ordinary_hours_on_dst_days_keep_their_wall_times() -> None:
    for day in (AUTUMN, SPRING):
        sunday = [hours(day.weekday(), "10:00", "14:00")]
        now = hours_now(sunday, [], TZ, local(day, "11:00"))
        assert now.closes_at == local(day, "14:00")


# --- the answers agree with each other at random instants ------------------------------------

HOURS = st.lists(
    st.builds(lambda d, o, length: Hours(d, time(o // 60, o % 60),
                                          time((o + length) // 60, (o + length) % 60)),
              st.integers(0, 6), st.integers(0, 22 * 60), st.integers(1, 120)),
    max_size=6)
CLOSURES = st.lists(st.builds(lambda d, n: Closed(d, d + timedelta(days=n)),
                              st.dates(date(2026, 10, 10), date(2026, 11, 10)),
                              st.integers(0, 5)), max_size=2)
# Instants around the autumn night of 2026 and the spring night of 2027.
NOW = st.one_of(
    st.datetimes(datetime(2026, 10, 15), datetime(2026, 11, 5), timezones=st.just(UTC)),
    st.datetimes(datetime(2027, 3, 20), datetime(2027, 4, 5), timezones=st.just(UTC)),
)


@settings(max_examples=150, deadline=None)
@given(HOURS, CLOSURES, NOW)
def test_closes_at_and_opens_at_are_the_edges(hours_: list[Hours], closures: list[Closed],
                                              now: datetime) -> None:
    said = hours_now(hours_, closures, TZ, now)
    second = timedelta(seconds=1)
    if said.open:
        assert said.closes_at is not None and said.opens_at is None and said.closes_at > now
        assert hours_now(hours_, closures, TZ, said.closes_at - second).open
        assert not hours_now(hours_, closures, TZ, said.closes_at).open
    else:
        assert said.closes_at is None
        if said.opens_at is not None:
            assert now < said.opens_at <= now + timedelta(days=14)
            assert hours_now(hours_, closures, TZ, said.opens_at).open
            assert not hours_now(hours_, closures, TZ, said.opens_at - second).open
    # Outside DST nights the wall clock says it all.
    wall = now.astimezone(TZ)
    if wall.utcoffset() == (wall - timedelta(hours=3)).utcoffset() == (
            wall + timedelta(hours=3)).utcoffset():
        expected = any(
            h.weekday == wall.weekday() and h.opens <= wall.time().replace(tzinfo=None) < h.closes
            for h in hours_) and not any(c.starts_on <= wall.date() <= c.ends_on
                                         for c in closures)
        assert said.open is expected

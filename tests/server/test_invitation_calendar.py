"""The invitation's .ics, parsed back with icalendar as a calendar program would."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st
from icalendar import Calendar

from server.invitation_calendar import CalendarInvite, Method, calendar_file

HELSINKI = ZoneInfo("Europe/Helsinki")
STAMP = datetime(2026, 12, 4, 8, 0, tzinfo=UTC)


def _invite(starts_at: datetime, sequence: int = 0, minutes: int = 45) -> CalendarInvite:
    return CalendarInvite(
        appointment_id=17,
        participant_id=42,
        starts_at=starts_at,
        ends_at=starts_at + timedelta(minutes=minutes),
        summary="Etätapaaminen, Sanna",
        description="Liity tapaamiseen tästä linkistä: https://kota.example.fi/j/Ab3dEf",
        join_url="https://kota.example.fi/j/Ab3dEf",
        sequence=sequence,
        domain="kota.example.fi",
    )


def _event(data: bytes) -> tuple[Calendar, Any]:
    """The calendar and its one event (icalendar's property values are loosely typed)."""
    calendar = Calendar.from_ical(data)
    events = calendar.walk("VEVENT")
    assert len(events) == 1
    return calendar, events[0]


def test_a_request_carries_the_time_in_helsinki_with_its_zone() -> None:
    start = datetime(2027, 1, 12, 9, 30, tzinfo=HELSINKI)
    calendar, event = _event(calendar_file(_invite(start), Method.REQUEST, HELSINKI, STAMP))
    assert calendar["METHOD"] == "REQUEST"
    assert calendar["VERSION"] == "2.0"
    assert event["UID"] == "appointment-17-participant-42@kota.example.fi"
    assert event["SEQUENCE"] == 0
    assert event["STATUS"] == "CONFIRMED"
    starts = event["DTSTART"]
    assert starts.params["TZID"] == "Europe/Helsinki"
    assert starts.dt == start
    assert event["DTEND"].dt == start + timedelta(minutes=45)
    assert "https://kota.example.fi/j/Ab3dEf" in event["DESCRIPTION"]
    zones = calendar.walk("VTIMEZONE")
    assert [z["TZID"] for z in zones] == ["Europe/Helsinki"]
    # Both of Helsinki's offsets are described, so a calendar in Oslo shows 9.30 here.
    assert {str(c.name) for c in zones[0].subcomponents} >= {"STANDARD", "DAYLIGHT"}


def test_a_summer_time_is_kept_across_the_clock_change() -> None:
    start = datetime(2027, 6, 1, 14, 0, tzinfo=HELSINKI)
    _, event = _event(calendar_file(_invite(start), Method.REQUEST, HELSINKI, STAMP))
    assert event["DTSTART"].dt.utcoffset() == timedelta(hours=3)
    assert event["DTSTART"].dt.astimezone(UTC) == start.astimezone(UTC)


def test_moves_keep_the_uid_and_raise_the_sequence() -> None:
    start = datetime(2027, 1, 12, 9, 30, tzinfo=HELSINKI)
    uids, sequences = set(), []
    for moves in range(4):
        moved = _invite(start + timedelta(hours=moves), sequence=moves)
        _, event = _event(calendar_file(moved, Method.REQUEST, HELSINKI, STAMP))
        uids.add(str(event["UID"]))
        sequences.append(int(event["SEQUENCE"]))
    assert len(uids) == 1
    assert sequences == [0, 1, 2, 3]


def test_a_cancel_names_the_same_event() -> None:
    start = datetime(2027, 1, 12, 9, 30, tzinfo=HELSINKI)
    calendar, event = _event(
        calendar_file(_invite(start, sequence=2), Method.CANCEL, HELSINKI, STAMP))
    assert calendar["METHOD"] == "CANCEL"
    assert event["STATUS"] == "CANCELLED"
    assert event["UID"] == "appointment-17-participant-42@kota.example.fi"
    assert event["SEQUENCE"] == 2


def test_naive_times_and_negative_sequences_are_refused() -> None:
    with pytest.raises(ValueError):
        calendar_file(_invite(datetime(2027, 1, 12, 9, 30)), Method.REQUEST, HELSINKI, STAMP)
    with pytest.raises(ValueError):
        calendar_file(_invite(datetime(2027, 1, 12, 9, 30, tzinfo=HELSINKI), sequence=-1),
                      Method.REQUEST, HELSINKI, STAMP)


@given(
    start=st.datetimes(min_value=datetime(2026, 1, 1), max_value=datetime(2035, 12, 31),
                       timezones=st.just(UTC)),
    minutes=st.integers(min_value=5, max_value=720),
)
def test_any_instant_comes_back_as_the_same_instant(start: datetime, minutes: int) -> None:
    """Clock-change nights included: the file's local time plus its VTIMEZONE is the
    instant Kota booked."""
    start = start.replace(second=0, microsecond=0)
    data = calendar_file(_invite(start, minutes=minutes), Method.REQUEST, HELSINKI, STAMP)
    _, event = _event(data)
    assert event["DTSTART"].dt.astimezone(UTC) == start
    assert event["DTEND"].dt.astimezone(UTC) == start + timedelta(minutes=minutes)


@pytest.mark.parametrize("utc_hour", [0, 1])
def test_both_of_the_repeated_hours_come_back_as_booked(utc_hour: int) -> None:
    """On 31 October 2027 Helsinki shows 3.30 twice (00.30 and 01.30 UTC); a local time
    in a file means the first, so the second is written in UTC."""
    start = datetime(2027, 10, 31, utc_hour, 30, tzinfo=UTC)
    data = calendar_file(_invite(start), Method.REQUEST, HELSINKI, STAMP)
    _, event = _event(data)
    assert event["DTSTART"].dt.astimezone(UTC) == start
    assert event["DTEND"].dt.astimezone(UTC) == start + timedelta(minutes=45)

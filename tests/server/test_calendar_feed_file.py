"""The staff calendar feed's .ics, built without a server: parsed back with icalendar."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from icalendar import Calendar, Event

from server.calendar_feed import (
    SECRET_FORMAT,
    event_sequence,
    feed_file,
    feed_urls,
    hash_secret,
    new_secret,
)
from server.records import AppointmentKind, AppointmentStatus, FeedAppointment

HELSINKI = ZoneInfo("Europe/Helsinki")
NOW = datetime(2027, 3, 20, 8, 0, tzinfo=UTC)


def appointment(id_: int = 7, *, start: datetime = NOW + timedelta(days=1), people: int = 2,
                status: AppointmentStatus = AppointmentStatus.SCHEDULED,
                changed: timedelta = timedelta(0)) -> FeedAppointment:
    created = NOW - timedelta(days=2)
    return FeedAppointment(id_, start, start + timedelta(minutes=45), status, people,
                           created, created + changed)


def parse(*items: FeedAppointment) -> tuple[Calendar, list[Event]]:
    data = feed_file(items, zone=HELSINKI, domain="kota.example.fi",
                     page_url=lambda i: f"https://kota.example.fi/staff#/appointment/{i}",
                     now=NOW)
    calendar = Calendar.from_ical(data)
    events = [e for e in calendar.walk("VEVENT") if isinstance(e, Event)]
    return calendar, events


@pytest.mark.parametrize(("people", "summary"), [
    (0, "Kota: etätapaaminen, 0 osallistujaa"),
    (1, "Kota: etätapaaminen, 1 osallistuja"),
    (3, "Kota: etätapaaminen, 3 osallistujaa"),
])
def test_the_summary_is_neutral_with_the_head_count(people: int, summary: str) -> None:
    _, [event] = parse(appointment(people=people))
    assert str(event["summary"]) == summary


def test_a_cancelled_appointment_is_marked_cancelled() -> None:
    _, [event] = parse(appointment(status=AppointmentStatus.CANCELLED))
    assert str(event["status"]) == "CANCELLED"
    assert str(event["summary"]) == "Kota: peruttu etätapaaminen, 2 osallistujaa"
    assert str(event["transp"]) == "TRANSPARENT"


def test_no_kind_is_ever_named() -> None:
    data = feed_file([appointment()], zone=HELSINKI, domain="kota.example.fi",
                     page_url=lambda i: f"https://kota.example.fi/staff#/appointment/{i}",
                     now=NOW).decode().lower()
    for kind in AppointmentKind:
        assert kind.value not in data
    for word in ("lastensuojelu", "perheneuvonta", "koulu"):
        assert word not in data


def test_times_are_in_the_zone_across_the_spring_change() -> None:
    # The clocks go forward on 28 March 2027: the VTIMEZONE must say so.
    after = datetime(2027, 3, 29, 7, 0, tzinfo=UTC)
    calendar, events = parse(appointment(1), appointment(2, start=after))
    assert [tz["tzid"] for tz in calendar.walk("VTIMEZONE")] == ["Europe/Helsinki"]
    by_uid = {str(e["uid"]): e for e in events}
    spring = by_uid["staff-feed-appointment-2@kota.example.fi"]
    assert spring.decoded("dtstart") == after
    assert spring.decoded("dtstart").utcoffset() == timedelta(hours=3)
    winter = by_uid["staff-feed-appointment-1@kota.example.fi"]
    assert winter.decoded("dtstart").utcoffset() == timedelta(hours=2)


def test_the_same_data_gives_the_same_bytes() -> None:
    first = feed_file([appointment()], zone=HELSINKI, domain="d", page_url=str, now=NOW)
    again = feed_file([appointment()], zone=HELSINKI, domain="d", page_url=str,
                      now=NOW + timedelta(minutes=10))
    assert first == again


def test_the_sequence_grows_with_each_change() -> None:
    values = [event_sequence(appointment(changed=timedelta(seconds=s))) for s in (0, 1, 90)]
    assert values == sorted(values) and len(set(values)) == 3 and values[0] == 0


def test_the_calendar_asks_to_be_fetched_again_every_15_minutes() -> None:
    calendar, _ = parse(appointment())
    assert calendar.decoded("refresh-interval") == timedelta(minutes=15)
    assert "X-PUBLISHED-TTL:PT15M" in calendar.to_ical().decode()
    assert str(calendar["method"]) == "PUBLISH"


def test_secrets_are_random_32_bytes_and_only_hashed() -> None:
    secrets = {new_secret() for _ in range(50)}
    assert len(secrets) == 50
    assert all(SECRET_FORMAT.match(s) for s in secrets)
    secret = secrets.pop()
    assert hash_secret(secret) != secret and len(hash_secret(secret)) == 64


@pytest.mark.parametrize(("public_url", "webcal"), [
    ("https://kota.example.fi", "webcal://kota.example.fi/calendar/S.ics"),
    ("https://kota.example.fi/", "webcal://kota.example.fi/calendar/S.ics"),
    ("http://127.0.0.1:8080", "webcal://127.0.0.1:8080/calendar/S.ics"),
])
def test_feed_urls(public_url: str, webcal: str) -> None:
    url, https_url = feed_urls(public_url, "S")
    assert url == webcal
    assert https_url == f"{public_url.rstrip('/')}/calendar/S.ics"

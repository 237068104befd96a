"""The calendar file (.ics, RFC 5545) attached to an invitation, made with icalendar.

One participant's invitation is one event with a stable UID, so a calendar program
replaces its copy when the time moves (METHOD:REQUEST, SEQUENCE one higher each time)
and removes it on METHOD:CANCEL. The file is read on shared tablets and lock screens:
it names the service and the host's first name, never the appointment's kind.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo

from icalendar import Calendar, Event

PRODID = "-//Kota//Kota remote appointments//FI"


class Method(StrEnum):
    REQUEST = "REQUEST"
    CANCEL = "CANCEL"


@dataclass(frozen=True, slots=True)
class CalendarInvite:
    """What the file says; the texts come already in the participant's language."""

    appointment_id: int
    participant_id: int
    starts_at: datetime
    ends_at: datetime
    summary: str  # e.g. "Etätapaaminen, Sanna" — never the appointment's kind
    description: str  # the words around the join link, and the link itself
    join_url: str
    sequence: int  # 0 when first sent, one more after each change
    domain: str  # the service's host name, so the UID is unique across servers

    def uid(self) -> str:
        """Stable across moves and resends: one event per participant and appointment."""
        return f"appointment-{self.appointment_id}-participant-{self.participant_id}@{self.domain}"


def calendar_file(invite: CalendarInvite, method: Method, zone: ZoneInfo,
                  stamped_at: datetime) -> bytes:
    """The .ics bytes, with a VTIMEZONE for ``zone`` covering the event's year."""
    if invite.starts_at.tzinfo is None or invite.ends_at.tzinfo is None:
        raise ValueError("invitation times must be timezone-aware")
    if invite.sequence < 0:
        raise ValueError("SEQUENCE starts at 0")
    calendar = Calendar()
    calendar.add("prodid", PRODID)
    calendar.add("version", "2.0")
    calendar.add("method", method.value)
    event = Event()
    event.add("uid", invite.uid())
    event.add("sequence", invite.sequence)
    event.add("dtstamp", stamped_at.astimezone(UTC))
    event.add("dtstart", _calendar_time(invite.starts_at, zone))
    event.add("dtend", _calendar_time(invite.ends_at, zone))
    event.add("summary", invite.summary)
    event.add("description", invite.description)
    if invite.join_url:  # a cancellation may come after the link has stopped
        event.add("url", invite.join_url)
    event.add("status", "CANCELLED" if method is Method.CANCEL else "CONFIRMED")
    event.add("transp", "OPAQUE")
    event.add("class", "PRIVATE")
    calendar.add_component(event)
    first = invite.starts_at.astimezone(zone).date() - timedelta(days=366)
    last = invite.ends_at.astimezone(zone).date() + timedelta(days=366)
    calendar.add_missing_timezones(first_date=date(first.year, 1, 1),
                                   last_date=date(last.year, 12, 31))
    return bytes(calendar.to_ical())


def _calendar_time(moment: datetime, zone: ZoneInfo) -> datetime:
    """``moment`` in ``zone``, except the second of a wall time the clocks show twice
    (the night they go back): RFC 5545 reads a repeated local time as the first one, so
    that one is written in UTC."""
    local = moment.astimezone(zone)
    if local.fold and local.utcoffset() != local.replace(fold=0).utcoffset():
        return moment.astimezone(UTC)
    return local

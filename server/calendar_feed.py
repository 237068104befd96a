"""A professional's private calendar feed: a secret URL that Outlook or Thunderbird polls.

The feed holds that professional's appointments (as host or staff member) from 30 days
back to a year ahead as one .ics (RFC 5545, made with icalendar). Staff calendars are
often shared inside Exchange, so each event says only "Kota: etätapaaminen" and how many
people take part: no client names, no contacts, no kind. Its UID is its own (the family
invitations' UIDs name a participant), its SEQUENCE grows with each change, a cancelled
appointment stays in the feed as STATUS:CANCELLED so subscribers drop it, and the
description links to the appointment's staff page.

Only a SHA-256 hash of the 32-byte random secret is stored. Making a new one replaces
the old (one row per professional), revoking deletes it, and an unknown secret is a
plain 404. Reads go to the usage log at most once an hour per feed.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from urllib.parse import urlsplit, urlunsplit
from zoneinfo import ZoneInfo

from icalendar import Calendar, Event, Timezone, vDuration

from server.audit import SYSTEM, Action, Actor, AuditLog
from server.db import Database
from server.records import AppointmentStatus, CalendarFeed, FeedAppointment, Staff

PRODID = "-//Kota//Kota staff calendar//FI"
PAST = timedelta(days=30)
AHEAD = timedelta(days=365)
READ_LOG_INTERVAL = timedelta(hours=1)
SECRET_BYTES = 32
# token_urlsafe(32): 43 characters of the URL-safe base64 alphabet.
SECRET_FORMAT = re.compile(r"^[A-Za-z0-9_-]{43}$")
# How often calendar programs are asked to fetch the feed again.
REFRESH = timedelta(minutes=15)
SUMMARY = "Kota: etätapaaminen"
# For calendar programs that ignore STATUS:CANCELLED.
CANCELLED_SUMMARY = "Kota: peruttu etätapaaminen"


def new_secret() -> str:
    return secrets.token_urlsafe(SECRET_BYTES)


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def feed_path(secret: str) -> str:
    return f"/calendar/{secret}.ics"


def feed_urls(public_url: str, secret: str) -> tuple[str, str]:
    """The ``webcal://`` address calendar programs subscribe to, and its https twin."""
    https_url = f"{public_url.rstrip('/')}{feed_path(secret)}"
    parts = urlsplit(https_url)
    return urlunsplit(("webcal", *parts[1:])), https_url


def staff_page_url(public_url: str, appointment_id: int) -> str:
    return f"{public_url.rstrip('/')}/staff#/appointment/{appointment_id}"


def feed_window(now: datetime) -> tuple[datetime, datetime]:
    return now - PAST, now + AHEAD


def event_uid(appointment_id: int, domain: str) -> str:
    """Not an invitation's UID (those name a participant): a subscriber who also got
    the family's invitation keeps two events, not one overwriting the other."""
    return f"staff-feed-appointment-{appointment_id}@{domain}"


def event_sequence(appointment: FeedAppointment) -> int:
    """Grows with every change: the seconds between creation and the last change."""
    return max(0, int((appointment.updated_at - appointment.created_at).total_seconds()))


def event_summary(appointment: FeedAppointment) -> str:
    people = appointment.people
    count = f"{people} osallistuja" if people == 1 else f"{people} osallistujaa"
    if appointment.status is AppointmentStatus.CANCELLED:
        return f"{CANCELLED_SUMMARY}, {count}"
    return f"{SUMMARY}, {count}"


def feed_file(
    appointments: Sequence[FeedAppointment],
    *,
    zone: ZoneInfo,
    domain: str,
    page_url: Callable[[int], str],
    now: datetime,
) -> bytes:
    """The whole feed. Built only from stored times, so the same data gives the same
    bytes (and the same ETag) until something changes."""
    calendar = Calendar()
    calendar.add("prodid", PRODID)
    calendar.add("version", "2.0")
    calendar.add("calscale", "GREGORIAN")
    calendar.add("method", "PUBLISH")
    calendar.add("x-wr-calname", "Kota")
    calendar.add("x-wr-timezone", str(zone))
    calendar.add("refresh-interval", REFRESH, parameters={"VALUE": "DURATION"})
    calendar.add("x-published-ttl", vDuration(REFRESH))
    start, end = feed_window(now)
    first = start.astimezone(zone).date()
    last = end.astimezone(zone).date()
    calendar.add_component(Timezone.from_tzid(
        str(zone), first_date=date(first.year, 1, 1), last_date=date(last.year + 1, 1, 1)))
    for appointment in appointments:
        calendar.add_component(_event(appointment, zone, domain, page_url(appointment.id)))
    return bytes(calendar.to_ical())


def _event(appointment: FeedAppointment, zone: ZoneInfo, domain: str, url: str) -> Event:
    cancelled = appointment.status is AppointmentStatus.CANCELLED
    event = Event()
    event.add("uid", event_uid(appointment.id, domain))
    event.add("sequence", event_sequence(appointment))
    event.add("dtstamp", appointment.updated_at.astimezone(UTC))
    event.add("last-modified", appointment.updated_at.astimezone(UTC))
    event.add("created", appointment.created_at.astimezone(UTC))
    event.add("dtstart", appointment.starts_at.astimezone(zone))
    event.add("dtend", appointment.ends_at.astimezone(zone))
    event.add("summary", event_summary(appointment))
    event.add("description", f"Tapaaminen Kotassa: {url}")
    event.add("url", url)
    event.add("status", "CANCELLED" if cancelled else "CONFIRMED")
    event.add("transp", "TRANSPARENT" if cancelled else "OPAQUE")
    event.add("class", "PRIVATE")
    return event


@dataclass(frozen=True)
class FeedRead:
    body: bytes
    etag: str


class CalendarFeeds:
    """Create, revoke and read staff calendar feeds; each change one transaction with its
    usage-log row."""

    def __init__(self, db: Database, audit: AuditLog, zone: ZoneInfo, public_url: str) -> None:
        self._db = db
        self._audit = audit
        self._zone = zone
        self._public_url = public_url.rstrip("/")
        self._domain = urlsplit(public_url).hostname or "kota"

    async def status(self, staff: Staff) -> CalendarFeed | None:
        return await self._db.get_calendar_feed(staff.id)

    async def create(self, staff: Staff, now: datetime) -> str:
        """A new secret; the staff member's earlier feed URL stops working."""
        secret = new_secret()
        async with self._db.transaction() as tx:
            await tx.replace_calendar_feed(staff.id, hash_secret(secret), now)
            await self._audit.record(Actor.staff(staff.id), Action.CALENDAR_FEED_CREATED,
                                     subject_id=staff.id, tx=tx)
        return secret

    async def revoke(self, staff: Staff) -> None:
        async with self._db.transaction() as tx:
            if await tx.delete_calendar_feed(staff.id):
                await self._audit.record(Actor.staff(staff.id), Action.CALENDAR_FEED_REVOKED,
                                         subject_id=staff.id, tx=tx)

    async def read(self, secret: str, now: datetime) -> FeedRead | None:
        """The feed's file, or None for a secret that is malformed, unknown or revoked."""
        if not SECRET_FORMAT.match(secret):
            return None
        secret_hash = hash_secret(secret)
        feed = await self._db.find_calendar_feed(secret_hash)
        if feed is None:
            return None
        if feed.read_logged_at is None or feed.read_logged_at <= now - READ_LOG_INTERVAL:
            async with self._db.transaction() as tx:
                if await tx.mark_calendar_feed_read(feed.staff_id, secret_hash, now,
                                                    now - READ_LOG_INTERVAL):
                    await self._audit.record(SYSTEM, Action.CALENDAR_FEED_READ,
                                             subject_id=feed.staff_id, tx=tx)
        start, end = feed_window(now)
        appointments = await self._db.list_feed_appointments(feed.staff_id, start, end)
        body = feed_file(appointments, zone=self._zone, domain=self._domain,
                         page_url=lambda aid: staff_page_url(self._public_url, aid), now=now)
        return FeedRead(body, f'"{hashlib.sha256(body).hexdigest()[:32]}"')

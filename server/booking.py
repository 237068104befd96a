"""BookingDesk: a family books, confirms, moves and cancels a time by itself.

A hold is one transaction: under ``BEGIN IMMEDIATE`` it reads the service, the
professionals' busy time and the per-contact counts, finds the slot still free, and
writes the booking, its confirm message and its usage-log row. Two families asking for
the same slot are serialised by the write lock, so exactly one gets it; the other hears
``409 slot_taken`` with the next free times. A held booking blocks the professional's
time (``Reads.list_busy``, ``Scheduler``'s overlap check) until its hold runs out.
Confirming, moving and cancelling are one transaction each as well.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Annotated
from zoneinfo import ZoneInfo

import msgspec

from server.audit import SYSTEM, Action, Actor, AuditLog
from server.booking_links import BookingLinkError, BookingLinkPurpose, BookingLinks
from server.booking_slots import Busy, Slot, SlotRules, day_window, free_slots, pick_professional
from server.contacts import checked_contact
from server.db import Database, NewParticipant, Reads, Tx
from server.errors import (
    Conflict,
    Gone,
    NotFound,
    TooManyRequests,
    Unauthorized,
    Unprocessable,
)
from server.join_links import JoinLinks
from server.message_plan import MessagePlan
from server.records import (
    Appointment,
    AppointmentKind,
    Booking,
    BookingState,
    Delivery,
    Language,
    ParticipantRole,
    Service,
)

# A contact may have this many bookings ahead at once (held or confirmed) ...
MAX_LIVE_PER_CONTACT = 3
# ... and ask for this many holds a day, whatever became of them.
MAX_HOLDS_PER_CONTACT_DAY = 10
CONTACT_RETRY_SECONDS = 3600
# The loser of a race hears this many next free times.
NEXT_FREE_COUNT = 3
# The public times list covers at most this many days per request.
MAX_DAYS = 31
MAX_TOPIC = 500
# Services kept in memory for the public pages, and for how long (a change made by
# another process, such as ``kota demo``, shows after this at the latest).
MAX_KEPT_SERVICES = 1000
KEEP_SERVICE_SECONDS = 5.0

Name = Annotated[str, msgspec.Meta(min_length=1, max_length=80)]
ContactText = Annotated[str, msgspec.Meta(min_length=1, max_length=254)]
Topic = Annotated[str, msgspec.Meta(max_length=MAX_TOPIC)]
Token = Annotated[str, msgspec.Meta(min_length=1, max_length=4096)]


class HoldIn(msgspec.Struct, forbid_unknown_fields=True):
    starts_at: datetime
    display_name: Name
    contact: ContactText
    language: Language
    kind: AppointmentKind | None = None
    topic: Topic = ""


class TokenIn(msgspec.Struct, forbid_unknown_fields=True):
    token: Token


class MoveIn(msgspec.Struct, forbid_unknown_fields=True):
    token: Token
    starts_at: datetime


class SlotTaken(Exception):
    """Inside a transaction: the time is not free (any more). Once the transaction is
    rolled back the desk answers ``slot_taken`` with the next free times."""


def slot_taken(next_free: list[str]) -> Conflict:
    return Conflict("slot_taken", "This time was just taken. Choose another time.",
                    next_free=next_free)


class BookingLinkRefused(Unauthorized):
    """A confirm or manage token that was checked and refused."""


@dataclass(frozen=True)
class Confirmed:
    booking: Booking
    service: Service
    appointment: Appointment
    join_url: str | None
    manage_url: str


def channel_of(contact: str) -> Delivery:
    """E-mail when the contact has an @, else a text message."""
    return Delivery.EMAIL if "@" in contact else Delivery.SMS


def contact_hint(contact: str) -> str:
    """Enough of the contact for the family to recognise it, not to read it off a screen."""
    if "@" in contact:
        local, _, domain = contact.rpartition("@")
        return f"{local[:1]}…@{domain}"
    return f"…{contact[-3:]}"


def check_zone(value: datetime, field: str) -> datetime:
    if value.tzinfo is None:
        raise Unprocessable("time_without_zone",
                            f"{field} needs a time zone, e.g. 2026-12-01T10:00:00+02:00.")
    return value


def in_reach(starts_at: datetime, service: Service, now: datetime) -> bool:
    """Within the service's horizon; comparing first keeps times near year 1 or 9999 from
    ever being converted (which would overflow)."""
    return now <= starts_at <= now + timedelta(days=service.horizon_days)


class BookingDesk:
    def __init__(
        self,
        db: Database,
        audit: AuditLog,
        links: JoinLinks,
        booking_links: BookingLinks,
        plan: MessagePlan,
        tz: ZoneInfo,
    ) -> None:
        self.db = db
        self.audit = audit
        self.links = links
        self.booking_links = booking_links
        self.plan = plan
        self.tz = tz
        # Session states not yet written (appointment id → ended); set when calls start.
        self.queued_sessions: Callable[[], Mapping[int, bool]] = dict
        # Services as last read outside a transaction, by slug; ``ServiceCatalog`` calls
        # ``forget_services`` after each change. Writes always read the service again.
        self._services: dict[str, tuple[float, Service]] = {}

    # -- reading -------------------------------------------------------------------

    def forget_services(self) -> None:
        self._services.clear()

    async def service(self, reads: Reads, slug: str) -> Service:
        """The active service with that slug; any other gets the same 404."""
        if len(slug) > 80:
            service = None
        elif isinstance(reads, Tx):
            service = await reads.get_service_by_slug(slug)
        elif slug in self._services and self._services[slug][0] > time.monotonic():
            service = self._services[slug][1]
        else:
            service = await reads.get_service_by_slug(slug)
            if len(self._services) >= MAX_KEPT_SERVICES:
                self._services.clear()
            if service is not None:
                self._services[slug] = (time.monotonic() + KEEP_SERVICE_SECONDS, service)
        if service is None or not service.active:
            raise NotFound("service_not_found", "No such booking page.")
        return service

    async def _slots(
        self, reads: Reads, service: Service, first_day: date, days: int, now: datetime,
        ignore_booking: int | None = None,
    ) -> tuple[list[Slot], list[tuple[int, datetime]]]:
        rules = SlotRules.of(service)
        start, end = day_window(first_day, days, self.tz)
        closures = await reads.list_service_closures(service.id, start, end)
        busy = await reads.list_busy(service.staff_ids, start - rules.buffer,
                                     end + rules.buffer, now, self.queued_sessions(),
                                     ignore_booking)
        booked = await reads.list_booked_times(service.id, start, end, now, ignore_booking)
        staff = set(service.staff_ids)
        slots = free_slots(
            rules=rules,
            hours=[h for h in service.hours if h.staff_id in staff],
            closures=closures,
            busy=[Busy(*b) for b in busy],
            booked=booked,
            now=now,
            first_day=first_day,
            days=days,
            tz=self.tz,
        )
        return slots, booked

    async def free_times(self, slug: str, first_day: date, days: int,
                         now: datetime) -> tuple[Service, list[Slot]]:
        service = await self.service(self.db, slug)
        slots, _ = await self._slots(self.db, service, first_day, min(days, MAX_DAYS), now)
        return service, slots

    async def next_free(self, service: Service, after: datetime, now: datetime) -> list[str]:
        """Up to three free starts after ``after``, as ISO times in Kota's zone."""
        found: list[datetime] = []
        day = max(after, now).astimezone(self.tz).date()
        last = (now + timedelta(days=service.horizon_days)).astimezone(self.tz).date()
        days = 1  # the asked day first, usually enough; then wider windows
        while len(found) < NEXT_FREE_COUNT and day <= last:
            slots, _ = await self._slots(self.db, service, day, days, now)
            found += [s.starts_at for s in slots if s.starts_at > after]
            day += timedelta(days=days)
            days = min(days * 2, 14)
        return [t.astimezone(self.tz).isoformat() for t in found[:NEXT_FREE_COUNT]]

    async def _free_slot(self, tx: Tx, service: Service, starts_at: datetime, now: datetime,
                         ignore_booking: int | None = None,
                         ) -> tuple[Slot, list[tuple[int, datetime]]] | None:
        day = starts_at.astimezone(self.tz).date()
        slots, booked = await self._slots(tx, service, day, 1, now, ignore_booking)
        slot = next((s for s in slots if s.starts_at == starts_at), None)
        return None if slot is None else (slot, booked)

    async def _still_free(self, tx: Tx, staff_id: int, starts_at: datetime,
                          ends_at: datetime, buffer: timedelta, now: datetime,
                          ignore_booking: int | None = None,
                          ignore_appointment: int | None = None) -> bool:
        """The professional's own overlap check, the one staff creates meet too."""
        other = await tx.find_overlapping_appointment(
            staff_id, starts_at - buffer, ends_at + buffer, ignore_appointment,
            self.queued_sessions())
        held = await tx.find_held_booking(staff_id, starts_at - buffer, ends_at + buffer, now,
                                          ignore_booking)
        return other is None and held is None

    # -- a hold --------------------------------------------------------------------

    async def hold(self, slug: str, body: HoldIn, now: datetime) -> Booking:
        starts_at = check_zone(body.starts_at, "starts_at")
        service = await self.service(self.db, slug)
        kind = self._kind(service, body.kind)
        name = body.display_name.strip()
        if not name:
            raise Unprocessable("invalid_field", "Give a name.")
        channel = channel_of(body.contact)
        self._check_channel(channel)
        contact = checked_contact(channel, body.contact)
        assert contact is not None
        if not in_reach(starts_at, service, now):
            raise slot_taken(await self.next_free(service, now, now))
        # A time already taken in what is committed is refused without the write lock:
        # in a rush for one time, the losers after the winner never queue for it.
        day = starts_at.astimezone(self.tz).date()
        slots, _ = await self._slots(self.db, service, day, 1, now)
        if not any(s.starts_at == starts_at for s in slots):
            later = [s.starts_at.astimezone(self.tz).isoformat()
                     for s in slots if s.starts_at > starts_at][:NEXT_FREE_COUNT]
            if len(later) < NEXT_FREE_COUNT:
                later = await self.next_free(service, starts_at, now)
            raise slot_taken(later)
        try:
            async with self.db.transaction() as tx:
                service = await self.service(tx, slug)
                await self._check_contact(tx, contact, now)
                found = await self._free_slot(tx, service, starts_at, now)
                if found is None:
                    raise SlotTaken()
                slot, booked = found
                staff_id = pick_professional(slot, booked, self.tz)
                buffer = timedelta(minutes=service.buffer_minutes)
                if not await self._still_free(tx, staff_id, slot.starts_at, slot.ends_at,
                                              buffer, now):
                    raise SlotTaken()
                booking_id = await tx.insert_booking(
                    service_id=service.id,
                    staff_id=staff_id,
                    kind=kind,
                    starts_at=slot.starts_at,
                    ends_at=slot.ends_at,
                    hold_expires_at=now + timedelta(minutes=service.hold_minutes),
                    display_name=name,
                    contact=contact,
                    channel=channel,
                    language=body.language,
                    topic=body.topic.strip(),
                    confirm_nonce=secrets.token_urlsafe(16),
                    manage_nonce=secrets.token_urlsafe(16),
                    now=now,
                )
                await self.plan.booking_held(
                    tx, booking_id=booking_id, channel=channel, recipient=contact,
                    language=body.language, starts_at=slot.starts_at, ends_at=slot.ends_at,
                    now=now,
                )
                await self.audit.record(SYSTEM, Action.BOOKING_HELD, subject_id=staff_id,
                                        detail={"booking": booking_id, "service": service.id},
                                        tx=tx)
                booking = await tx.get_booking(booking_id)
                assert booking is not None
                return booking
        except SlotTaken:
            raise slot_taken(await self.next_free(service, starts_at, now)) from None

    @property
    def channels(self) -> list[Delivery]:
        """How confirm links can reach families: e-mail and SMS when configured."""
        return [c for c in (Delivery.EMAIL, Delivery.SMS) if c in self.plan.channels]

    def _check_channel(self, channel: Delivery) -> None:
        """A hold whose confirm message could never be sent is refused at once: naming
        the other channel when that one is set up, else saying that online booking is
        not available (nothing pretends to send)."""
        if channel in self.plan.channels:
            return
        if not self.channels:
            raise Conflict("booking_unavailable",
                           "Times cannot be booked online now. Please call the service.")
        if channel is Delivery.EMAIL:
            raise Unprocessable("email_not_available",
                                "Bookings here are confirmed by text message. "
                                "Give a phone number.")
        raise Unprocessable("sms_not_available",
                            "Bookings here are confirmed by e-mail. Give an e-mail address.")

    @staticmethod
    def _kind(service: Service, asked: AppointmentKind | None) -> AppointmentKind:
        if asked is AppointmentKind.CHILD_PROTECTION:
            raise Unprocessable("kind_not_bookable", "This kind of meeting cannot be booked.")
        kind = asked or (service.kinds[0] if service.kinds else None)
        if kind is None or kind not in service.kinds:
            raise Unprocessable("kind_not_offered", "This service does not offer that meeting.")
        return kind

    @staticmethod
    async def _check_contact(tx: Tx, contact: str, now: datetime) -> None:
        live = await tx.count_live_bookings_for_contact(contact, now)
        recent = await tx.count_bookings_by_contact_since(contact, now - timedelta(days=1))
        if live >= MAX_LIVE_PER_CONTACT or recent >= MAX_HOLDS_PER_CONTACT_DAY:
            raise TooManyRequests(
                "too_many_bookings",
                "This contact already has as many bookings as it can have. "
                "Cancel one, or call the service.",
                retry_after=CONTACT_RETRY_SECONDS,
            )

    # -- confirming ------------------------------------------------------------------

    async def _claimed(self, reads: Reads, token: str, purpose: BookingLinkPurpose,
                       now: datetime) -> Booking:
        try:
            claims = self.booking_links.decode(
                token, purpose, now, allow_expired=purpose is BookingLinkPurpose.CONFIRM)
        except BookingLinkError as exc:
            raise BookingLinkRefused(exc.code, exc.message) from None
        booking = await reads.get_booking(claims.booking_id)
        if booking is None or not self.booking_links.matches(claims, booking, purpose):
            raise BookingLinkRefused("token_invalid", "This link is not valid.")
        return booking

    async def _confirmed(self, reads: Reads, booking: Booking) -> Confirmed:
        service = await reads.get_service(booking.service_id)
        appointment = (await reads.get_appointment(booking.appointment_id)
                       if booking.appointment_id is not None else None)
        assert service is not None and appointment is not None
        participant = appointment.participant(booking.participant_id or 0)
        link = participant.link if participant is not None else None
        join_url = self.links.url(link) if link is not None and not link.revoked else None
        return Confirmed(booking, service, appointment, join_url,
                         self.booking_links.manage_url(booking))

    async def confirm(self, token: str, now: datetime) -> Confirmed:
        """The appointment, its participant, link and messages in one transaction; a
        second click answers as the first did."""
        async with self.db.transaction() as tx:
            booking = await self._claimed(tx, token, BookingLinkPurpose.CONFIRM, now)
            if booking.state is BookingState.CONFIRMED:
                return await self._confirmed(tx, booking)
            if booking.state is BookingState.CANCELLED:
                raise Conflict("booking_cancelled", "This booking has been cancelled.")
            service = await tx.get_service(booking.service_id)
            assert service is not None
            staff_id = booking.staff_id
            if booking.state is BookingState.EXPIRED or booking.hold_expires_at <= now:
                # The hold ran out: the slot may be taken now, or still free.
                found = await self._free_slot(tx, service, booking.starts_at, now,
                                              ignore_booking=booking.id)
                if found is None:
                    # The service's page, so the family can book another time there.
                    raise Gone("hold_expired",
                               "The time was held for too long and is taken now.",
                               slug=service.slug)
                slot, booked = found
                if staff_id not in slot.staff_ids:
                    staff_id = pick_professional(slot, booked, self.tz)
            appointment_id, (participant_id,) = await tx.create_appointment(
                starts_at=booking.starts_at,
                ends_at=booking.ends_at,
                kind=booking.kind,
                host_id=staff_id,
                staff_ids=(),
                participants=[NewParticipant(booking.display_name, ParticipantRole.GUARDIAN,
                                             booking.contact, booking.language,
                                             booking.channel)],
                created_by=staff_id,
                now=now,
            )
            who = Actor.participant(participant_id)
            await self.audit.record(who, Action.APPOINTMENT_CREATED, appointment_id, tx=tx)
            await self.audit.record(who, Action.PARTICIPANT_ADDED, appointment_id,
                                    participant_id, tx=tx)
            await self.links.issue(tx, who, appointment_id, booking.ends_at, participant_id, now)
            if staff_id != booking.staff_id:
                await tx.move_booking(booking.id, staff_id, booking.starts_at, booking.ends_at)
            await tx.confirm_booking(booking.id, appointment_id, participant_id, now)
            created = await tx.get_appointment(appointment_id)
            assert created is not None
            await self.plan.participant_added(tx, created, participant_id, now)
            await tx.withdraw_booking_messages(booking.id, now)
            await self.audit.record(who, Action.BOOKING_CONFIRMED, appointment_id,
                                    participant_id,
                                    detail={"booking": booking.id, "service": service.id},
                                    tx=tx)
            confirmed = await tx.get_booking(booking.id)
            assert confirmed is not None
            return await self._confirmed(tx, confirmed)

    # -- managing --------------------------------------------------------------------

    def cutoff_at(self, booking: Booking, service: Service) -> datetime:
        return booking.starts_at - timedelta(minutes=service.cutoff_minutes)

    def can_change(self, booking: Booking, service: Service, now: datetime) -> bool:
        return booking.state is BookingState.CONFIRMED and now < self.cutoff_at(booking, service)

    async def manage(self, token: str, now: datetime) -> Confirmed:
        booking = await self._claimed(self.db, token, BookingLinkPurpose.MANAGE, now)
        if booking.appointment_id is None:
            raise Conflict("booking_not_confirmed", "This booking has not been confirmed.")
        return await self._confirmed(self.db, booking)

    async def _changeable(self, tx: Tx, token: str, now: datetime) -> tuple[Booking, Service]:
        booking = await self._claimed(tx, token, BookingLinkPurpose.MANAGE, now)
        service = await tx.get_service(booking.service_id)
        assert service is not None
        if booking.state is BookingState.CANCELLED:
            raise Conflict("booking_cancelled", "This booking has been cancelled.")
        if booking.state is not BookingState.CONFIRMED or booking.appointment_id is None:
            raise Conflict("booking_not_confirmed", "This booking has not been confirmed.")
        if now >= self.cutoff_at(booking, service):
            raise Conflict("past_cutoff", "It is too late to change this booking. "
                           "Call the service instead.")
        return booking, service

    async def move(self, token: str, starts_at: datetime, now: datetime) -> Confirmed:
        check_zone(starts_at, "starts_at")
        seen: list[Service] = []
        try:
            async with self.db.transaction() as tx:
                booking, service = await self._changeable(tx, token, now)
                seen.append(service)
                if starts_at == booking.starts_at:
                    return await self._confirmed(tx, booking)
                if not in_reach(starts_at, service, now):
                    raise SlotTaken()
                assert booking.appointment_id is not None and booking.participant_id
                found = await self._free_slot(tx, service, starts_at, now,
                                              ignore_booking=booking.id)
                if found is None:
                    raise SlotTaken()
                slot, booked = found
                staff_id = (booking.staff_id if booking.staff_id in slot.staff_ids
                            else pick_professional(slot, booked, self.tz))
                buffer = timedelta(minutes=service.buffer_minutes)
                if not await self._still_free(tx, staff_id, slot.starts_at, slot.ends_at,
                                              buffer, now, booking.id, booking.appointment_id):
                    raise SlotTaken()
                who = Actor.participant(booking.participant_id)
                await tx.update_appointment(
                    booking.appointment_id, starts_at=slot.starts_at, ends_at=slot.ends_at,
                    kind=booking.kind, host_id=staff_id, staff_ids=None, now=now)
                await tx.move_booking(booking.id, staff_id, slot.starts_at, slot.ends_at)
                moved = await tx.get_appointment(booking.appointment_id)
                assert moved is not None
                await self.audit.record(who, Action.APPOINTMENT_UPDATED, moved.id, tx=tx)
                await self.links.renew_short_links(tx, who, moved, now)
                await self.plan.appointment_moved(tx, moved, now)
                await self.audit.record(who, Action.BOOKING_MOVED, moved.id,
                                        booking.participant_id,
                                        detail={"booking": booking.id, "service": service.id},
                                        tx=tx)
                after = await tx.get_booking(booking.id)
                assert after is not None
                return await self._confirmed(tx, after)
        except SlotTaken:
            since = starts_at if in_reach(starts_at, seen[0], now) else now
            raise slot_taken(await self.next_free(seen[0], since, now)) from None

    async def cancel(self, token: str, now: datetime) -> Confirmed:
        """Cancels the appointment; a second cancel answers as the first did."""
        async with self.db.transaction() as tx:
            booking = await self._claimed(tx, token, BookingLinkPurpose.MANAGE, now)
            if booking.state is BookingState.CANCELLED and booking.appointment_id is not None:
                return await self._confirmed(tx, booking)
            booking, service = await self._changeable(tx, token, now)
            assert booking.appointment_id is not None and booking.participant_id
            before = await tx.get_appointment(booking.appointment_id)
            assert before is not None
            who = Actor.participant(booking.participant_id)
            await tx.cancel_appointment(before.id, now)
            await self.plan.appointment_cancelled(tx, before, now)
            await tx.cancel_booking(booking.id, now)
            await self.audit.record(who, Action.APPOINTMENT_CANCELLED, before.id, tx=tx)
            await self.audit.record(who, Action.BOOKING_CANCELLED, before.id,
                                    booking.participant_id,
                                    detail={"booking": booking.id, "service": service.id},
                                    tx=tx)
            after = await tx.get_booking(booking.id)
            assert after is not None
            return await self._confirmed(tx, after)

    # -- the sweep -------------------------------------------------------------------

    async def expire_holds(self, now: datetime) -> int:
        """Marks holds past their time expired (they stopped blocking when the time
        passed; this only records it) and withdraws their unsent confirm messages."""
        if not await self.db.list_expired_holds(now, limit=1):
            return 0  # looked on the read connection: an idle sweep takes no write lock
        async with self.db.transaction() as tx:
            expired = 0
            for booking_id in await tx.list_expired_holds(now):
                if await tx.expire_booking(booking_id):
                    expired += 1
                    await tx.withdraw_booking_messages(booking_id, now)
                    await self.audit.record(SYSTEM, Action.BOOKING_EXPIRED,
                                            detail={"booking": booking_id}, tx=tx)
            return expired

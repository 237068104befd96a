"""Scheduling rules: what a valid appointment is, who may see or change it."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo

import msgspec

from server.appointment_travel import (
    UNSET,
    Municipality,
    ServiceRef,
    TravelKm,
    TravelMinutes,
    Unset,
    merged,
    save_travel_fields,
)
from server.audit import Action, Actor, AuditLog
from server.contacts import checked_contact
from server.db import Database, NewParticipant, Reads, Tx
from server.errors import Conflict, Forbidden, NotFound, Unprocessable
from server.join_links import JoinLinks
from server.local_time import parse_wall_time, resolve
from server.message_plan import MessagePlan
from server.records import (
    Appointment,
    AppointmentKind,
    AppointmentStatus,
    Booking,
    Delivery,
    JoinLink,
    Language,
    OutboxMessage,
    Participant,
    ParticipantRole,
    Staff,
)

MAX_DURATION = timedelta(hours=12)
MAX_PARTICIPANTS = 20
# A form submitted a little after the minute it named is not "in the past".
PAST_TOLERANCE = timedelta(minutes=5)
# Further ahead is a typing mistake, and years near 9999 overflow on conversion to UTC.
MAX_AHEAD = timedelta(days=5 * 366)

Name = Annotated[str, msgspec.Meta(min_length=1, max_length=80)]
Contact = Annotated[str, msgspec.Meta(max_length=200)]
# Positive and within SQLite's 64-bit INTEGER, so a huge number is a 422, not a crash.
StaffId = Annotated[int, msgspec.Meta(ge=1, le=2**63 - 1)]
StaffIds = Annotated[list[StaffId], msgspec.Meta(max_length=20)]
# "2027-03-28T03:30": a wall time in KOTA_TIMEZONE, resolved by server.local_time.
WallTime = Annotated[str, msgspec.Meta(min_length=1, max_length=32)]
Minutes = Annotated[int, msgspec.Meta(ge=1, le=int(MAX_DURATION.total_seconds() // 60))]
# A free slot is searched for at most this far ahead.
FREE_SEARCH = timedelta(days=31)
SLOT = timedelta(minutes=30)


class ParticipantIn(msgspec.Struct, forbid_unknown_fields=True):
    display_name: Name
    role: ParticipantRole
    contact: Contact | None = None
    # fi, sv, en or se; None lets the family's browser decide.
    language: Language | None = None
    # How the link goes: e-mail or SMS to ``contact``, or staff copy it by hand.
    delivery: Delivery = Delivery.MANUAL

    def new_participant(self) -> NewParticipant:
        """Checked: e-mail and SMS need a contact of that form (numbers become E.164)."""
        contact = checked_contact(self.delivery, self.contact)
        return NewParticipant(self.display_name, self.role, contact, self.language,
                              self.delivery)


class DeliveryIn(msgspec.Struct, forbid_unknown_fields=True):
    """How an existing participant's link goes from now on, and where to."""

    delivery: Delivery
    contact: Contact | None = None


class TimesIn(msgspec.Struct, forbid_unknown_fields=True):
    """When: instants with an offset (``starts_at``/``ends_at``), or wall times in
    KOTA_TIMEZONE (``starts_local`` with ``ends_local`` or ``duration_minutes``; ``fold``
    picks the first (0) or second (1) of a time the clocks show twice)."""

    starts_at: datetime | None = None
    ends_at: datetime | None = None
    starts_local: WallTime | None = None
    ends_local: WallTime | None = None
    duration_minutes: Minutes | None = None
    fold: Literal[0, 1] | None = None


class AppointmentIn(TimesIn, forbid_unknown_fields=True, kw_only=True):
    kind: AppointmentKind
    host_id: StaffId | None = None
    staff_ids: StaffIds = msgspec.field(default_factory=list)
    participants: Annotated[list[ParticipantIn], msgspec.Meta(max_length=MAX_PARTICIPANTS)] = (
        msgspec.field(default_factory=list)
    )
    # -- organisation reports: service, municipality, travel (appointment_travel.py)
    service_id: ServiceRef | Unset | None = UNSET
    municipality: Municipality | Unset | None = UNSET
    travel_km: TravelKm | Unset | None = UNSET
    travel_minutes: TravelMinutes | Unset | None = UNSET


class AppointmentPatch(TimesIn, forbid_unknown_fields=True, kw_only=True):
    kind: AppointmentKind | None = None
    host_id: StaffId | None = None
    staff_ids: StaffIds | None = None
    # -- organisation reports: service, municipality, travel (appointment_travel.py)
    service_id: ServiceRef | Unset | None = UNSET
    municipality: Municipality | Unset | None = UNSET
    travel_km: TravelKm | Unset | None = UNSET
    travel_minutes: TravelMinutes | Unset | None = UNSET


def can_see(staff: Staff, appointment: Appointment) -> bool:
    return staff.is_admin or staff.id in appointment.staff_ids


def _one_of(body: TimesIn, names: tuple[str, ...], required: bool) -> str | None:
    given = [name for name in names if getattr(body, name) is not None]
    if len(given) > 1:
        raise Unprocessable("invalid_field", f"Give only one of {', '.join(given)}.")
    if required and not given:
        raise Unprocessable("invalid_field", f"One of {', '.join(names)} is required.")
    return given[0] if given else None


def resolve_times(
    body: TimesIn, tz: ZoneInfo, current: tuple[datetime, datetime] | None = None
) -> tuple[datetime, datetime] | None:
    """The (start, end) instants ``body`` asks for, or None when a patch leaves them be.

    ``current`` is the appointment's (start, end) when patching; a new appointment
    (``current`` None) must say both.
    """
    new = current is None
    start_field = _one_of(body, ("starts_at", "starts_local"), required=new)
    end_field = _one_of(body, ("ends_at", "ends_local", "duration_minutes"), required=new)
    if start_field is None and end_field is None:
        return None
    assert current is not None or (start_field and end_field)
    if start_field == "starts_local":
        assert body.starts_local is not None
        wall = parse_wall_time(body.starts_local, "starts_local")
        starts_at = resolve(wall, tz, body.fold, "starts_local")
    elif start_field == "starts_at":
        assert body.starts_at is not None
        starts_at = body.starts_at
    else:
        assert current is not None
        starts_at = current[0]
    if end_field == "ends_local":
        assert body.ends_local is not None
        wall = parse_wall_time(body.ends_local, "ends_local")
        ends_at = resolve(wall, tz, body.fold, "ends_local")
    elif end_field == "ends_at":
        assert body.ends_at is not None
        ends_at = body.ends_at
    elif end_field == "duration_minutes":
        assert body.duration_minutes is not None
        ends_at = starts_at + timedelta(minutes=body.duration_minutes)
    else:
        assert current is not None
        ends_at = current[1]
    return starts_at, ends_at


def clash_json(actor: Staff, clash: Appointment, tz: ZoneInfo) -> dict[str, Any]:
    """What the overlap error tells ``actor`` about the appointment in the way: its time,
    and its id and kind only when ``actor`` may see it."""
    seen: dict[str, Any] = {
        "starts_at": clash.starts_at.astimezone(tz).isoformat(),
        "ends_at": clash.ends_at.astimezone(tz).isoformat(),
    }
    if can_see(actor, clash):
        seen |= {"appointment_id": clash.id, "kind": clash.kind.value}
    return seen


def next_half_hour(moment: datetime, tz: ZoneInfo) -> datetime:
    """The first :00 or :30 of the clocks in ``tz`` at or after ``moment``."""
    local = moment.astimezone(tz)
    floor = local.replace(minute=0 if local.minute < 30 else 30, second=0, microsecond=0)
    if floor.astimezone(UTC) < moment.astimezone(UTC):
        floor = (floor.astimezone(UTC) + SLOT).astimezone(tz)
    return floor


def check_times(starts_at: datetime, ends_at: datetime, now: datetime, *, new: bool) -> None:
    for value in (starts_at, ends_at):
        if value.tzinfo is None:
            raise Unprocessable(
                "time_without_zone", "Times need a time zone, e.g. 2026-12-01T10:00:00+02:00."
            )
    if ends_at > now + MAX_AHEAD:
        raise Unprocessable(
            "invalid_field", "starts_at and ends_at must be less than five years from now."
        )
    if ends_at <= starts_at:
        raise Unprocessable("ends_before_start", "The end must be after the start.")
    if ends_at - starts_at > MAX_DURATION:
        raise Unprocessable("too_long", "An appointment can last at most 12 hours.")
    if new and starts_at < now - PAST_TOLERANCE:
        raise Unprocessable("starts_in_past", "The start time is in the past.")
    if not new and ends_at < now:
        raise Unprocessable("ends_in_past", "The new end time is in the past.")


class Scheduler:
    """Applies the scheduling rules. Each change is one transaction: its checks, its rows,
    its usage-log rows and the appointment it answers with all come from that one ``tx``."""

    def __init__(self, db: Database, audit: AuditLog, links: JoinLinks, tz: ZoneInfo,
                 plan: MessagePlan) -> None:
        self.db = db
        self.audit = audit
        self.links = links
        self.tz = tz
        self.plan = plan
        # Session states not yet written (appointment id → ended); set when calls start.
        self.queued_sessions: Callable[[], Mapping[int, bool]] = dict

    @staticmethod
    async def _check_staff(tx: Reads, ids: set[int]) -> None:
        found = {s.id for s in await tx.list_staff_by_ids(ids) if s.active}
        missing = sorted(ids - found)
        if missing:
            raise Unprocessable("unknown_staff", f"No active staff member with id {missing[0]}.")

    async def _check_overlap(
        self,
        tx: Tx,
        actor: Staff,
        host_id: int,
        starts_at: datetime,
        ends_at: datetime,
        now: datetime,
        ignore: int | None = None,
    ) -> None:
        """Read under the transaction's write lock, so no other booking can slip in.
        An appointment whose call staff ended blocks nothing; a family's held booking
        blocks until its hold runs out, and only its time is told."""
        other = await tx.find_overlapping_appointment(host_id, starts_at, ends_at, ignore,
                                                      self.queued_sessions())
        if other is not None:
            clash = await _load(tx, other)
            raise Conflict(
                "appointment_overlap",
                "The host already has an appointment at that time.",
                **clash_json(actor, clash, self.tz),
            )
        held = await tx.find_held_booking(host_id, starts_at, ends_at, now)
        if held is not None:
            booking = await tx.get_booking(held)
            assert booking is not None
            raise Conflict(
                "appointment_overlap",
                "The host already has an appointment at that time.",
                starts_at=booking.starts_at.astimezone(self.tz).isoformat(),
                ends_at=booking.ends_at.astimezone(self.tz).isoformat(),
            )

    async def next_free(self, host_id: int, length: timedelta, after: datetime) -> datetime:
        """The first half hour (in Kota's zone) at or after ``after`` when ``host_id`` is free
        for ``length``. Only the time is told, so any staff member may ask for any host."""
        await self._check_staff(self.db, {host_id})
        candidate = next_half_hour(after, self.tz)
        limit = after + FREE_SEARCH
        while candidate < limit:
            other = await self.db.find_overlapping_appointment(
                host_id, candidate, candidate + length, None, self.queued_sessions()
            )
            held = None if other is not None else await self.db.find_held_booking(
                host_id, candidate, candidate + length, after)
            if other is None and held is None:
                return candidate
            clash = await (_load(self.db, other) if other is not None
                           else _load_booking(self.db, held))
            candidate = next_half_hour(max(clash.ends_at, candidate + SLOT), self.tz)
        raise Conflict("no_free_time", "The host has no free time in the next month.")

    async def create(self, actor: Staff, body: AppointmentIn, now: datetime) -> Appointment:
        times = resolve_times(body, self.tz)
        assert times is not None
        starts_at, ends_at = times
        check_times(starts_at, ends_at, now, new=True)
        host_id = body.host_id if body.host_id is not None else actor.id
        staff_ids = set(body.staff_ids) - {host_id}
        if not actor.is_admin and actor.id != host_id and actor.id not in staff_ids:
            raise Forbidden("not_allowed", "You can only book appointments you take part in.")
        who = Actor.staff(actor.id)
        people = [p.new_participant() for p in body.participants]
        for person in people:
            self.plan.check_delivery(person.delivery)
        async with self.db.transaction() as tx:
            await self._check_staff(tx, {host_id, *staff_ids})
            await self._check_overlap(tx, actor, host_id, starts_at, ends_at, now)
            appointment_id, participant_ids = await tx.create_appointment(
                starts_at=starts_at,
                ends_at=ends_at,
                kind=body.kind,
                host_id=host_id,
                staff_ids=staff_ids,
                participants=people,
                created_by=actor.id,
                now=now,
            )
            await save_travel_fields(tx, appointment_id, merged(
                None, body.service_id, body.municipality, body.travel_km, body.travel_minutes))
            await self.audit.record(who, Action.APPOINTMENT_CREATED, appointment_id, tx=tx)
            for participant_id in participant_ids:
                await self.audit.record(
                    who, Action.PARTICIPANT_ADDED, appointment_id, participant_id, tx=tx
                )
                await self.links.issue(tx, who, appointment_id, ends_at, participant_id, now)
            created = await _load(tx, appointment_id)
            for participant_id in participant_ids:
                await self.plan.participant_added(tx, created, participant_id, now)
            return await _load(tx, appointment_id)  # with the messages just planned

    async def get(self, actor: Staff, appointment_id: int, *, log: bool = True) -> Appointment:
        """The appointment if ``actor`` may see it; others get the same 404 as a missing one."""
        if not log:
            return await _visible(self.db, actor, appointment_id)
        async with self.db.transaction() as tx:
            appointment = await _visible(tx, actor, appointment_id)
            await self.audit.record(
                Actor.staff(actor.id), Action.APPOINTMENT_READ, appointment_id, tx=tx
            )
            return appointment

    async def list_between(
        self, actor: Staff, start: datetime, end: datetime, host_id: int | None
    ) -> list[Appointment]:
        """The list and one ``appointment.listed`` row per appointment, in one transaction."""
        async with self.db.transaction() as tx:
            found = await tx.list_appointments_between(
                start, end, visible_to=None if actor.is_admin else actor.id, host_id=host_id
            )
            for appointment in found:
                await self.audit.record(
                    Actor.staff(actor.id), Action.APPOINTMENT_LISTED, appointment.id, tx=tx
                )
            return found

    async def update(
        self, actor: Staff, appointment_id: int, patch: AppointmentPatch, now: datetime
    ) -> Appointment:
        who = Actor.staff(actor.id)
        async with self.db.transaction() as tx:
            current = await _changeable(tx, actor, appointment_id)
            times = resolve_times(patch, self.tz, (current.starts_at, current.ends_at))
            starts_at, ends_at = times or (current.starts_at, current.ends_at)
            if times is not None:
                check_times(starts_at, ends_at, now, new=False)
            host_id = patch.host_id if patch.host_id is not None else current.host.id
            staff_ids = set(patch.staff_ids) - {host_id} if patch.staff_ids is not None else None
            after = staff_ids if staff_ids is not None else {s.id for s in current.staff}
            if not actor.is_admin and actor.id != host_id and actor.id not in after:
                raise Forbidden("not_allowed", "You cannot remove yourself from the appointment.")
            await self._check_staff(tx, {host_id, *(staff_ids or set())})
            await self._check_overlap(
                tx, actor, host_id, starts_at, ends_at, now, ignore=appointment_id
            )
            await tx.update_appointment(
                appointment_id,
                starts_at=starts_at,
                ends_at=ends_at,
                kind=patch.kind or current.kind,
                host_id=host_id,
                staff_ids=staff_ids,
                now=now,
            )
            await save_travel_fields(tx, appointment_id, merged(
                current, patch.service_id, patch.municipality, patch.travel_km,
                patch.travel_minutes))
            await self.audit.record(who, Action.APPOINTMENT_UPDATED, appointment_id, tx=tx)
            await self.links.renew_short_links(tx, who, await _load(tx, appointment_id), now)
            if (starts_at, ends_at) != (current.starts_at, current.ends_at):
                await self.plan.appointment_moved(tx, await _load(tx, appointment_id), now)
            await tx.follow_appointment(appointment_id, now)
            return await _load(tx, appointment_id)

    async def cancel(self, actor: Staff, appointment_id: int, now: datetime) -> Appointment:
        async with self.db.transaction() as tx:
            current = await _changeable(tx, actor, appointment_id)
            await tx.cancel_appointment(appointment_id, now)
            await tx.follow_appointment(appointment_id, now)
            await self.plan.appointment_cancelled(tx, current, now)
            await self.audit.record(
                Actor.staff(actor.id), Action.APPOINTMENT_CANCELLED, appointment_id, tx=tx
            )
            return await _load(tx, appointment_id)

    async def add_participant(
        self, actor: Staff, appointment_id: int, body: ParticipantIn, now: datetime
    ) -> tuple[Appointment, int]:
        who = Actor.staff(actor.id)
        person = body.new_participant()
        self.plan.check_delivery(person.delivery)
        async with self.db.transaction() as tx:
            current = await _changeable(tx, actor, appointment_id)
            if len(current.participants) >= MAX_PARTICIPANTS:
                raise Conflict(
                    "too_many_participants", "This appointment has no room for more people."
                )
            participant_id = await tx.add_participant(appointment_id, person, now)
            await self.audit.record(
                who, Action.PARTICIPANT_ADDED, appointment_id, participant_id, tx=tx
            )
            await self.links.issue(tx, who, appointment_id, current.ends_at, participant_id, now)
            added = await _load(tx, appointment_id)
            await self.plan.participant_added(tx, added, participant_id, now)
            return await _load(tx, appointment_id), participant_id

    async def remove_participant(
        self, actor: Staff, appointment_id: int, participant_id: int, now: datetime
    ) -> Appointment:
        async with self.db.transaction() as tx:
            current = await _changeable(tx, actor, appointment_id)
            _participant_of(current, participant_id)
            await tx.remove_participant(participant_id, now)
            await self.plan.participant_removed(tx, current, participant_id, now)
            await self.audit.record(
                Actor.staff(actor.id), Action.PARTICIPANT_REMOVED, appointment_id,
                participant_id, tx=tx,
            )
            return await _load(tx, appointment_id)

    async def set_delivery(
        self, actor: Staff, appointment_id: int, participant_id: int, body: DeliveryIn,
        now: datetime,
    ) -> Participant:
        """A new channel or address: what is still pending to the old one is withdrawn, and
        an e-mail or SMS channel gets the invitation and reminders at once. The same choice
        again changes nothing (a double click)."""
        contact = checked_contact(body.delivery, body.contact)
        self.plan.check_delivery(body.delivery)
        async with self.db.transaction() as tx:
            appointment = await _changeable(tx, actor, appointment_id)
            participant = _participant_of(appointment, participant_id)
            if (participant.delivery, participant.contact) == (body.delivery, contact):
                return participant
            if appointment.ends_at + self.links.grace <= now:
                raise Conflict("appointment_over", "This appointment is over.")
            link = participant.link
            if body.delivery is not Delivery.MANUAL and (link is None or link.revoked):
                raise Conflict(
                    "link_not_active", "This person has no active link. Create a new one."
                )
            await tx.set_participant_delivery(participant_id, body.delivery, contact)
            await tx.withdraw_messages(now, appointment_id=appointment_id,
                                       participant_id=participant_id)
            await self.audit.record(
                Actor.staff(actor.id), Action.PARTICIPANT_DELIVERY_CHANGED, appointment_id,
                participant_id, {"delivery": body.delivery.value}, tx=tx,
            )
            await self.plan.participant_added(tx, await _load(tx, appointment_id),
                                              participant_id, now)
            return _participant_of(await _load(tx, appointment_id), participant_id)

    async def resend_invitation(
        self, actor: Staff, appointment_id: int, participant_id: int, now: datetime
    ) -> tuple[OutboxMessage, bool]:
        """The invitation again (``created`` False: one was already under way)."""
        async with self.db.transaction() as tx:
            appointment = await _changeable(tx, actor, appointment_id)
            participant = _participant_of(appointment, participant_id)
            if appointment.ends_at + self.links.grace <= now:
                raise Conflict("appointment_over", "This appointment is over.")
            link = participant.link
            if participant.delivery is not Delivery.MANUAL and (link is None or link.revoked):
                raise Conflict(
                    "link_not_active", "This person has no active link. Create a new one."
                )
            message, created = await self.plan.resend(tx, appointment, participant, now)
            if created:
                await self.audit.record(
                    Actor.staff(actor.id), Action.MESSAGE_RESENT, appointment_id,
                    participant_id, {"message": message.id, "channel": message.channel.value},
                    tx=tx,
                )
            return message, created

    # -- a participant's join link ----------------------------------------------------

    async def read_link(self, actor: Staff, appointment_id: int, participant_id: int) -> JoinLink:
        """The active link, for staff to copy; the copy is logged."""
        async with self.db.transaction() as tx:
            appointment = await _visible(tx, actor, appointment_id)
            link = _participant_of(appointment, participant_id).link
            if link is None or link.revoked:
                raise NotFound(
                    "link_not_active", "This person has no active link. Create a new one."
                )
            await self.audit.record(
                Actor.staff(actor.id), Action.LINK_READ, appointment_id, participant_id, tx=tx
            )
            return link

    async def issue_link(
        self, actor: Staff, appointment_id: int, participant_id: int, now: datetime
    ) -> JoinLink:
        """A new link; the one before stops working in the same transaction."""
        async with self.db.transaction() as tx:
            appointment = await _changeable(tx, actor, appointment_id)
            _participant_of(appointment, participant_id)
            if appointment.ends_at + self.links.grace <= now:
                raise Conflict("appointment_over", "This appointment is over.")
            return await self.links.issue(
                tx, Actor.staff(actor.id), appointment_id, appointment.ends_at, participant_id, now
            )

    async def revoke_link(
        self, actor: Staff, appointment_id: int, participant_id: int, now: datetime
    ) -> None:
        async with self.db.transaction() as tx:
            appointment = await _visible(tx, actor, appointment_id)
            _participant_of(appointment, participant_id)
            await self.links.revoke(tx, Actor.staff(actor.id), appointment_id, participant_id, now)


async def _load(reads: Reads, appointment_id: int) -> Appointment:
    appointment = await reads.get_appointment(appointment_id)
    if appointment is None:
        raise NotFound("appointment_not_found", "No such appointment.")
    return appointment


async def _load_booking(reads: Reads, booking_id: int | None) -> Booking:
    booking = None if booking_id is None else await reads.get_booking(booking_id)
    assert booking is not None
    return booking


async def _visible(reads: Reads, actor: Staff, appointment_id: int) -> Appointment:
    appointment = await reads.get_appointment(appointment_id)
    if appointment is None or not can_see(actor, appointment):
        raise NotFound("appointment_not_found", "No such appointment.")
    return appointment


async def _changeable(reads: Reads, actor: Staff, appointment_id: int) -> Appointment:
    appointment = await _visible(reads, actor, appointment_id)
    if appointment.status is AppointmentStatus.CANCELLED:
        raise Conflict("appointment_cancelled", "This appointment has been cancelled.")
    if await reads.personal_data_removed(appointment_id):  # retention: nothing comes back
        raise Conflict("appointment_over", "This appointment is over and its personal data "
                       "has been removed.")
    return appointment


def _participant_of(appointment: Appointment, participant_id: int) -> Participant:
    participant = appointment.participant(participant_id)
    if participant is None:
        raise NotFound("participant_not_found", "No such participant in this appointment.")
    return participant

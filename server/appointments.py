"""Scheduling rules: what a valid appointment is, who may see or change it."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated

import msgspec

from server.audit import Action, Actor, AuditLog
from server.db import Database, NewParticipant
from server.errors import Conflict, Forbidden, NotFound, Unprocessable
from server.join_links import JoinLinks
from server.records import (
    Appointment,
    AppointmentKind,
    AppointmentStatus,
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


class ParticipantIn(msgspec.Struct, forbid_unknown_fields=True):
    display_name: Name
    role: ParticipantRole
    contact: Contact | None = None


class AppointmentIn(msgspec.Struct, forbid_unknown_fields=True):
    starts_at: datetime
    ends_at: datetime
    kind: AppointmentKind
    host_id: StaffId | None = None
    staff_ids: StaffIds = msgspec.field(default_factory=list)
    participants: Annotated[list[ParticipantIn], msgspec.Meta(max_length=MAX_PARTICIPANTS)] = (
        msgspec.field(default_factory=list)
    )


class AppointmentPatch(msgspec.Struct, forbid_unknown_fields=True):
    starts_at: datetime | None = None
    ends_at: datetime | None = None
    kind: AppointmentKind | None = None
    host_id: StaffId | None = None
    staff_ids: StaffIds | None = None


def can_see(staff: Staff, appointment: Appointment) -> bool:
    return staff.is_admin or staff.id in appointment.staff_ids


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
    """Applies the scheduling rules and writes the usage-log rows for each step."""

    def __init__(self, db: Database, audit: AuditLog, links: JoinLinks) -> None:
        self.db = db
        self.audit = audit
        self.links = links

    async def _check_staff(self, ids: set[int]) -> None:
        found = {s.id for s in await self.db.list_staff_by_ids(ids) if s.active}
        missing = sorted(ids - found)
        if missing:
            raise Unprocessable("unknown_staff", f"No active staff member with id {missing[0]}.")

    async def _check_overlap(
        self, host_id: int, starts_at: datetime, ends_at: datetime, ignore: int | None = None
    ) -> None:
        other = await self.db.find_overlapping_appointment(host_id, starts_at, ends_at, ignore)
        if other is not None:
            raise Conflict(
                "appointment_overlap",
                "The host already has an appointment at that time.",
                appointment_id=other,
            )

    async def create(self, actor: Staff, body: AppointmentIn, now: datetime) -> Appointment:
        check_times(body.starts_at, body.ends_at, now, new=True)
        host_id = body.host_id if body.host_id is not None else actor.id
        staff_ids = set(body.staff_ids) - {host_id}
        if not actor.is_admin and actor.id != host_id and actor.id not in staff_ids:
            raise Forbidden("not_allowed", "You can only book appointments you take part in.")
        await self._check_staff({host_id, *staff_ids})
        await self._check_overlap(host_id, body.starts_at, body.ends_at)
        appointment_id, participant_ids = await self.db.create_appointment(
            starts_at=body.starts_at,
            ends_at=body.ends_at,
            kind=body.kind,
            host_id=host_id,
            staff_ids=staff_ids,
            participants=[
                NewParticipant(p.display_name, p.role, p.contact) for p in body.participants
            ],
            created_by=actor.id,
            now=now,
        )
        who = Actor.staff(actor.id)
        await self.audit.record(who, Action.APPOINTMENT_CREATED, appointment_id)
        created = await self._load(appointment_id)
        for participant_id in participant_ids:
            await self.audit.record(who, Action.PARTICIPANT_ADDED, appointment_id, participant_id)
            await self.links.issue(who, created, participant_id, now)
        return await self._load(appointment_id)

    async def _load(self, appointment_id: int) -> Appointment:
        appointment = await self.db.get_appointment(appointment_id)
        if appointment is None:
            raise NotFound("appointment_not_found", "No such appointment.")
        return appointment

    async def get(self, actor: Staff, appointment_id: int, *, log: bool = True) -> Appointment:
        """The appointment if ``actor`` may see it; others get the same 404 as a missing one."""
        appointment = await self.db.get_appointment(appointment_id)
        if appointment is None or not can_see(actor, appointment):
            raise NotFound("appointment_not_found", "No such appointment.")
        if log:
            await self.audit.record(Actor.staff(actor.id), Action.APPOINTMENT_READ, appointment_id)
        return appointment

    async def get_changeable(self, actor: Staff, appointment_id: int) -> Appointment:
        appointment = await self.get(actor, appointment_id, log=False)
        if appointment.status is AppointmentStatus.CANCELLED:
            raise Conflict("appointment_cancelled", "This appointment has been cancelled.")
        return appointment

    async def list_between(
        self, actor: Staff, start: datetime, end: datetime, host_id: int | None
    ) -> list[Appointment]:
        found = await self.db.list_appointments_between(
            start, end, visible_to=None if actor.is_admin else actor.id, host_id=host_id
        )
        for appointment in found:
            await self.audit.record(
                Actor.staff(actor.id), Action.APPOINTMENT_LISTED, appointment.id
            )
        return found

    async def update(
        self, actor: Staff, appointment_id: int, patch: AppointmentPatch, now: datetime
    ) -> Appointment:
        current = await self.get_changeable(actor, appointment_id)
        starts_at = patch.starts_at or current.starts_at
        ends_at = patch.ends_at or current.ends_at
        if patch.starts_at is not None or patch.ends_at is not None:
            check_times(starts_at, ends_at, now, new=False)
        host_id = patch.host_id if patch.host_id is not None else current.host.id
        staff_ids = set(patch.staff_ids) - {host_id} if patch.staff_ids is not None else None
        after = staff_ids if staff_ids is not None else {s.id for s in current.staff}
        if not actor.is_admin and actor.id != host_id and actor.id not in after:
            raise Forbidden("not_allowed", "You cannot remove yourself from the appointment.")
        await self._check_staff({host_id, *(staff_ids or set())})
        await self._check_overlap(host_id, starts_at, ends_at, ignore=appointment_id)
        await self.db.update_appointment(
            appointment_id,
            starts_at=starts_at,
            ends_at=ends_at,
            kind=patch.kind or current.kind,
            host_id=host_id,
            staff_ids=staff_ids,
            now=now,
        )
        who = Actor.staff(actor.id)
        await self.audit.record(who, Action.APPOINTMENT_UPDATED, appointment_id)
        await self.links.renew_short_links(who, await self._load(appointment_id), now)
        return await self._load(appointment_id)

    async def cancel(self, actor: Staff, appointment_id: int, now: datetime) -> Appointment:
        await self.get_changeable(actor, appointment_id)
        await self.db.cancel_appointment(appointment_id, now)
        await self.audit.record(Actor.staff(actor.id), Action.APPOINTMENT_CANCELLED, appointment_id)
        return await self._load(appointment_id)

    async def add_participant(
        self, actor: Staff, appointment_id: int, body: ParticipantIn, now: datetime
    ) -> tuple[Appointment, int]:
        current = await self.get_changeable(actor, appointment_id)
        if len(current.participants) >= MAX_PARTICIPANTS:
            raise Conflict("too_many_participants", "This appointment has no room for more people.")
        participant_id = await self.db.add_participant(
            appointment_id, NewParticipant(body.display_name, body.role, body.contact), now
        )
        who = Actor.staff(actor.id)
        await self.audit.record(who, Action.PARTICIPANT_ADDED, appointment_id, participant_id)
        await self.links.issue(who, current, participant_id, now)
        return await self._load(appointment_id), participant_id

    async def remove_participant(
        self, actor: Staff, appointment_id: int, participant_id: int, now: datetime
    ) -> Appointment:
        current = await self.get_changeable(actor, appointment_id)
        if current.participant(participant_id) is None:
            raise NotFound("participant_not_found", "No such participant in this appointment.")
        await self.db.remove_participant(participant_id, now)
        await self.audit.record(
            Actor.staff(actor.id), Action.PARTICIPANT_REMOVED, appointment_id, participant_id
        )
        return await self._load(appointment_id)

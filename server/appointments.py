"""Scheduling rules: what a valid appointment is, who may see or change it."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from typing import Annotated

import msgspec

from server.audit import Action, Actor, AuditLog
from server.db import Database, NewParticipant, Reads, Tx
from server.errors import Conflict, Forbidden, NotFound, Unprocessable
from server.join_links import JoinLinks
from server.records import (
    Appointment,
    AppointmentKind,
    AppointmentStatus,
    JoinLink,
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
    """Applies the scheduling rules. Each change is one transaction: its checks, its rows,
    its usage-log rows and the appointment it answers with all come from that one ``tx``."""

    def __init__(self, db: Database, audit: AuditLog, links: JoinLinks) -> None:
        self.db = db
        self.audit = audit
        self.links = links
        # Session states not yet written (appointment id → ended); set when calls start.
        self.queued_sessions: Callable[[], Mapping[int, bool]] = dict

    @staticmethod
    async def _check_staff(tx: Tx, ids: set[int]) -> None:
        found = {s.id for s in await tx.list_staff_by_ids(ids) if s.active}
        missing = sorted(ids - found)
        if missing:
            raise Unprocessable("unknown_staff", f"No active staff member with id {missing[0]}.")

    async def _check_overlap(
        self, tx: Tx, host_id: int, starts_at: datetime, ends_at: datetime,
        ignore: int | None = None,
    ) -> None:
        """Read under the transaction's write lock, so no other booking can slip in.
        An appointment whose call staff ended blocks nothing."""
        other = await tx.find_overlapping_appointment(host_id, starts_at, ends_at, ignore,
                                                      self.queued_sessions())
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
        who = Actor.staff(actor.id)
        async with self.db.transaction() as tx:
            await self._check_staff(tx, {host_id, *staff_ids})
            await self._check_overlap(tx, host_id, body.starts_at, body.ends_at)
            appointment_id, participant_ids = await tx.create_appointment(
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
            await self.audit.record(who, Action.APPOINTMENT_CREATED, appointment_id, tx=tx)
            for participant_id in participant_ids:
                await self.audit.record(
                    who, Action.PARTICIPANT_ADDED, appointment_id, participant_id, tx=tx
                )
                await self.links.issue(tx, who, appointment_id, body.ends_at, participant_id, now)
            return await _load(tx, appointment_id)

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
            starts_at = patch.starts_at or current.starts_at
            ends_at = patch.ends_at or current.ends_at
            if patch.starts_at is not None or patch.ends_at is not None:
                check_times(starts_at, ends_at, now, new=False)
            host_id = patch.host_id if patch.host_id is not None else current.host.id
            staff_ids = set(patch.staff_ids) - {host_id} if patch.staff_ids is not None else None
            after = staff_ids if staff_ids is not None else {s.id for s in current.staff}
            if not actor.is_admin and actor.id != host_id and actor.id not in after:
                raise Forbidden("not_allowed", "You cannot remove yourself from the appointment.")
            await self._check_staff(tx, {host_id, *(staff_ids or set())})
            await self._check_overlap(tx, host_id, starts_at, ends_at, ignore=appointment_id)
            await tx.update_appointment(
                appointment_id,
                starts_at=starts_at,
                ends_at=ends_at,
                kind=patch.kind or current.kind,
                host_id=host_id,
                staff_ids=staff_ids,
                now=now,
            )
            await self.audit.record(who, Action.APPOINTMENT_UPDATED, appointment_id, tx=tx)
            await self.links.renew_short_links(tx, who, await _load(tx, appointment_id), now)
            return await _load(tx, appointment_id)

    async def cancel(self, actor: Staff, appointment_id: int, now: datetime) -> Appointment:
        async with self.db.transaction() as tx:
            await _changeable(tx, actor, appointment_id)
            await tx.cancel_appointment(appointment_id, now)
            await self.audit.record(
                Actor.staff(actor.id), Action.APPOINTMENT_CANCELLED, appointment_id, tx=tx
            )
            return await _load(tx, appointment_id)

    async def add_participant(
        self, actor: Staff, appointment_id: int, body: ParticipantIn, now: datetime
    ) -> tuple[Appointment, int]:
        who = Actor.staff(actor.id)
        async with self.db.transaction() as tx:
            current = await _changeable(tx, actor, appointment_id)
            if len(current.participants) >= MAX_PARTICIPANTS:
                raise Conflict(
                    "too_many_participants", "This appointment has no room for more people."
                )
            participant_id = await tx.add_participant(
                appointment_id, NewParticipant(body.display_name, body.role, body.contact), now
            )
            await self.audit.record(
                who, Action.PARTICIPANT_ADDED, appointment_id, participant_id, tx=tx
            )
            await self.links.issue(tx, who, appointment_id, current.ends_at, participant_id, now)
            return await _load(tx, appointment_id), participant_id

    async def remove_participant(
        self, actor: Staff, appointment_id: int, participant_id: int, now: datetime
    ) -> Appointment:
        async with self.db.transaction() as tx:
            current = await _changeable(tx, actor, appointment_id)
            _participant_of(current, participant_id)
            await tx.remove_participant(participant_id, now)
            await self.audit.record(
                Actor.staff(actor.id), Action.PARTICIPANT_REMOVED, appointment_id,
                participant_id, tx=tx,
            )
            return await _load(tx, appointment_id)

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


async def _visible(reads: Reads, actor: Staff, appointment_id: int) -> Appointment:
    appointment = await reads.get_appointment(appointment_id)
    if appointment is None or not can_see(actor, appointment):
        raise NotFound("appointment_not_found", "No such appointment.")
    return appointment


async def _changeable(reads: Reads, actor: Staff, appointment_id: int) -> Appointment:
    appointment = await _visible(reads, actor, appointment_id)
    if appointment.status is AppointmentStatus.CANCELLED:
        raise Conflict("appointment_cancelled", "This appointment has been cancelled.")
    return appointment


def _participant_of(appointment: Appointment, participant_id: int) -> Participant:
    participant = appointment.participant(participant_id)
    if participant is None:
        raise NotFound("participant_not_found", "No such participant in this appointment.")
    return participant

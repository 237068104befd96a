"""CallSessions: whether an appointment's call was ended for everyone, and reopening it.

Staff end a session in the call ("end for all"); the room stores that through the
CallStore. Reopening happens on the staff pages: the check, the stored state and the
``session.reopened`` usage-log row go in one transaction, and the live room (if any) lets
people in again right after the commit.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from server.appointments import Scheduler, can_see, clash_json
from server.audit import Action, Actor
from server.calls.join_window import join_window
from server.calls.store import CallStore
from server.db import Reads
from server.errors import Conflict, Forbidden, NotFound
from server.records import Appointment, AppointmentStatus, Staff
from server.settings import Settings
from signalling.room_registry import RoomRegistry


class SessionState(StrEnum):
    OPEN = "open"  # may be joined while the join window is open
    ENDED = "ended"  # staff ended it for everyone; staff may reopen it


class CallSessions:
    def __init__(self, scheduler: Scheduler, store: CallStore, rooms: RoomRegistry,
                 settings: Settings) -> None:
        self._scheduler = scheduler
        self._store = store
        self._rooms = rooms
        self._settings = settings

    async def state(self, reads: Reads, appointment_id: int) -> SessionState:
        ended = await self._store.session_ended(reads, appointment_id)
        return SessionState.ENDED if ended else SessionState.OPEN

    def may_reopen(self, actor: Staff, appointment: Appointment, now: datetime) -> bool:
        """Whether ``actor`` could reopen the appointment's session now, were it ended."""
        return (actor.id in appointment.staff_ids
                and appointment.status is not AppointmentStatus.CANCELLED
                and now <= join_window(appointment, self._settings).closes_at)

    async def reopen(self, actor: Staff, appointment_id: int, now: datetime) -> Appointment:
        """Lets people join the ended session again; the host or the appointment's staff only.

        Refused once the join window has closed, and when the host has meanwhile been
        booked for another appointment at that time (an ended session blocks no booking):
        two calls of one host at once is never right, so the error names the other one (its
        time, and its id and kind only to those who may see it, as a booking's overlap does).
        Reopening a session that is open changes nothing and logs nothing (a double click).
        """
        scheduler, tz = self._scheduler, self._settings.timezone
        async with scheduler.db.transaction() as tx:
            appointment = await tx.get_appointment(appointment_id)
            if appointment is None or not can_see(actor, appointment):
                raise NotFound("appointment_not_found", "No such appointment.")
            if actor.id not in appointment.staff_ids:  # an admin who is not one of its staff
                raise Forbidden("not_appointment_staff",
                                "Only the appointment's host or staff can reopen its meeting.")
            if appointment.status is AppointmentStatus.CANCELLED:
                raise Conflict("appointment_cancelled", "This appointment has been cancelled.")
            if not await self._store.session_ended(tx, appointment_id):
                return appointment
            if now > join_window(appointment, self._settings).closes_at:
                raise Conflict("appointment_over", "This appointment is over.")
            other_id = await tx.find_overlapping_appointment(
                appointment.host.id, appointment.starts_at, appointment.ends_at, appointment_id,
                self._store.queued_sessions())
            if other_id is not None:
                other = await tx.get_appointment(other_id)
                assert other is not None
                raise Conflict(
                    "reopen_overlap",
                    "The host has another appointment at that time: "
                    f"{other.starts_at.astimezone(tz):%H:%M}-{other.ends_at.astimezone(tz):%H:%M}.",
                    **clash_json(actor, other, tz),
                )
            await tx.reopen_call(appointment_id, now)
            await scheduler.audit.record(Actor.staff(actor.id), Action.SESSION_REOPENED,
                                         appointment_id, tx=tx)
        # No await from the commit to here: a second reopen waiting for the transaction
        # reads the session as open, and no queued snapshot of the end undoes this one.
        self._store.reopened(appointment_id)
        self._rooms.session_reopened(str(appointment_id))
        return appointment

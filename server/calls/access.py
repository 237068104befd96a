"""CallAccess: who a call socket's ``hello`` speaks for, and which appointment's call it is.

The Room decides what an identity may do; this only proves the identity. A family's
hello carries a join token, checked like ``POST /api/join`` checks it (signature and
stored state, revocation included); staff are known by the session cookie loaded for
``/ws``. A resume ticket is checked by the Room itself, against the seat's secret hash.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Final

from server.appointments import can_see
from server.audit import AuditLog
from server.calls.members import link_member, parse_call_id, staff_member
from server.db import Database
from server.errors import ApiError
from server.join_links import JoinLinks
from server.records import AppointmentStatus, StaffSession
from signalling import messages as wire
from signalling.errors import SignallingError
from signalling.ports import Entry

# Refusals of POST /api/join the call protocol says with the same code (docs/protocol.md);
# every other refusal of a token is ``token_invalid`` on the socket.
_SHARED_REFUSALS: Final = frozenset({"token_expired", "link_revoked", "appointment_cancelled"})


class CallAccess:
    def __init__(self, db: Database, links: JoinLinks, audit: AuditLog,
                 clock: Callable[[], datetime]) -> None:
        self._db = db
        self._links = links
        self._audit = audit
        self._clock = clock

    async def identify(self, hello: wire.Hello, staff: StaffSession | None,
                       appointment_id: int | None) -> Entry:
        """The verified entry, or SignallingError. ``appointment_id`` is the URL's, if any."""
        if hello.token is not None:
            return await self._family(hello.token, appointment_id)
        if hello.resume is not None:
            return await self._resume(hello.resume, appointment_id)
        if staff is None:
            raise SignallingError("unauthenticated")
        if appointment_id is None:
            raise SignallingError("unknown_appointment", "Name the appointment in the URL.")
        appointment = await self._db.get_appointment(appointment_id)
        if appointment is None or not can_see(staff.staff, appointment):
            raise SignallingError("unknown_appointment")
        if appointment.status is AppointmentStatus.CANCELLED:
            raise SignallingError("appointment_cancelled")
        return Entry(str(appointment.id), staff_member(staff.staff))

    async def _family(self, token: str, appointment_id: int | None) -> Entry:
        try:
            opened = await self._links.verify(token, self._clock())
        except ApiError as exc:
            code = exc.code if exc.code in _SHARED_REFUSALS else "token_invalid"
            raise SignallingError(code) from None
        participant = opened.participant
        if appointment_id is not None and appointment_id != opened.appointment.id:
            self._links.refused(participant.id, appointment_id, "token_wrong_appointment",
                                self._clock())
            raise SignallingError("token_invalid", "This link is for another appointment.")
        return Entry(str(opened.appointment.id), link_member(participant))

    async def _resume(self, ticket: wire.ResumeTicket, appointment_id: int | None) -> Entry:
        """The call a resume ticket is for: the URL's, or a link participant's own."""
        if appointment_id is None:
            holder = parse_call_id(ticket.participant)
            found = None
            if holder is not None and not holder.is_staff:
                found = await self._db.get_participant(holder.id)
            if found is None:
                raise SignallingError("resume_failed")
            appointment_id = found.appointment_id
        appointment = await self._db.get_appointment(appointment_id)
        if appointment is None or appointment.status is AppointmentStatus.CANCELLED:
            raise SignallingError("resume_failed")  # every failed resume looks the same
        return Entry(str(appointment_id), None)

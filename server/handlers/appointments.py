"""Appointments and their participants, for staff."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from aiohttp import web

from server.app_keys import CALL_SESSIONS, CLOCK, DB, ROOMS, SCHEDULER, SETTINGS
from server.appointments import (
    MAX_DURATION,
    AppointmentIn,
    AppointmentPatch,
    DeliveryIn,
    ParticipantIn,
)
from server.calls.sessions import SessionState
from server.db import Reads
from server.errors import BadRequest
from server.handlers.params import day_bounds, path_id, query_date, query_int
from server.records import Appointment, JoinLink, OutboxMessage, Participant, Staff
from server.request_bodies import decode_body
from server.staff_auth import require_staff

routes = web.RouteTableDef()

# A free time asked for on a later day is searched from this local time on.
DAY_START = time(8, 0)


def _person(staff: Staff) -> dict[str, Any]:
    return {"id": staff.id, "display_name": staff.display_name}


def link_json(link: JoinLink | None, tz: ZoneInfo) -> dict[str, Any] | None:
    if link is None:
        return None
    return {
        "status": "revoked" if link.revoked else "active",
        "issued_at": link.issued_at.astimezone(tz).isoformat(),
        "expires_at": link.expires_at.astimezone(tz).isoformat(),
    }


def _time(value: datetime | None, tz: ZoneInfo) -> str | None:
    return None if value is None else value.astimezone(tz).isoformat()


def message_json(message: OutboxMessage, tz: ZoneInfo) -> dict[str, Any]:
    """A message's state for staff: codes and times, never the text or the address."""
    return {
        "id": message.id,
        "purpose": message.purpose.value,
        "channel": message.channel.value,
        "state": message.state.value,
        "attempts": message.attempts,
        "last_error": message.last_error,
        "due_at": _time(message.due_at, tz),
        "sent_at": _time(message.sent_at, tz),
        "created_at": _time(message.created_at, tz),
    }


def participant_json(participant: Participant, tz: ZoneInfo) -> dict[str, Any]:
    return {
        "id": participant.id,
        "display_name": participant.display_name,
        "role": participant.role.value,
        "contact": participant.contact,
        "language": participant.language.value if participant.language else None,
        "delivery": participant.delivery.value,
        "link": link_json(participant.link, tz),
        "messages": [message_json(m, tz) for m in participant.messages],
    }


def appointment_json(appointment: Appointment, tz: ZoneInfo) -> dict[str, Any]:
    return {
        "id": appointment.id,
        "starts_at": appointment.starts_at.astimezone(tz).isoformat(),
        "ends_at": appointment.ends_at.astimezone(tz).isoformat(),
        "kind": appointment.kind.value,
        "status": appointment.status.value,
        "host": _person(appointment.host),
        "staff": [_person(s) for s in appointment.staff],
        "participants": [participant_json(p, tz) for p in appointment.participants],
        # organisation reports (docs/reports.md)
        "service_id": appointment.service_id,
        "municipality": appointment.municipality,
        "travel_km": appointment.travel_km,
        "travel_minutes": appointment.travel_minutes,
        # retention (docs/audit.md): names and contacts are gone when this is set
        "personal_data_removed_at": _time(appointment.personal_data_removed_at, tz),
    }


async def booking_summary(reads: Reads, appointment: Appointment) -> dict[str, Any] | None:
    """The family's own booking behind the appointment, for staff who can see it: the
    service and what the family wrote it wants to talk about (never logged)."""
    booking = await reads.get_booking_for_appointment(appointment.id)
    if booking is None:
        return None
    service = await reads.get_service(booking.service_id)
    return {"service": service.name if service else None, "topic": booking.topic}


@routes.get("/api/appointments")
async def list_appointments(request: web.Request) -> web.Response:
    session = require_staff(request)
    tz = request.app[SETTINGS].timezone
    today = request.app[CLOCK]().astimezone(tz).date()
    day = query_date(request, "date", today)
    start, end = day_bounds(day, tz)
    found = await request.app[SCHEDULER].list_between(
        session.staff, start, end, query_int(request, "host_id")
    )
    return web.json_response(
        {"date": day.isoformat(), "appointments": [appointment_json(a, tz) for a in found]}
    )


@routes.post("/api/appointments")
async def create_appointment(request: web.Request) -> web.Response:
    session = require_staff(request)
    body = await decode_body(request, AppointmentIn)
    created = await request.app[SCHEDULER].create(session.staff, body, request.app[CLOCK]())
    return web.json_response(appointment_json(created, request.app[SETTINGS].timezone), status=201)


@routes.get("/api/appointments/{id}")
async def get_appointment(request: web.Request) -> web.Response:
    session = require_staff(request)
    found = await request.app[SCHEDULER].get(session.staff, path_id(request, "id"))
    return web.json_response(await _with_session(request, session.staff, found))


async def _with_session(request: web.Request, staff: Staff,
                        appointment: Appointment) -> dict[str, Any]:
    """The appointment and its call session: ``ended`` (for everyone) or ``open``, and
    ``may_reopen``: whether this staff member may reopen an ended one now."""
    sessions = request.app[CALL_SESSIONS]
    body = appointment_json(appointment, request.app[SETTINGS].timezone)
    body["booking"] = await booking_summary(request.app[DB], appointment)
    state = await sessions.state(request.app[DB], appointment.id)
    body["session"] = state.value
    if state is SessionState.ENDED:
        body["may_reopen"] = sessions.may_reopen(staff, appointment, request.app[CLOCK]())
    return body


@routes.post("/api/appointments/{id}/reopen")
async def reopen_session(request: web.Request) -> web.Response:
    """Lets people join a session ended for everyone again (see server/calls/sessions.py)."""
    session = require_staff(request)
    reopened = await request.app[CALL_SESSIONS].reopen(
        session.staff, path_id(request, "id"), request.app[CLOCK]())
    return web.json_response(await _with_session(request, session.staff, reopened))


@routes.patch("/api/appointments/{id}")
async def update_appointment(request: web.Request) -> web.Response:
    session = require_staff(request)
    patch = await decode_body(request, AppointmentPatch)
    updated = await request.app[SCHEDULER].update(
        session.staff, path_id(request, "id"), patch, request.app[CLOCK]()
    )
    await request.app[ROOMS].appointment_changed(str(updated.id))
    return web.json_response(appointment_json(updated, request.app[SETTINGS].timezone))


@routes.post("/api/appointments/{id}/cancel")
async def cancel_appointment(request: web.Request) -> web.Response:
    session = require_staff(request)
    cancelled = await request.app[SCHEDULER].cancel(
        session.staff, path_id(request, "id"), request.app[CLOCK]()
    )
    await request.app[ROOMS].appointment_changed(str(cancelled.id))
    return web.json_response(appointment_json(cancelled, request.app[SETTINGS].timezone))


@routes.post("/api/appointments/{id}/participants")
async def add_participant(request: web.Request) -> web.Response:
    session = require_staff(request)
    body = await decode_body(request, ParticipantIn)
    updated, participant_id = await request.app[SCHEDULER].add_participant(
        session.staff, path_id(request, "id"), body, request.app[CLOCK]()
    )
    added = updated.participant(participant_id)
    assert added is not None
    return web.json_response(participant_json(added, request.app[SETTINGS].timezone), status=201)


@routes.delete("/api/appointments/{id}/participants/{pid}")
async def remove_participant(request: web.Request) -> web.Response:
    session = require_staff(request)
    appointment_id = path_id(request, "id")
    await request.app[SCHEDULER].remove_participant(
        session.staff, appointment_id, path_id(request, "pid"), request.app[CLOCK]()
    )
    await request.app[ROOMS].appointment_changed(str(appointment_id))
    return web.Response(status=204)


@routes.put("/api/appointments/{id}/participants/{pid}/delivery")
async def set_delivery(request: web.Request) -> web.Response:
    """How the person's link goes from now on: e-mail, SMS or by hand."""
    session = require_staff(request)
    body = await decode_body(request, DeliveryIn)
    participant = await request.app[SCHEDULER].set_delivery(
        session.staff, path_id(request, "id"), path_id(request, "pid"), body,
        request.app[CLOCK](),
    )
    return web.json_response(participant_json(participant, request.app[SETTINGS].timezone))


@routes.post("/api/appointments/{id}/participants/{pid}/messages")
async def resend_invitation(request: web.Request) -> web.Response:
    """The invitation again; a second click while it is under way gets the same one."""
    session = require_staff(request)
    message, created = await request.app[SCHEDULER].resend_invitation(
        session.staff, path_id(request, "id"), path_id(request, "pid"), request.app[CLOCK]()
    )
    return web.json_response(
        {"message": message_json(message, request.app[SETTINGS].timezone)},
        status=201 if created else 200,
    )


@routes.get("/api/staff/{id}/next_free")
async def get_next_free(request: web.Request) -> web.Response:
    """The next free half hour of a host, for the form's default start."""
    require_staff(request)
    tz = request.app[SETTINGS].timezone
    now = request.app[CLOCK]()
    minutes = query_int(request, "duration_minutes") or 60
    if not 1 <= minutes <= MAX_DURATION.total_seconds() // 60:
        raise BadRequest("bad_query", "duration_minutes must be between 1 and 720.")
    day = query_date(request, "date", now.astimezone(tz).date())
    after = max(now, datetime.combine(day, DAY_START, tz))
    starts_at = await request.app[SCHEDULER].next_free(
        path_id(request, "id"), timedelta(minutes=minutes), after
    )
    local = starts_at.astimezone(tz)
    return web.json_response(
        {
            "starts_at": local.isoformat(),
            "ends_at": (starts_at + timedelta(minutes=minutes)).astimezone(tz).isoformat(),
            "starts_local": local.replace(tzinfo=None).isoformat(timespec="minutes"),
            "timezone": tz.key,
        }
    )

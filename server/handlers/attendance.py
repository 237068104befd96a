"""Attendance of an appointment's call, for the staff who can see the appointment."""

from __future__ import annotations

from typing import Any
from zoneinfo import ZoneInfo

from aiohttp import web

from server.app_keys import AUDIT, CLOCK, DB, ROOMS, SCHEDULER, SETTINGS
from server.calls.attendance import CALL_ACTIONS, Attendance, derive_attendance
from server.calls.members import STAFF_ROLE, CallId, parse_call_id
from server.db import Database
from server.handlers.params import path_id
from server.records import Appointment
from server.staff_auth import require_staff

routes = web.RouteTableDef()


@routes.get("/api/appointments/{id}/attendance")
async def get_attendance(request: web.Request) -> web.Response:
    """Everyone of the appointment, plus anyone else the call log names (e.g. removed)."""
    session = require_staff(request)
    appointment = await request.app[SCHEDULER].get(session.staff, path_id(request, "id"))
    # Call rows still queued are written first, so the answer is up to the moment.
    await request.app[AUDIT].flush()
    db = request.app[DB]
    rows = await db.list_audit_rows_for_appointment(appointment.id, CALL_ACTIONS)
    if rows:  # the crashes since the call began end the spells they cut
        rows += await db.list_server_lost_rows(after_id=rows[0].id)
    live = request.app[ROOMS].get(str(appointment.id))
    connected = {c for pid in (live.connected() if live else ()) if (c := parse_call_id(pid))}
    found = derive_attendance(rows, connected, request.app[CLOCK]())
    names = await _names(db, appointment, found)
    tz = request.app[SETTINGS].timezone
    return web.json_response({
        "appointment_id": appointment.id,
        "participants": [_json(who, names[who], found.get(who), tz) for who in names],
    })


async def _names(
    db: Database, appointment: Appointment, found: dict[CallId, Attendance]
) -> dict[CallId, tuple[str, str]]:
    """Display name and role by call id: staff first (host first), then link participants."""
    names = {CallId(True, s.id): (s.display_name, STAFF_ROLE)
             for s in (appointment.host, *appointment.staff)}
    missing_staff = [who.id for who in found if who.is_staff and who not in names]
    for staff in await db.list_staff_by_ids(missing_staff):
        names[CallId(True, staff.id)] = (staff.display_name, STAFF_ROLE)
    for p in appointment.participants:
        names[CallId(False, p.id)] = (p.display_name, p.role.value)
    for who in sorted(w for w in found if not w.is_staff and w not in names):
        removed = await db.get_participant(who.id)
        if removed is not None and removed.appointment_id == appointment.id:
            names[who] = (removed.display_name, removed.role.value)
    return names


def _json(who: CallId, name: tuple[str, str], seen: Attendance | None,
          tz: ZoneInfo) -> dict[str, Any]:
    def time(value: Any) -> str | None:
        return None if value is None else value.astimezone(tz).isoformat()

    return {
        "participant": str(who),
        "kind": "staff" if who.is_staff else "participant",
        "id": who.id,
        "display_name": name[0],
        "role": name[1],
        "first_joined": time(seen.first_joined) if seen else None,
        "last_left": time(seen.last_left) if seen else None,
        "connected_seconds": int(seen.connected.total_seconds()) if seen else 0,
        "in_call": seen.in_call if seen else False,
    }

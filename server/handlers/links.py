"""Staff side of join links: copy, renew and revoke a participant's link."""

from __future__ import annotations

from aiohttp import web

from server.app_keys import CLOCK, LINKS, ROOMS, SCHEDULER, SETTINGS
from server.audit import Action, Actor
from server.call_members import link_member
from server.errors import Conflict, NotFound
from server.handlers.appointments import link_json
from server.handlers.params import path_id
from server.records import Appointment, JoinLink, Participant
from server.staff_auth import require_staff

routes = web.RouteTableDef()

LINK_PATH = "/api/appointments/{id}/participants/{pid}/link"


async def _participant(
    request: web.Request, *, changing: bool
) -> tuple[Actor, Appointment, Participant]:
    session = require_staff(request)
    scheduler = request.app[SCHEDULER]
    appointment_id = path_id(request, "id")
    if changing:
        appointment = await scheduler.get_changeable(session.staff, appointment_id)
    else:
        appointment = await scheduler.get(session.staff, appointment_id, log=False)
    participant = appointment.participant(path_id(request, "pid"))
    if participant is None:
        raise NotFound("participant_not_found", "No such participant in this appointment.")
    return Actor.staff(session.staff.id), appointment, participant


def _link_response(request: web.Request, link: JoinLink, status: int = 200) -> web.Response:
    body = {
        "participant_id": link.participant_id,
        "url": request.app[LINKS].url(link),
        **(link_json(link, request.app[SETTINGS].timezone) or {}),
    }
    response = web.json_response(body, status=status)
    response.headers["Cache-Control"] = "no-store"
    return response


@routes.get(LINK_PATH)
async def get_link(request: web.Request) -> web.Response:
    actor, appointment, participant = await _participant(request, changing=False)
    link = participant.link
    if link is None or link.revoked:
        raise NotFound("link_not_active", "This person has no active link. Create a new one.")
    await request.app[LINKS].audit.record(actor, Action.LINK_READ, appointment.id, participant.id)
    return _link_response(request, link)


@routes.post(LINK_PATH)
async def issue_link(request: web.Request) -> web.Response:
    actor, appointment, participant = await _participant(request, changing=True)
    if appointment.ends_at + request.app[LINKS].grace <= request.app[CLOCK]():
        raise Conflict("appointment_over", "This appointment is over.")
    link = await request.app[LINKS].issue(actor, appointment, participant.id, request.app[CLOCK]())
    request.app[ROOMS].link_issued(str(appointment.id), link_member(participant).participant_id)
    return _link_response(request, link, status=201)


@routes.delete(LINK_PATH)
async def revoke_link(request: web.Request) -> web.Response:
    actor, appointment, participant = await _participant(request, changing=False)
    await request.app[LINKS].revoke(actor, appointment.id, participant.id, request.app[CLOCK]())
    request.app[ROOMS].link_stopped(str(appointment.id), link_member(participant).participant_id)
    return web.Response(status=204)

"""Staff side of join links: copy, renew and revoke a participant's link."""

from __future__ import annotations

from aiohttp import web

from server.app_keys import CLOCK, LINKS, ROOMS, SCHEDULER, SETTINGS
from server.calls.members import CallId
from server.handlers.appointments import link_json
from server.handlers.params import path_id
from server.records import JoinLink
from server.staff_auth import require_staff

routes = web.RouteTableDef()

LINK_PATH = "/api/appointments/{id}/participants/{pid}/link"


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
    session = require_staff(request)
    link = await request.app[SCHEDULER].read_link(
        session.staff, path_id(request, "id"), path_id(request, "pid")
    )
    return _link_response(request, link)


@routes.post(LINK_PATH)
async def issue_link(request: web.Request) -> web.Response:
    session = require_staff(request)
    appointment_id, participant_id = path_id(request, "id"), path_id(request, "pid")
    link = await request.app[SCHEDULER].issue_link(
        session.staff, appointment_id, participant_id, request.app[CLOCK]()
    )
    request.app[ROOMS].link_issued(str(appointment_id), str(CallId(False, participant_id)))
    return _link_response(request, link, status=201)


@routes.delete(LINK_PATH)
async def revoke_link(request: web.Request) -> web.Response:
    session = require_staff(request)
    appointment_id, participant_id = path_id(request, "id"), path_id(request, "pid")
    await request.app[SCHEDULER].revoke_link(
        session.staff, appointment_id, participant_id, request.app[CLOCK]()
    )
    request.app[ROOMS].link_stopped(str(appointment_id), str(CallId(False, participant_id)))
    return web.Response(status=204)

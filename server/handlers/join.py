"""The family side of a join link: exchange the token for what the family may see."""

from __future__ import annotations

import time

import msgspec
from aiohttp import web

from server.app_keys import CALL_SESSIONS, CLOCK, DB, JOIN_THROTTLE, LINKS, SETTINGS
from server.calls.join_window import join_window
from server.join_throttle import check_join_rate
from server.request_bodies import decode_body
from server.staff_auth import client_address

routes = web.RouteTableDef()


class JoinIn(msgspec.Struct, forbid_unknown_fields=True):
    # No length bounds here: an empty or overlong token is refused by decode_token as
    # token_malformed (and logged as link.refused); the body limit caps the size.
    token: str


@routes.post("/api/join")
async def open_join_link(request: web.Request) -> web.Response:
    """Only what a family needs: time, the host's first name, their own name and
    language, and the server's clock and zone (the page shows times in that zone and
    waits for the window by the server's clock, not the device's).

    Never the appointment's kind, other participants or anyone's contact details.
    """
    check_join_rate(request.app[JOIN_THROTTLE], client_address(request), time.monotonic())
    body = await decode_body(request, JoinIn)
    settings = request.app[SETTINGS]
    now = request.app[CLOCK]()
    opened = await request.app[LINKS].open(body.token, now)
    appointment, participant = opened.appointment, opened.participant
    tz = settings.timezone
    window = join_window(appointment, settings)
    session = await request.app[CALL_SESSIONS].state(request.app[DB], appointment.id)
    response = web.json_response(
        {
            "participant": {
                "id": participant.id,
                "display_name": participant.display_name,
                "role": participant.role.value,
                "language": participant.language.value if participant.language else None,
            },
            "appointment": {
                "starts_at": appointment.starts_at.astimezone(tz).isoformat(),
                "ends_at": appointment.ends_at.astimezone(tz).isoformat(),
                "host_first_name": appointment.host.first_name,
                "timezone": str(tz),
            },
            "join_window": {
                "opens_at": window.opens_at.astimezone(tz).isoformat(),
                "closes_at": window.closes_at.astimezone(tz).isoformat(),
            },
            "now": now.astimezone(tz).isoformat(),
            "timezone": str(tz),
            # "ended": staff ended the meeting for everyone (they may reopen it).
            "session": session.value,
        }
    )
    response.headers["Cache-Control"] = "no-store"
    return response

"""The call WebSocket, ``GET /ws``: upgrade, and hand the socket to a Connection.

The first message (``hello``) says who is calling: a family's join token, a resume
ticket, or nothing, for staff known by their session cookie. ``?appointment=<id>``
names the call; staff must give it, a family's token names it already. See
docs/protocol.md.
"""

from __future__ import annotations

import logging
from urllib.parse import urlsplit

from aiohttp import web

from server.app_keys import (
    CALL_ACCESS,
    CALL_SOCKET_LIMITS,
    CALL_SOCKET_QUOTA,
    COALESCED_LOG,
    HEARTBEAT,
    ROOMS,
    SETTINGS,
)
from server.call_socket_quota import CallSocketQuota
from server.errors import ApiError, BadRequest, Forbidden, Unavailable, error_response
from server.handlers.params import query_int
from server.records import StaffSession
from server.settings import Settings
from server.staff_auth import current_staff
from signalling.connection import Connection, ConnectionLimits
from signalling.messages import MAX_MESSAGE_BYTES, Hello
from signalling.ports import Entry

logger = logging.getLogger(__name__)
routes = web.RouteTableDef()

CLOSE_TIMEOUT = 2.0
RETRY_AFTER_SECONDS = 10  # a refused call socket's Retry-After
# Frames up to twice the limit are read and refused with an `error`; larger ones are
# cut off by aiohttp with 1009 before they are buffered.
READ_LIMIT = 2 * MAX_MESSAGE_BYTES


def connection_limits(settings: Settings) -> ConnectionLimits:
    return ConnectionLimits(
        hello_timeout=settings.hello_timeout_seconds,
        rate=settings.ws_rate_per_second,
        burst=settings.ws_burst,
        send_queue=settings.ws_send_queue,
        close_timeout=CLOSE_TIMEOUT,
    )


@routes.get("/ws")
async def open_call_socket(request: web.Request) -> web.StreamResponse:
    """Errors before the upgrade are answered here: no error middleware waits on a call."""
    app = request.app
    quota = app[CALL_SOCKET_QUOTA]
    if not quota.take():
        return _refuse_over_quota(app, quota)
    try:  # all in this coroutine: a helper's frame would live as long as the socket
        try:
            ws, staff, appointment_id = await _upgrade(request)
        except ApiError as exc:
            return error_response(exc)
        access = app[CALL_ACCESS]

        async def identify(hello: Hello) -> Entry:
            return await access.identify(hello, staff, appointment_id)

        transport = request.transport  # the socket's, which Connection writes frames to
        if transport is None:  # the client went away during the upgrade
            return ws
        await Connection(ws, transport, app[ROOMS], app[HEARTBEAT], identify,
                         app[CALL_SOCKET_LIMITS]).run()
        return ws
    finally:
        quota.give_back()


def _refuse_over_quota(app: web.Application, quota: CallSocketQuota) -> web.Response:
    """Before the upgrade, so the refused client holds no socket; logged once per interval."""
    app[COALESCED_LOG].log(logger, logging.WARNING, "ws.call_sockets_refused", limit=quota.limit)
    return error_response(Unavailable(
        "too_many_call_sockets", "The server has too many calls open. Try again in a moment.",
        retry_after=RETRY_AFTER_SECONDS))


async def _upgrade(
    request: web.Request,
) -> tuple[web.WebSocketResponse, StaffSession | None, int | None]:
    appointment_id = query_int(request, "appointment")
    check_origin(request, request.app[SETTINGS])
    # No aiohttp heartbeat (a timer per socket): the app's Heartbeat pings every socket.
    ws = web.WebSocketResponse(max_msg_size=READ_LIMIT, autoping=False, timeout=CLOSE_TIMEOUT,
                               compress=False)
    if not ws.can_prepare(request).ok:
        raise BadRequest("websocket_expected", "Open this address as a WebSocket.")
    staff = await current_staff(request)
    await ws.prepare(request)
    return ws, staff, appointment_id


def check_origin(request: web.Request, settings: Settings) -> None:
    """Browsers send Origin on every WebSocket; another site's page must not ride the cookie."""
    origin = request.headers.get("Origin")
    if origin is None:
        return  # not a browser (a bot or a test client): it has no staff cookie to abuse
    parts = urlsplit(origin)
    if f"{parts.scheme}://{parts.netloc}" not in {f"{request.scheme}://{request.host}",
                                                  settings.public_url}:
        raise Forbidden("cross_origin", "This request came from another site and was refused.")

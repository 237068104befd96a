"""The contact-line WebSocket, ``GET /ws/line``: upgrade, read frames, hand them to the hub.

A person's first message names a public line, its family's enrolment secret or a resume
ticket; a professional's says ``staff`` and the session cookie says who. Every bad frame
is answered with an ``error`` (docs/protocol-lines.md), never a crash.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Final

from aiohttp import WSMsgType, web

from server.app_keys import HEARTBEAT, LINE_HUB, METRICS, SETTINGS
from server.errors import ApiError, BadRequest, error_response
from server.handlers.signalling_ws import CLOSE_TIMEOUT, READ_LIMIT, check_origin
from server.line_hub import LineSocket
from server.staff_auth import current_staff
from signalling import line_messages as wire
from signalling.rate_limit import RateLimiter

logger = logging.getLogger(__name__)
routes = web.RouteTableDef()

_CONTROL: Final = frozenset({WSMsgType.PING, WSMsgType.PONG})


@routes.get("/ws/line")
async def open_line_socket(request: web.Request) -> web.StreamResponse:
    app = request.app
    settings = app[SETTINGS]
    try:
        check_origin(request, settings)
        ws = web.WebSocketResponse(max_msg_size=READ_LIMIT, autoping=False,
                                   timeout=CLOSE_TIMEOUT, compress=False)
        if not ws.can_prepare(request).ok:
            raise BadRequest("websocket_expected", "Open this address as a WebSocket.")
    except ApiError as exc:
        return error_response(exc)
    staff = await current_staff(request)
    await ws.prepare(request)
    hub, heartbeat = app[LINE_HUB], app[HEARTBEAT]
    sock = LineSocket(ws)
    heartbeat.add(sock)
    loop = asyncio.get_running_loop()
    limiter = RateLimiter(settings.ws_rate_per_second, settings.ws_burst)
    hello_by = loop.time() + settings.hello_timeout_seconds
    try:
        while not ws.closed:
            timeout = None if sock.joined else hello_by - loop.time()
            if timeout is not None and timeout <= 0:
                break
            try:
                msg = await ws.receive(timeout=timeout)
            except TimeoutError:
                break
            sock.heard = True
            if msg.type in _CONTROL:
                if msg.type is WSMsgType.PING:
                    await ws.pong(msg.data)
                continue
            if msg.type not in (WSMsgType.TEXT, WSMsgType.BINARY):
                break  # closed, closing or broken: the client is gone
            try:
                if not limiter.allow(loop.time()):
                    raise wire.LineError("rate_limited")
                if msg.type is WSMsgType.BINARY:
                    raise wire.LineError("bad_message", "Send JSON in text frames.")
                message = wire.decode_client(msg.data)
                if sock.joined:
                    await hub.handle(sock, message)
                elif isinstance(message, wire.Hello):
                    await hub.hello(sock, message, staff)
                else:
                    raise wire.LineError("not_joined")
            except wire.LineError as exc:
                sock.send(exc.fact())
                app[METRICS].refused(exc.code)
                logger.info("line.refused", extra={"code": exc.code})
                if exc.fatal:
                    sock.close(1008 if exc.code != "message_too_big" else 1009)
                    break
            del msg
    except Exception:
        logger.exception("line.internal_error")
        sock.send(wire.LineError("internal").fact())
        app[METRICS].refused("internal")
        sock.close(1011)
    finally:
        heartbeat.discard(sock)
        hub.disconnected(sock)
        sock.close(1000)
        await sock.finish()
    return ws

"""The pre-call connection test: ``/api/connection-test`` and its offer and result.

Families send their join token in each body (never in a URL); staff use their session
cookie and CSRF header. See docs/api.md, "Connection test".
"""

from __future__ import annotations

import time
from typing import Annotated, Literal

import msgspec
from aiohttp import web
from msgspec import Meta

from server.app_keys import CLOCK, CONNECTION_TESTS, JOIN_THROTTLE, LINKS, METRICS, SETTINGS
from server.audit import Actor
from server.connection_tests import Caller, Measurements
from server.connection_verdict import Verdict, thresholds_json
from server.join_throttle import check_join_rate
from server.request_bodies import decode_body
from server.staff_auth import client_address, require_staff
from signalling.messages import Sdp

routes = web.RouteTableDef()

Token = Annotated[str, Meta(max_length=2048)] | None
Number = Annotated[float, Meta(ge=0, le=1_000_000)] | None
Percent = Annotated[float, Meta(ge=0, le=100)] | None


class StartIn(msgspec.Struct, forbid_unknown_fields=True):
    token: Token = None


class OfferIn(msgspec.Struct, forbid_unknown_fields=True):
    type: Literal["offer"]
    sdp: Sdp
    token: Token = None


class ResultIn(msgspec.Struct, forbid_unknown_fields=True):
    rtt_ms: Number
    loss_pct: Percent
    jitter_ms: Number
    bitrate_kbps: Number
    relay_reachable: bool
    verdict: Verdict
    token: Token = None


async def _caller(request: web.Request, token: str | None) -> Caller:
    """A family by its join link (checked like the call socket checks it), else staff."""
    if token is not None:
        check_join_rate(request.app[JOIN_THROTTLE], client_address(request), time.monotonic())
        opened = await request.app[LINKS].verify(token, request.app[CLOCK]())
        pid = opened.participant.id
        return Caller(f"l:{pid}", Actor.participant(pid), opened.appointment.id, pid)
    staff = require_staff(request).staff
    return Caller(f"s:{staff.id}", Actor.staff(staff.id))


@routes.post("/api/connection-test")
async def start_connection_test(request: web.Request) -> web.Response:
    body = await decode_body(request, StartIn)
    caller = await _caller(request, body.token)
    tests = request.app[CONNECTION_TESTS]
    test = tests.open(caller)
    response = web.json_response({
        "id": test.id,
        "ice_servers": msgspec.to_builtins(tests.ice_servers(test)),
        # The call's policy too, so the test tries the route the call will take.
        "ice_transport_policy": request.app[SETTINGS].ice_transport_policy,
        "max_seconds": tests.max_seconds,
        "thresholds": thresholds_json(),
    }, status=201)
    response.headers["Cache-Control"] = "no-store"
    return response


@routes.post("/api/connection-test/{id}/offer")
async def answer_connection_test(request: web.Request) -> web.Response:
    body = await decode_body(request, OfferIn)
    caller = await _caller(request, body.token)
    sdp = await request.app[CONNECTION_TESTS].answer(request.match_info["id"], caller, body.sdp)
    return web.json_response({"type": "answer", "sdp": sdp})


@routes.post("/api/connection-test/{id}/result")
async def report_connection_test(request: web.Request) -> web.Response:
    body = await decode_body(request, ResultIn)
    caller = await _caller(request, body.token)
    numbers = Measurements(body.rtt_ms, body.loss_pct, body.jitter_ms, body.bitrate_kbps,
                           body.relay_reachable, body.verdict)
    verdict = await request.app[CONNECTION_TESTS].finish(request.match_info["id"], caller,
                                                         numbers)
    request.app[METRICS].connection_tested(verdict)
    return web.json_response({"verdict": verdict.value})

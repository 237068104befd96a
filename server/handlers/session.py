"""Staff sign-in and sign-out."""

from __future__ import annotations

import time
from typing import Annotated, Any

import msgspec
from aiohttp import web

from server import staff_auth
from server.app_keys import AUDIT, CLOCK, DB, LOGIN_THROTTLE, PASSWORDS, SETTINGS
from server.audit import SYSTEM, Action, Actor
from server.errors import TooManyRequests, Unauthorized
from server.records import Staff
from server.request_bodies import decode_body
from server.settings import Settings
from server.staff_throttle import ADDRESS_PREFIX

routes = web.RouteTableDef()


class LoginIn(msgspec.Struct, forbid_unknown_fields=True):
    username: Annotated[str, msgspec.Meta(min_length=1, max_length=100)]
    password: Annotated[str, msgspec.Meta(min_length=1, max_length=1000)]


def staff_json(staff: Staff) -> dict[str, Any]:
    return {
        "id": staff.id,
        "username": staff.username,
        "display_name": staff.display_name,
        "role": staff.role.value,
        "title": staff.title,
        "registry": staff.registry,
    }


def messaging_json(settings: Settings) -> dict[str, bool]:
    return {"email": settings.email_enabled, "sms": settings.sms_enabled}


@routes.post("/api/session")
async def create_session(request: web.Request) -> web.Response:
    body = await decode_body(request, LoginIn)
    throttle = request.app[LOGIN_THROTTLE]
    keys = (f"user:{body.username.lower()}",
            f"{ADDRESS_PREFIX}{staff_auth.client_address(request)}")
    wait = throttle.attempt(keys, time.monotonic())
    if wait > 0:
        raise TooManyRequests(
            "too_many_attempts",
            "Too many failed sign-ins. Wait a moment and try again.",
            retry_after=int(wait) + 1,
        )
    found = await request.app[DB].get_staff_by_username(body.username)
    staff, password_hash = found if found else (None, None)
    # Verified first, for unknown and inactive accounts too (against a dummy hash).
    correct = await request.app[PASSWORDS].verify(password_hash, body.password)
    if staff is None or not staff.active or not correct:
        actor = Actor.staff(staff.id) if staff else SYSTEM
        await request.app[AUDIT].record(actor, Action.STAFF_LOGIN_FAILED)
        raise Unauthorized("bad_credentials", "The username or password is wrong.")
    throttle.succeeded(keys)
    value, session = await staff_auth.start_session(request, staff)
    response = web.json_response(
        {
            "staff": staff_json(staff),
            "csrf_token": session.csrf_token,
            "timezone": str(request.app[SETTINGS].timezone),
            "messaging": messaging_json(request.app[SETTINGS]),
        },
        status=201,
    )
    staff_auth.set_session_cookie(response, value, request.app[SETTINGS])
    return response


@routes.get("/api/session")
async def get_session(request: web.Request) -> web.Response:
    session = staff_auth.require_staff(request)
    return web.json_response(
        {
            "staff": staff_json(session.staff),
            "csrf_token": session.csrf_token,
            "expires_at": session.expires_at.isoformat(),
            "now": request.app[CLOCK]().isoformat(),
            # KOTA_TIMEZONE: staff pages show every time in it, wherever the device is.
            "timezone": str(request.app[SETTINGS].timezone),
            # Which deliveries staff may choose besides "by hand".
            "messaging": messaging_json(request.app[SETTINGS]),
        }
    )


@routes.delete("/api/session")
async def delete_session(request: web.Request) -> web.Response:
    session = staff_auth.require_staff(request)
    await staff_auth.end_session(request, session.staff)
    response = web.Response(status=204)
    staff_auth.clear_session_cookie(response, request.app[SETTINGS])
    return response


@routes.get("/api/staff")
async def list_staff(request: web.Request) -> web.Response:
    staff_auth.require_staff(request)
    people = await request.app[DB].list_staff()
    return web.json_response(
        {
            "staff": [
                {"id": s.id, "display_name": s.display_name, "role": s.role.value,
                 "title": s.title, "registry": s.registry} for s in people
            ]
        }
    )

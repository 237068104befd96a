"""Contact lines over REST: the admin's line set-up, families' own links to personal
lines, call-backs, and the public page's look at a line (no account)."""

from __future__ import annotations

import inspect
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from aiohttp import web

from server import app_keys
from server.app_keys import CLOCK, DB, LINE_CALLBACKS, LINE_CATALOG, LINE_ENROLMENTS, SETTINGS
from server.errors import NotFound
from server.handlers.params import path_id
from server.line_catalog import LineIn, staff_names
from server.line_enrolments import EnrolmentIn
from server.line_hours import hours_now
from server.records import Enrolment, Line, LineCallback, LineKind
from server.request_bodies import decode_body
from server.staff_auth import require_admin, require_staff

routes = web.RouteTableDef()


def line_hub(app: web.Application) -> Any:
    """The live queues (``server/line_hub.py``) when this app runs them, else None."""
    key = getattr(app_keys, "LINE_HUB", None)
    return None if key is None else app.get(key)


def line_changed(app: web.Application, line_id: int) -> None:
    """Tells the live queues that a line's settings changed (cap, hours, staff, active)."""
    notify = getattr(line_hub(app), "line_changed", None)
    if notify is not None:
        notify(line_id)


def _time(value: datetime | None, tz: ZoneInfo) -> str | None:
    return None if value is None else value.astimezone(tz).isoformat()


def _staff(ids: tuple[int, ...], names: dict[int, str]) -> list[dict[str, Any]]:
    return [{"id": i, "display_name": names.get(i, "")} for i in ids]


def line_json(line: Line, names: dict[int, str], public_url: str) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": line.id,
        "slug": line.slug,
        "name": line.name,
        "kind": line.kind.value,
        "modes": line.modes.value,
        "queue_cap": line.queue_cap,
        "grace_minutes": line.grace_minutes,
        "callback_after_minutes": line.callback_after_minutes,
        "active": line.active,
        "staff": _staff(line.staff_ids, names),
        "hours": [
            {"weekday": h.weekday, "opens": h.opens.strftime("%H:%M"),
             "closes": h.closes.strftime("%H:%M")}
            for h in line.hours
        ],
        "closures": [
            {"starts_on": c.starts_on.isoformat(), "ends_on": c.ends_on.isoformat(),
             "note": c.note}
            for c in line.closures
        ],
    }
    if line.kind is LineKind.PUBLIC:
        body["public_url"] = f"{public_url.rstrip('/')}/line/{line.slug}"
    return body


def enrolment_json(enrolment: Enrolment, names: dict[int, str], tz: ZoneInfo) -> dict[str, Any]:
    return {
        "id": enrolment.id,
        "family_name": enrolment.family_name,
        "language": enrolment.language.value,
        "staff": _staff(enrolment.staff_ids, names),
        "created_at": _time(enrolment.created_at, tz),
        "revoked_at": _time(enrolment.revoked_at, tz),
        "last_used_at": _time(enrolment.last_used_at, tz),
    }


def callback_json(callback: LineCallback, tz: ZoneInfo) -> dict[str, Any]:
    return {
        "id": callback.id,
        "enrolment": callback.enrolment_id,
        "family_name": callback.family_name,
        "requested_at": _time(callback.requested_at, tz),
        "done_at": _time(callback.done_at, tz),
        "done_by": callback.done_by,
    }


async def _line_response(request: web.Request, line: Line, status: int = 200) -> web.Response:
    names = await staff_names(request.app[DB], line.staff_ids)
    return web.json_response(line_json(line, names, request.app[SETTINGS].public_url),
                             status=status)


@routes.get("/api/lines")
async def list_lines(request: web.Request) -> web.Response:
    session = require_staff(request)
    found = await request.app[LINE_CATALOG].list_for(session.staff)
    names = await staff_names(request.app[DB], (s for line in found for s in line.staff_ids))
    public_url = request.app[SETTINGS].public_url
    return web.json_response({"lines": [line_json(line, names, public_url) for line in found]})


@routes.post("/api/lines")
async def create_line(request: web.Request) -> web.Response:
    session = require_admin(request)
    body = await decode_body(request, LineIn)
    created = await request.app[LINE_CATALOG].create(session.staff, body, request.app[CLOCK]())
    return await _line_response(request, created, 201)


@routes.put("/api/lines/{id}")
async def replace_line(request: web.Request) -> web.Response:
    session = require_admin(request)
    body = await decode_body(request, LineIn)
    updated = await request.app[LINE_CATALOG].replace(session.staff, path_id(request, "id"),
                                                      body, request.app[CLOCK]())
    return await _line_response(request, updated)


@routes.delete("/api/lines/{id}")
async def deactivate_line(request: web.Request) -> web.Response:
    session = require_admin(request)
    await request.app[LINE_CATALOG].deactivate(session.staff, path_id(request, "id"),
                                               request.app[CLOCK]())
    return web.Response(status=204)


@routes.get("/api/lines/{id}/enrolments")
async def list_enrolments(request: web.Request) -> web.Response:
    session = require_staff(request)
    found = await request.app[LINE_ENROLMENTS].list(session.staff, path_id(request, "id"))
    names = await staff_names(request.app[DB], (s for e in found for s in e.staff_ids))
    tz = request.app[SETTINGS].timezone
    return web.json_response({"enrolments": [enrolment_json(e, names, tz) for e in found]})


@routes.post("/api/lines/{id}/enrolments")
async def enrol_family(request: web.Request) -> web.Response:
    session = require_staff(request)
    body = await decode_body(request, EnrolmentIn)
    enrolment, link = await request.app[LINE_ENROLMENTS].enrol(
        session.staff, path_id(request, "id"), body, request.app[CLOCK]())
    names = await staff_names(request.app[DB], enrolment.staff_ids)
    tz = request.app[SETTINGS].timezone
    return web.json_response({"enrolment": enrolment_json(enrolment, names, tz), "link": link},
                             status=201)


@routes.delete("/api/lines/{id}/enrolments/{eid}")
async def revoke_enrolment(request: web.Request) -> web.Response:
    session = require_staff(request)
    enrolment_id = path_id(request, "eid")
    revoked = await request.app[LINE_ENROLMENTS].revoke(
        session.staff, path_id(request, "id"), enrolment_id, request.app[CLOCK]())
    notify = getattr(line_hub(request.app), "enrolment_revoked", None)
    if revoked and notify is not None:
        result = notify(enrolment_id)
        if inspect.isawaitable(result):
            await result
    return web.Response(status=204)


@routes.get("/api/lines/{id}/callbacks")
async def list_callbacks(request: web.Request) -> web.Response:
    session = require_staff(request)
    found = await request.app[LINE_CALLBACKS].list_open(session.staff, path_id(request, "id"))
    tz = request.app[SETTINGS].timezone
    return web.json_response({"callbacks": [callback_json(c, tz) for c in found]})


@routes.post("/api/lines/{id}/callbacks/{cid}/done")
async def finish_callback(request: web.Request) -> web.Response:
    session = require_staff(request)
    callback = await request.app[LINE_CALLBACKS].mark_done(
        session.staff, path_id(request, "id"), path_id(request, "cid"), request.app[CLOCK]())
    return web.json_response(callback_json(callback, request.app[SETTINGS].timezone))


@routes.get("/api/public/lines/{slug}")
async def show_public_line(request: web.Request) -> web.Response:
    """What the public page shows before anyone joins: never counts of people or names."""
    slug = request.match_info["slug"]
    line = await request.app[DB].get_line_by_slug(slug) if len(slug) <= 60 else None
    if line is None or not line.active or line.kind is not LineKind.PUBLIC:
        raise NotFound("line_not_found", "No such line.")
    tz = request.app[SETTINGS].timezone
    now = hours_now(line.hours, line.closures, tz, request.app[CLOCK]())
    hub = line_hub(request.app)
    full = bool(hub.is_full(line.id)) if hub is not None else False
    return web.json_response({
        "name": line.name,
        "modes": line.modes.value,
        "open": now.open,
        "opens_at": _time(now.opens_at, tz),
        "closes_at": _time(now.closes_at, tz),
        "full": full,
    })

"""The admin's booking services: hours, closures and the rules of each (admin only)."""

from __future__ import annotations

from typing import Any
from zoneinfo import ZoneInfo

from aiohttp import web

from server.app_keys import CLOCK, SERVICE_CATALOG, SETTINGS
from server.handlers.params import path_id
from server.records import Service, ServiceClosure
from server.request_bodies import decode_body
from server.service_catalog import ClosureIn, ServiceIn, ServicePatch, WeekIn
from server.staff_auth import require_admin, require_staff

routes = web.RouteTableDef()


def closure_json(closure: ServiceClosure, tz: ZoneInfo) -> dict[str, Any]:
    return {
        "id": closure.id,
        "service_id": closure.service_id,
        "staff_id": closure.staff_id,
        "starts_at": closure.starts_at.astimezone(tz).isoformat(),
        "ends_at": closure.ends_at.astimezone(tz).isoformat(),
        "starts_local": closure.starts_at.astimezone(tz).replace(tzinfo=None)
        .isoformat(timespec="minutes"),
        "ends_local": closure.ends_at.astimezone(tz).replace(tzinfo=None)
        .isoformat(timespec="minutes"),
        "note": closure.note,
    }


def service_json(service: Service, public_url: str) -> dict[str, Any]:
    return {
        "id": service.id,
        "slug": service.slug,
        "name": service.name,
        "url": f"{public_url}/book/{service.slug}",
        "slot_minutes": service.slot_minutes,
        "buffer_minutes": service.buffer_minutes,
        "notice_minutes": service.notice_minutes,
        "horizon_days": service.horizon_days,
        "max_per_day": service.max_per_day,
        "hold_minutes": service.hold_minutes,
        "cutoff_minutes": service.cutoff_minutes,
        "active": service.active,
        "kinds": [k.value for k in service.kinds],
        "staff_ids": list(service.staff_ids),
        "hours": [
            {"staff_id": h.staff_id, "weekday": h.weekday, "opens": h.opens,
             "closes": h.closes}
            for h in service.hours
        ],
    }


def _json(request: web.Request, service: Service, status: int = 200) -> web.Response:
    return web.json_response(service_json(service, request.app[SETTINGS].public_url),
                             status=status)


@routes.get("/api/services")
async def list_services(request: web.Request) -> web.Response:
    """Any staff member may list the services (the appointment form picks one); only
    administrators change them or read their closures."""
    require_staff(request)
    found = await request.app[SERVICE_CATALOG].list_all()
    public_url = request.app[SETTINGS].public_url
    return web.json_response({"services": [service_json(s, public_url) for s in found]})


@routes.post("/api/services")
async def create_service(request: web.Request) -> web.Response:
    session = require_admin(request)
    body = await decode_body(request, ServiceIn)
    created = await request.app[SERVICE_CATALOG].create(session.staff, body, request.app[CLOCK]())
    return _json(request, created, 201)


@routes.get("/api/services/{id}")
async def get_service(request: web.Request) -> web.Response:
    require_admin(request)
    service, closures = await request.app[SERVICE_CATALOG].get(path_id(request, "id"))
    body = service_json(service, request.app[SETTINGS].public_url)
    tz = request.app[SETTINGS].timezone
    body["closures"] = [closure_json(c, tz) for c in closures]
    return web.json_response(body)


@routes.patch("/api/services/{id}")
async def update_service(request: web.Request) -> web.Response:
    session = require_admin(request)
    patch = await decode_body(request, ServicePatch)
    updated = await request.app[SERVICE_CATALOG].update(session.staff, path_id(request, "id"),
                                                        patch)
    return _json(request, updated)


@routes.put("/api/services/{id}/hours")
async def set_service_hours(request: web.Request) -> web.Response:
    session = require_admin(request)
    week = await decode_body(request, WeekIn)
    updated = await request.app[SERVICE_CATALOG].set_hours(session.staff, path_id(request, "id"),
                                                           week)
    return _json(request, updated)


@routes.get("/api/services/{id}/closures")
async def list_service_closures(request: web.Request) -> web.Response:
    require_admin(request)
    _, closures = await request.app[SERVICE_CATALOG].get(path_id(request, "id"))
    tz = request.app[SETTINGS].timezone
    return web.json_response({"closures": [closure_json(c, tz) for c in closures]})


@routes.post("/api/services/{id}/closures")
async def add_service_closure(request: web.Request) -> web.Response:
    session = require_admin(request)
    body = await decode_body(request, ClosureIn)
    closure = await request.app[SERVICE_CATALOG].add_closure(session.staff,
                                                             path_id(request, "id"), body)
    return web.json_response(closure_json(closure, request.app[SETTINGS].timezone), status=201)


@routes.delete("/api/services/{id}/closures/{cid}")
async def remove_service_closure(request: web.Request) -> web.Response:
    session = require_admin(request)
    await request.app[SERVICE_CATALOG].remove_closure(session.staff, path_id(request, "id"),
                                                      path_id(request, "cid"))
    return web.Response(status=204)

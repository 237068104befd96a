"""Each service's travel distances per municipality (docs/reports.md)."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from server.app_keys import AUDIT, DB
from server.handlers.params import path_id
from server.records import TravelDistance
from server.request_bodies import decode_body
from server.staff_auth import require_admin, require_staff
from server.travel_distances import DistancesIn, TravelDistances

routes = web.RouteTableDef()


def _json(distances: list[TravelDistance]) -> dict[str, Any]:
    return {"distances": [{"municipality": d.municipality, "km": d.km, "minutes": d.minutes}
                          for d in distances]}


@routes.get("/api/services/{id}/travel")
async def list_travel_distances(request: web.Request) -> web.Response:
    require_staff(request)
    found = await TravelDistances(request.app[DB], request.app[AUDIT]).list_for(
        path_id(request, "id"))
    return web.json_response(_json(found))


@routes.put("/api/services/{id}/travel")
async def set_travel_distances(request: web.Request) -> web.Response:
    session = require_admin(request)
    body = await decode_body(request, DistancesIn)
    saved = await TravelDistances(request.app[DB], request.app[AUDIT]).replace(
        session.staff, path_id(request, "id"), body)
    return web.json_response(_json(saved))

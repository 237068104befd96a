"""Each service's configured one-way distance and travel time per municipality, from
which the organisation report counts the travel a held appointment avoids."""

from __future__ import annotations

from typing import Annotated

import msgspec

from server.appointment_travel import Municipality, TravelKm, TravelMinutes, municipality_name
from server.audit import Action, Actor, AuditLog
from server.db import Database, Reads
from server.errors import NotFound, Unprocessable
from server.records import Staff, TravelDistance

MAX_DISTANCES = 500


class DistanceIn(msgspec.Struct, forbid_unknown_fields=True):
    municipality: Municipality
    km: TravelKm
    minutes: TravelMinutes


class DistancesIn(msgspec.Struct, forbid_unknown_fields=True):
    distances: Annotated[list[DistanceIn], msgspec.Meta(max_length=MAX_DISTANCES)]


def checked_distances(body: DistancesIn) -> list[TravelDistance]:
    """Trimmed names, each municipality once (case-blind), sorted by name."""
    seen: set[str] = set()
    found = []
    for item in body.distances:
        name = municipality_name(item.municipality)
        if name is None:
            raise Unprocessable("invalid_field", "A municipality needs a name.",
                                field="municipality")
        if name.casefold() in seen:
            raise Unprocessable("invalid_field", f"{name} is listed twice.",
                                field="municipality")
        seen.add(name.casefold())
        found.append(TravelDistance(name, float(item.km), item.minutes))
    return sorted(found, key=lambda d: d.municipality)


async def _check_service(reads: Reads, service_id: int) -> None:
    if await reads.get_service(service_id) is None:
        raise NotFound("service_not_found", "No such service.")


class TravelDistances:
    """Reads and replaces a service's list; a replacement is one transaction with its
    usage-log row, so concurrent replacements leave one whole list."""

    def __init__(self, db: Database, audit: AuditLog) -> None:
        self.db = db
        self.audit = audit

    async def list_for(self, service_id: int) -> list[TravelDistance]:
        await _check_service(self.db, service_id)
        return await self.db.list_travel_distances(service_id)

    async def replace(self, actor: Staff, service_id: int,
                      body: DistancesIn) -> list[TravelDistance]:
        distances = checked_distances(body)
        async with self.db.transaction() as tx:
            await _check_service(tx, service_id)
            await tx.replace_travel_distances(service_id, distances)
            await self.audit.record(Actor.staff(actor.id), Action.SERVICE_TRAVEL_SET,
                                    detail={"service": service_id, "count": len(distances)},
                                    tx=tx)
            return await tx.list_travel_distances(service_id)

"""An appointment's service, the family's municipality and the travel it avoids.

The organisation report (docs/reports.md) counts a held appointment's avoided round trip
from the service's configured distance for the family's municipality
(``travel_distances``), or from a one-way distance and time staff set on the appointment
itself. The four fields ride on the appointment create and update bodies; this module
checks them and writes them in the change's own transaction.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

import msgspec

from server.db import Tx
from server.errors import Unprocessable
from server.records import Appointment

MAX_TRAVEL = 2000  # km one way, and minutes one way
ServiceRef = Annotated[int, msgspec.Meta(ge=1, le=2**63 - 1)]
Municipality = Annotated[str, msgspec.Meta(max_length=60)]
TravelKm = Annotated[float, msgspec.Meta(ge=0, le=MAX_TRAVEL)]
TravelMinutes = Annotated[int, msgspec.Meta(ge=0, le=MAX_TRAVEL)]
# A field left out of a body: a new appointment has none, an update keeps what it was.
Unset = msgspec.UnsetType
UNSET = msgspec.UNSET


@dataclass(frozen=True)
class TravelFields:
    service_id: int | None = None
    municipality: str | None = None
    travel_km: float | None = None
    travel_minutes: int | None = None


def municipality_name(value: str | None) -> str | None:
    """Trimmed; blank is none."""
    if value is None:
        return None
    value = " ".join(value.split())
    return value or None


def merged(
    current: Appointment | None,
    service_id: int | Unset | None,
    municipality: str | Unset | None,
    travel_km: float | Unset | None,
    travel_minutes: int | Unset | None,
) -> TravelFields | None:
    """The fields after a body is applied, or None when the body names none of them."""
    given = (service_id, municipality, travel_km, travel_minutes)
    if all(value is UNSET for value in given):
        return None
    base = TravelFields() if current is None else TravelFields(
        current.service_id, current.municipality, current.travel_km, current.travel_minutes)
    return TravelFields(
        base.service_id if isinstance(service_id, Unset) else service_id,
        base.municipality if isinstance(municipality, Unset)
        else municipality_name(municipality),
        base.travel_km if isinstance(travel_km, Unset)
        else None if travel_km is None else float(travel_km),
        base.travel_minutes if isinstance(travel_minutes, Unset) else travel_minutes,
    )


async def save_travel_fields(tx: Tx, appointment_id: int, fields: TravelFields | None) -> None:
    """Checked and written in ``tx``: an unknown service is a 422 (nothing is saved)."""
    if fields is None:
        return
    if fields.service_id is not None and await tx.get_service(fields.service_id) is None:
        raise Unprocessable("service_not_found", f"No service with id {fields.service_id}.",
                            field="service_id")
    await tx.set_appointment_travel(appointment_id, fields.service_id, fields.municipality,
                                    fields.travel_km, fields.travel_minutes)

"""An appointment's service, municipality and travel fields under concurrent writes.

Each field rides on the appointment's create and update bodies and is merged with what is
stored inside the update's transaction: staff changing different fields of one
appointment at once lose none of the changes, a refused change (an unknown service)
leaves nothing behind, and every change that was answered has its one usage-log row.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Callable
from typing import Any

import pytest

from server.settings import Settings
from tests.conftest import Accounts, StaffClient, assert_error
from tests.server.booking_helpers import make_service
from tests.server.conftest import SignIn, appointment_body, book, hours_ahead

CHANGES = 8  # sequential changes per writer; the writers run at once
Fields = tuple[int | None, str | None, float | None, int | None]


@pytest.fixture
async def admin(staff_client: SignIn) -> StaffClient:
    return await staff_client("admin")


def _fields(body: dict[str, Any]) -> Fields:
    return body["service_id"], body["municipality"], body["travel_km"], body["travel_minutes"]


def _count(settings: Settings, action: str, appointment_id: int) -> int:
    with sqlite3.connect(settings.db_path) as conn:
        (n,) = conn.execute("SELECT COUNT(*) FROM audit_log WHERE action = ?"
                            " AND appointment_id = ?", (action, appointment_id)).fetchone()
    return int(n)


async def _change_one_field(client: StaffClient, appointment_id: int, name: str,
                            value: Callable[[int], Any]) -> list[Any]:
    """``CHANGES`` patches of one field, one after another; returns the values answered."""
    answered = []
    for n in range(CHANGES):
        resp = await client.patch(f"/api/appointments/{appointment_id}",
                                  json={name: value(n)})
        body = await resp.json()
        assert resp.status == 200, body
        answered.append(body[name])
    return answered


async def _refused_patches(client: StaffClient, appointment_id: int) -> None:
    """Changes naming a service that does not exist, beside the others: all refused."""
    for n in range(CHANGES):
        resp = await client.patch(f"/api/appointments/{appointment_id}", json={
            "service_id": 9000 + n, "municipality": "Ei koskaan", "travel_km": 1999.0})
        await assert_error(resp, 422, "service_not_found")


async def test_concurrent_changes_of_different_travel_fields_lose_none(
    kota: Any, admin: StaffClient, staff_client: SignIn, accounts: Accounts,
    settings: Settings
) -> None:
    services = [(await make_service(admin, accounts, slug=f"matka-{n}"))["id"]
                for n in range(2)]
    sanna, pekka = await staff_client("sanna"), await staff_client("pekka")
    made = await book(sanna, start=hours_ahead(5), staff_ids=[accounts.specialist.id],
                      service_id=services[0], municipality="Inari", travel_km=1.0,
                      travel_minutes=1)
    appointment_id = made["id"]
    answered = await asyncio.gather(
        _change_one_field(sanna, appointment_id, "service_id", lambda n: services[n % 2]),
        _change_one_field(pekka, appointment_id, "municipality", lambda n: f"Kunta {n}"),
        _change_one_field(admin, appointment_id, "travel_km", lambda n: 10.5 + n),
        _change_one_field(sanna, appointment_id, "travel_minutes", lambda n: 20 + n),
        _refused_patches(pekka, appointment_id),
    )
    last: Fields = (services[(CHANGES - 1) % 2], f"Kunta {CHANGES - 1}",
                    10.5 + CHANGES - 1, 20 + CHANGES - 1)
    # Each writer saw its own change in every answer, and the last of each stays.
    assert [a[-1] for a in answered[:4]] == list(last)
    resp = await sanna.get(f"/api/appointments/{appointment_id}")
    assert _fields(await resp.json()) == last
    assert _count(settings, "appointment.updated", appointment_id) == 4 * CHANGES


async def test_concurrent_creates_each_store_their_own_travel_fields(
    kota: Any, admin: StaffClient, staff_client: SignIn, accounts: Accounts,
    settings: Settings
) -> None:
    service = (await make_service(admin, accounts))["id"]
    sanna = await staff_client("sanna")
    bodies = [appointment_body(hours_ahead(3 + n), service_id=service if n % 3 else 9999,
                               municipality=f"Kunta {n}", travel_km=float(n),
                               travel_minutes=n) for n in range(12)]
    responses = await asyncio.gather(*(sanna.post("/api/appointments", json=b)
                                       for b in bodies))
    stored: dict[int, Fields] = {}
    for n, resp in enumerate(responses):
        if n % 3 == 0:
            await assert_error(resp, 422, "service_not_found")
            continue
        body = await resp.json()
        assert resp.status == 201, body
        assert _fields(body) == (service, f"Kunta {n}", float(n), n)
        stored[body["id"]] = _fields(body)
    with sqlite3.connect(settings.db_path) as conn:
        rows = {row[0]: tuple(row[1:]) for row in conn.execute(
            "SELECT id, service_id, municipality, travel_km, travel_minutes FROM appointments")}
        created = {row[0] for row in conn.execute(
            "SELECT appointment_id FROM audit_log WHERE action = 'appointment.created'")}
    assert rows == stored, "a refused create left an appointment, or one has another's fields"
    assert created == set(stored)

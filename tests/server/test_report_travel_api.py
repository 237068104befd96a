"""Organisation reports' inputs: an appointment's service, municipality and travel, and
each service's travel distances (migration 0012, docs/reports.md)."""

from __future__ import annotations

import asyncio
import json
import sqlite3
from typing import Any

import pytest

from server.settings import Settings
from tests.conftest import Accounts, StaffClient, assert_error
from tests.server.booking_helpers import make_service
from tests.server.conftest import SignIn, appointment_body, book

INARI = {"municipality": "Inari", "km": 42.0, "minutes": 45}
UTSJOKI = {"municipality": "Utsjoki", "km": 160.5, "minutes": 130}


@pytest.fixture
async def admin(staff_client: SignIn) -> StaffClient:
    return await staff_client("admin")


@pytest.fixture
async def service(admin: StaffClient, accounts: Accounts) -> dict[str, Any]:
    return await make_service(admin, accounts)


def log_rows(settings: Settings, action: str) -> list[sqlite3.Row]:
    with sqlite3.connect(settings.db_path) as conn:
        conn.row_factory = sqlite3.Row
        return list(conn.execute("SELECT * FROM audit_log WHERE action = ? ORDER BY id",
                                 (action,)))


async def test_appointment_carries_service_municipality_and_travel(
    sanna: StaffClient, service: dict[str, Any]
) -> None:
    created = await book(sanna, service_id=service["id"], municipality="  Inari ",
                         travel_km=12.5, travel_minutes=20)
    assert (created["service_id"], created["municipality"], created["travel_km"],
            created["travel_minutes"]) == (service["id"], "Inari", 12.5, 20)
    read = await (await sanna.get(f"/api/appointments/{created['id']}")).json()
    assert read["service_id"] == service["id"] and read["travel_km"] == 12.5
    # A patch that leaves the fields out keeps them; null clears one.
    resp = await sanna.patch(f"/api/appointments/{created['id']}", json={"travel_km": None})
    patched = await resp.json()
    assert resp.status == 200, patched
    assert (patched["service_id"], patched["municipality"], patched["travel_km"],
            patched["travel_minutes"]) == (service["id"], "Inari", None, 20)
    resp = await sanna.patch(f"/api/appointments/{created['id']}", json={"kind": "school_meeting"})
    assert (await resp.json())["municipality"] == "Inari"


async def test_appointment_without_the_fields_has_none(sanna: StaffClient) -> None:
    created = await book(sanna)
    assert (created["service_id"], created["municipality"], created["travel_km"],
            created["travel_minutes"]) == (None, None, None, None)


async def test_unknown_service_is_refused_and_nothing_is_saved(
    sanna: StaffClient, settings: Settings
) -> None:
    resp = await sanna.post("/api/appointments", json=appointment_body(service_id=999))
    body = await assert_error(resp, 422, "service_not_found")
    assert body["error"]["field"] == "service_id"
    with sqlite3.connect(settings.db_path) as conn:
        assert conn.execute("SELECT count(*) FROM appointments").fetchone() == (0,)
    created = await book(sanna)
    resp = await sanna.patch(f"/api/appointments/{created['id']}", json={"service_id": 999})
    await assert_error(resp, 422, "service_not_found")
    assert log_rows(settings, "appointment.updated") == []


@pytest.mark.parametrize("fields", [
    {"service_id": 0}, {"service_id": "1"}, {"municipality": "x" * 61},
    {"municipality": 5}, {"travel_km": -1}, {"travel_km": 2000.5}, {"travel_km": "9"},
    {"travel_minutes": 2001}, {"travel_minutes": 1.5}, {"travel_minutes": -1},
])
async def test_bad_travel_fields_are_422(sanna: StaffClient, fields: dict[str, Any]) -> None:
    resp = await sanna.post("/api/appointments", json=appointment_body(**fields))
    await assert_error(resp, 422, "invalid_field")
    created = await book(sanna)
    resp = await sanna.patch(f"/api/appointments/{created['id']}", json=fields)
    await assert_error(resp, 422, "invalid_field")


async def test_travel_distances_are_replaced_whole_and_logged(
    admin: StaffClient, sanna: StaffClient, service: dict[str, Any], settings: Settings
) -> None:
    path = f"/api/services/{service['id']}/travel"
    assert await (await sanna.get(path)).json() == {"distances": []}
    resp = await admin.put(path, json={"distances": [UTSJOKI, {**INARI, "km": 42}]})
    body = await resp.json()
    assert resp.status == 200, body
    assert body == {"distances": [INARI, UTSJOKI]}
    # Any staff member reads them (the appointment form offers the municipalities).
    assert await (await sanna.get(path)).json() == body
    resp = await admin.put(path, json={"distances": [UTSJOKI]})
    assert await resp.json() == {"distances": [UTSJOKI]}
    details = [json.loads(r["detail"]) for r in log_rows(settings, "service.travel_set")]
    assert details == [{"count": 2, "service": service["id"]},
                       {"count": 1, "service": service["id"]}]


@pytest.mark.parametrize(("body", "code"), [
    ({"distances": [INARI, {**INARI, "km": 1}]}, "invalid_field"),
    ({"distances": [INARI, {**INARI, "municipality": " inari "}]}, "invalid_field"),
    ({"distances": [{**INARI, "municipality": "   "}]}, "invalid_field"),
    ({"distances": [{**INARI, "km": -0.5}]}, "invalid_field"),
    ({"distances": [{**INARI, "minutes": 2001}]}, "invalid_field"),
    ({"distances": [{"municipality": "Inari", "km": 1}]}, "invalid_field"),
    ({"distances": [{**INARI, "extra": 1}]}, "invalid_field"),
    ({"distances": [INARI] * 501}, "invalid_field"),
    ({}, "invalid_field"),
])
async def test_bad_travel_distances_are_422(
    admin: StaffClient, service: dict[str, Any], body: dict[str, Any], code: str,
    settings: Settings,
) -> None:
    resp = await admin.put(f"/api/services/{service['id']}/travel", json=body)
    await assert_error(resp, 422, code)
    assert log_rows(settings, "service.travel_set") == []


async def test_travel_distances_errors(
    admin: StaffClient, sanna: StaffClient, service: dict[str, Any]
) -> None:
    path = f"/api/services/{service['id']}/travel"
    await assert_error(await sanna.put(path, json={"distances": []}), 403, "admin_only")
    await assert_error(await admin.get("/api/services/999/travel"), 404, "service_not_found")
    await assert_error(await admin.put("/api/services/999/travel", json={"distances": []}),
                       404, "service_not_found")
    resp = await admin.put(path, data=b"{", headers={"Content-Type": "application/json"})
    await assert_error(resp, 400, "bad_json")
    # Without the CSRF header a write is refused.
    resp = await admin.session.put(f"{admin.base}{path}", json={"distances": []})
    await assert_error(resp, 403, "csrf_failed")


async def test_travel_distances_need_sign_in(kota: Any, service: dict[str, Any]) -> None:
    import aiohttp

    async with aiohttp.ClientSession() as anonymous:
        resp = await anonymous.get(kota.make_url(f"/api/services/{service['id']}/travel"))
        await assert_error(resp, 401, "not_signed_in")


async def test_ten_concurrent_replacements_leave_one_whole_list(
    admin: StaffClient, service: dict[str, Any], settings: Settings
) -> None:
    path = f"/api/services/{service['id']}/travel"
    lists: list[list[dict[str, Any]]] = [
        [{"municipality": f"Kunta {n} {k}", "km": float(n), "minutes": k} for k in range(n + 1)]
        for n in range(10)]
    responses = await asyncio.gather(*(admin.put(path, json={"distances": d}) for d in lists))
    assert [r.status for r in responses] == [200] * 10
    final = (await (await admin.get(path)).json())["distances"]
    assert final in [sorted(d, key=lambda x: str(x["municipality"])) for d in lists]
    assert len(log_rows(settings, "service.travel_set")) == 10

"""What the family's manage page reads after staff changed the appointment itself: the
time it was moved to, and cancelled when staff cancelled it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import aiohttp
import pytest

from server.settings import Settings
from tests.conftest import Accounts, StaffClient
from tests.server.booking_helpers import (
    booking_settings,
    bookings,
    confirm_token,
    hold,
    iso,
    local,
    manage_token,
    open_service,
)
from tests.server.conftest import Clock, SignIn


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    """Messaging on: a hold needs a way to send its confirm link."""
    return booking_settings(tmp_path)


async def booked(settings: Settings, staff_client: SignIn, accounts: Accounts, clock: Clock,
                 family: aiohttp.ClientSession) -> tuple[StaffClient, int, str]:
    """A confirmed booking with Sanna; her client, the appointment and the manage token."""
    await open_service(staff_client, accounts, clock, staff=[accounts.worker.id])
    status, body = await hold(family, local(6, 10))
    assert status == 201, body
    [held] = bookings(settings)
    resp = await family.post("/api/book/confirm", json={"token": confirm_token(settings, held)})
    assert resp.status == 200, await resp.text()
    [confirmed] = bookings(settings)
    assert confirmed.appointment_id is not None
    return await staff_client("sanna"), confirmed.appointment_id, manage_token(settings, confirmed)


async def manage(family: aiohttp.ClientSession, token: str) -> dict[str, Any]:
    resp = await family.post("/api/book/manage", json={"token": token})
    body: dict[str, Any] = await resp.json()
    assert resp.status == 200, body
    return body


async def test_the_family_sees_the_time_staff_moved_it_to(
    settings: Settings, staff_client: SignIn, accounts: Accounts, clock: Clock,
    family: aiohttp.ClientSession,
) -> None:
    sanna, appointment, token = await booked(settings, staff_client, accounts, clock, family)
    moved = await sanna.patch(f"/api/appointments/{appointment}", json={
        "starts_at": iso(local(7, 13)), "ends_at": iso(local(7, 13, 30))})
    assert moved.status == 200, await moved.text()
    booking = (await manage(family, token))["booking"]
    assert (booking["starts_at"], booking["ends_at"]) == (iso(local(7, 13)),
                                                          iso(local(7, 13, 30)))
    assert booking["state"] == "confirmed"


async def test_an_appointment_staff_cancelled_reads_cancelled(
    settings: Settings, staff_client: SignIn, accounts: Accounts, clock: Clock,
    family: aiohttp.ClientSession,
) -> None:
    sanna, appointment, token = await booked(settings, staff_client, accounts, clock, family)
    resp = await sanna.post(f"/api/appointments/{appointment}/cancel")
    assert resp.status in (200, 204), await resp.text()
    answer = await manage(family, token)
    assert answer["booking"]["state"] == "cancelled"
    assert answer["booking"]["can_change"] is False

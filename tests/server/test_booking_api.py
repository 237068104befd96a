"""The booking API end to end against a real server and SQLite file: admin services,
the public page, holds, confirm, manage, move and cancel, and every error."""

from __future__ import annotations

from pathlib import Path

import aiohttp
import pytest
from aiohttp.test_utils import TestServer

from server.settings import Settings
from tests.conftest import Accounts, assert_error
from tests.server.booking_helpers import (
    SLUG,
    booking_settings,
    bookings,
    confirm_token,
    hold,
    iso,
    local,
    manage_token,
    open_service,
    rows,
)
from tests.server.conftest import Clock, SignIn


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    """Messaging on: a hold needs a way to send its confirm link."""
    return booking_settings(tmp_path)


async def test_public_page_and_free_times(kota: TestServer, staff_client: SignIn,
                                          accounts: Accounts, clock: Clock,
                                          family: aiohttp.ClientSession) -> None:
    await open_service(staff_client, accounts, clock)
    resp = await family.get(f"/api/book/{SLUG}")
    page = await resp.json()
    assert resp.status == 200, page
    assert page == {"name": "Perheneuvola, Inari", "slug": SLUG,
                    "kinds": ["family_counselling", "school_meeting"], "slot_minutes": 30,
                    "hold_minutes": 10, "timezone": "Europe/Helsinki", "horizon_days": 30,
                    "channels": ["email", "sms"]}
    resp = await family.get(f"/api/book/{SLUG}/times?from=2027-01-04&days=7")
    times = await resp.json()
    assert resp.status == 200, times
    days = times["days"]
    assert [d["date"] for d in days] == [f"2027-01-{n:02d}" for n in range(4, 11)]
    monday = days[0]["times"]
    # Notice is an hour from 07:30: the first slot is 09:00; 14 half hours to 16:00.
    assert monday[0] == {"starts_at": "2027-01-04T09:00:00+02:00",
                         "ends_at": "2027-01-04T09:30:00+02:00"}
    assert len(monday) == 14
    assert days[5]["times"] == [] and days[6]["times"] == []  # the weekend


async def test_unknown_and_inactive_pages_are_not_found(
        kota: TestServer, staff_client: SignIn, accounts: Accounts, clock: Clock,
        family: aiohttp.ClientSession) -> None:
    admin, service = await open_service(staff_client, accounts, clock)
    await assert_error(await family.get("/api/book/nobody-here"), 404, "service_not_found")
    resp = await admin.patch(f"/api/services/{service['id']}", json={"active": False})
    assert resp.status == 200, await resp.text()
    await assert_error(await family.get(f"/api/book/{SLUG}"), 404, "service_not_found")
    await assert_error(await family.get(f"/api/book/{SLUG}/times"), 404, "service_not_found")
    status, body = await hold(family, local(4, 10))
    assert status == 404 and body["error"]["code"] == "service_not_found"


async def test_hold_confirm_manage_move_cancel(kota: TestServer, settings: Settings,
                                               staff_client: SignIn, accounts: Accounts,
                                               clock: Clock,
                                               family: aiohttp.ClientSession) -> None:
    await open_service(staff_client, accounts, clock)
    status, body = await hold(family, local(4, 10), topic="Koulunkäynti")
    assert status == 201, body
    assert body == {"booking": {
        "starts_at": "2027-01-04T10:00:00+02:00", "ends_at": "2027-01-04T10:30:00+02:00",
        "hold_expires_at": iso(bookings(settings)[0].hold_expires_at),
        "channel": "email", "contact_hint": "m…@example.fi"}}
    [held] = bookings(settings)
    assert held.state.value == "held" and held.topic == "Koulunkäynti"
    # The confirm message is in the outbox, written with the hold.
    assert rows(settings, "SELECT purpose, channel, recipient FROM outbox WHERE booking_id = ?",
                held.id) == [("booking_confirm", "email", "maija@example.fi")]
    token = confirm_token(settings, held)
    resp = await family.post("/api/book/confirm", json={"token": token})
    confirmed = await resp.json()
    assert resp.status == 200, confirmed
    assert confirmed["booking"]["state"] == "confirmed"
    assert confirmed["booking"]["host_first_name"] in ("Sanna", "Pekka")
    assert confirmed["booking"]["can_change"] is False  # within a day of its start
    assert confirmed["join_url"].startswith(f"{settings.public_url}/join#")
    assert confirmed["manage_url"].startswith(f"{settings.public_url}/book/manage#")
    # Double click: the same answer, no second appointment.
    resp = await family.post("/api/book/confirm", json={"token": token})
    assert resp.status == 200 and await resp.json() == confirmed
    [booking] = bookings(settings)
    assert booking.appointment_id is not None
    assert rows(settings, "SELECT COUNT(*) FROM appointments") == [(1,)]
    [(host, created_by, kind)] = rows(
        settings, "SELECT host_id, created_by, kind FROM appointments")
    assert host == created_by == booking.staff_id and kind == "family_counselling"
    assert rows(settings, "SELECT role, delivery, language FROM participants") == [
        ("guardian", "email", "fi")]
    purposes = [r[0] for r in rows(settings, "SELECT purpose FROM outbox WHERE appointment_id"
                                   " = ? ORDER BY id", booking.appointment_id)]
    assert purposes[0] == "invitation"

    manage = manage_token(settings, booking)
    resp = await family.post("/api/book/manage", json={"token": manage})
    seen = await resp.json()
    assert resp.status == 200, seen
    assert seen["booking"]["cutoff_at"] == "2027-01-03T10:00:00+02:00"
    # The cut-off is a day before: Monday 10:00 cannot be changed on Monday morning.
    assert seen["booking"]["can_change"] is False
    resp = await family.post("/api/book/manage/move",
                             json={"token": manage, "starts_at": iso(local(6, 11))})
    await assert_error(resp, 409, "past_cutoff")
    resp = await family.post("/api/book/manage/cancel", json={"token": manage})
    await assert_error(resp, 409, "past_cutoff")


async def test_move_and_cancel_before_cutoff(kota: TestServer, settings: Settings,
                                             staff_client: SignIn, accounts: Accounts,
                                             clock: Clock,
                                             family: aiohttp.ClientSession) -> None:
    await open_service(staff_client, accounts, clock)
    status, body = await hold(family, local(6, 10))
    assert status == 201, body
    [held] = bookings(settings)
    resp = await family.post("/api/book/confirm", json={"token": confirm_token(settings, held)})
    assert resp.status == 200, await resp.text()
    [booking] = bookings(settings)
    manage = manage_token(settings, booking)
    resp = await family.post("/api/book/manage/move",
                             json={"token": manage, "starts_at": iso(local(7, 13, 30))})
    moved = await resp.json()
    assert resp.status == 200, moved
    assert moved["booking"]["starts_at"] == "2027-01-07T13:30:00+02:00"
    [(starts_at,)] = rows(settings, "SELECT starts_at FROM appointments")
    assert starts_at == "2027-01-07T11:30:00Z"
    assert rows(settings, "SELECT starts_at FROM bookings") == [("2027-01-07T11:30:00Z",)]
    # The old time is free again, the new one taken.
    resp = await family.get(f"/api/book/{SLUG}/times?from=2027-01-06&days=2")
    days = (await resp.json())["days"]
    wednesday = [t["starts_at"] for t in days[0]["times"]]
    thursday = [t["starts_at"] for t in days[1]["times"]]
    assert "2027-01-06T10:00:00+02:00" in wednesday
    assert wednesday.count("2027-01-06T10:00:00+02:00") == 1
    assert ("2027-01-07T13:30:00+02:00" in thursday) is True  # the other professional
    resp = await family.post("/api/book/manage/cancel", json={"token": manage})
    cancelled = await resp.json()
    assert resp.status == 200, cancelled
    assert cancelled["booking"]["state"] == "cancelled"
    assert cancelled["join_url"] is None
    resp = await family.post("/api/book/manage/cancel", json={"token": manage})
    assert resp.status == 200 and await resp.json() == cancelled
    assert rows(settings, "SELECT status FROM appointments") == [("cancelled",)]
    resp = await family.post("/api/book/manage/move",
                             json={"token": manage, "starts_at": iso(local(8, 10))})
    await assert_error(resp, 409, "booking_cancelled")
    actions = [r[0] for r in rows(settings, "SELECT action FROM audit_log"
                                  " WHERE action LIKE 'booking.%' ORDER BY id")]
    assert actions == ["booking.held", "booking.confirmed", "booking.moved",
                       "booking.cancelled"]

"""Zero double bookings: many families racing for the same times at once, and staff
booking the same time through the staff API, against a real server and SQLite file.

Clients come from different addresses (``X-Forwarded-For`` behind a trusted proxy, as
in production) and give different contacts, so only the slot itself decides.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import datetime
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestServer

from server.db import db_time
from server.settings import Settings
from tests.conftest import Accounts
from tests.server.booking_helpers import (
    SLUG,
    booking_settings,
    bookings,
    confirm_token,
    hold_body,
    iso,
    local,
    manage_token,
    open_service,
    rows,
)
from tests.server.conftest import Clock, SignIn

BOOKERS = 200


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return booking_settings(tmp_path, KOTA_TRUSTED_PROXY="true")


def _address(n: int) -> str:
    return f"10.{n // 65536 % 256}.{n // 256 % 256}.{n % 256}"


async def _race(kota: TestServer, starts: list[datetime]) -> list[tuple[int, dict[str, Any]]]:
    """One hold per start, all sent at once, each from its own address and contact."""
    connector = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(base_url=kota.make_url(""), connector=connector) as http:
        gate = asyncio.Event()

        async def one(n: int, starts_at: datetime) -> tuple[int, dict[str, Any]]:
            await gate.wait()
            async with http.post(f"/api/book/{SLUG}/holds",
                                 json=hold_body(starts_at, contact=f"family{n}@example.fi"),
                                 headers={"X-Forwarded-For": _address(n)}) as resp:
                return resp.status, await resp.json()

        tasks = [asyncio.create_task(one(n, s)) for n, s in enumerate(starts)]
        gate.set()
        return list(await asyncio.gather(*tasks))


def _double_bookings(settings: Settings, now: datetime) -> list[tuple[Any, ...]]:
    """Pairs of one professional's live holds or scheduled appointments that overlap."""
    return rows(settings, """
        WITH taken AS (
            SELECT staff_id, starts_at, ends_at, 'b' || id AS what FROM bookings
             WHERE state = 'held' AND hold_expires_at > ?
            UNION ALL
            SELECT host_id, starts_at, ends_at, 'a' || id FROM appointments
             WHERE status = 'scheduled')
        SELECT x.what, y.what FROM taken x JOIN taken y
          ON x.staff_id = y.staff_id AND x.what < y.what
         AND x.starts_at < y.ends_at AND y.starts_at < x.ends_at""", db_time(now))


async def test_two_hundred_families_race_for_one_slot(
        kota: TestServer, settings: Settings, staff_client: SignIn, accounts: Accounts,
        clock: Clock) -> None:
    await open_service(staff_client, accounts, clock)
    wanted = local(5, 10)
    results = await _race(kota, [wanted] * BOOKERS)
    statuses = Counter(status for status, _ in results)
    assert statuses == {201: 2, 409: BOOKERS - 2}, statuses  # two professionals serve it
    for status, body in results:
        if status == 409:
            assert body["error"]["code"] == "slot_taken", body
            free = body["error"]["next_free"]
            assert 1 <= len(free) <= 3 and iso(wanted) not in free, body
            assert all(t > iso(wanted) for t in free), body
    assert rows(settings, "SELECT COUNT(*), COUNT(DISTINCT staff_id) FROM bookings") == [(2, 2)]
    assert _double_bookings(settings, clock()) == []


async def test_two_hundred_families_race_for_one_slot_of_one_professional(
        kota: TestServer, settings: Settings, staff_client: SignIn, accounts: Accounts,
        clock: Clock) -> None:
    await open_service(staff_client, accounts, clock, staff=[accounts.worker.id])
    results = await _race(kota, [local(5, 10)] * BOOKERS)
    statuses = Counter(status for status, _ in results)
    assert statuses == {201: 1, 409: BOOKERS - 1}, statuses
    next_free = {tuple(body["error"]["next_free"]) for status, body in results if status == 409}
    assert next_free == {("2027-01-05T10:30:00+02:00", "2027-01-05T11:00:00+02:00",
                          "2027-01-05T11:30:00+02:00")}
    assert _double_bookings(settings, clock()) == []


async def test_two_hundred_families_over_fifty_slots_make_fifty_bookings(
        kota: TestServer, settings: Settings, staff_client: SignIn, accounts: Accounts,
        clock: Clock, family: aiohttp.ClientSession) -> None:
    await open_service(staff_client, accounts, clock, staff=[accounts.worker.id], max_per_day=20)
    resp = await family.get(f"/api/book/{SLUG}/times?from=2027-01-05&days=4")
    times = [datetime.fromisoformat(t["starts_at"])
             for day in (await resp.json())["days"] for t in day["times"]][:50]
    assert len(times) == 50
    results = await _race(kota, [times[n % 50] for n in range(BOOKERS)])
    statuses = Counter(status for status, _ in results)
    assert statuses == {201: 50, 409: BOOKERS - 50}, statuses
    won = sorted(body["booking"]["starts_at"] for status, body in results if status == 201)
    assert won == sorted(iso(t) for t in times)
    assert _double_bookings(settings, clock()) == []


async def test_staff_creates_race_holds_for_the_same_time(
        kota: TestServer, settings: Settings, staff_client: SignIn, accounts: Accounts,
        clock: Clock) -> None:
    """Sanna books the time in the staff app while families hold it: one side wins, and
    a refused staff create learns only the time of a family's hold."""
    await open_service(staff_client, accounts, clock, staff=[accounts.worker.id])
    sanna = await staff_client("sanna")
    wanted = local(5, 10)
    staff_body = {"starts_at": iso(wanted), "ends_at": iso(local(5, 10, 30)),
                  "kind": "child_protection", "participants": []}
    for _ in range(5):
        staff_resp, holds = await asyncio.gather(
            sanna.post("/api/appointments", json=staff_body), _race(kota, [wanted] * 20))
        staff_json = await staff_resp.json()
        held = [body for status, body in holds if status == 201]
        if staff_resp.status == 201:
            assert held == [], held
        else:
            assert staff_resp.status == 409 and len(held) == 1, (staff_json, held)
            assert staff_json["error"]["code"] == "appointment_overlap"
            assert set(staff_json["error"]) == {"code", "message", "starts_at", "ends_at"}
        assert _double_bookings(settings, clock()) == []
        # Free the time again for the next round.
        if staff_resp.status == 201:
            resp = await sanna.post(f"/api/appointments/{staff_json['id']}/cancel")
            assert resp.status == 200
        else:
            clock.advance(minutes=11)  # the hold runs out


async def test_confirm_clicked_many_times_at_once_makes_one_appointment(
        kota: TestServer, settings: Settings, staff_client: SignIn, accounts: Accounts,
        clock: Clock, family: aiohttp.ClientSession) -> None:
    await open_service(staff_client, accounts, clock)
    resp = await family.post(f"/api/book/{SLUG}/holds", json=hold_body(local(5, 10)))
    assert resp.status == 201
    [booking] = bookings(settings)
    token = confirm_token(settings, booking)
    answers = await asyncio.gather(*(family.post("/api/book/confirm", json={"token": token})
                                     for _ in range(20)))
    bodies = [await r.json() for r in answers]
    assert {r.status for r in answers} == {200}
    assert all(b == bodies[0] for b in bodies)
    assert rows(settings, "SELECT COUNT(*) FROM appointments") == [(1,)]
    assert rows(settings, "SELECT COUNT(*) FROM participants") == [(1,)]
    assert rows(settings, "SELECT COUNT(*) FROM outbox WHERE purpose = 'invitation'") == [(1,)]


async def test_a_move_races_holds_for_the_same_time(
        kota: TestServer, settings: Settings, staff_client: SignIn, accounts: Accounts,
        clock: Clock, family: aiohttp.ClientSession) -> None:
    await open_service(staff_client, accounts, clock, staff=[accounts.worker.id])
    resp = await family.post(f"/api/book/{SLUG}/holds", json=hold_body(local(7, 10)))
    assert resp.status == 201
    [booking] = bookings(settings)
    resp = await family.post("/api/book/confirm",
                             json={"token": confirm_token(settings, booking)})
    assert resp.status == 200
    token = manage_token(settings, bookings(settings)[0])
    wanted = local(7, 14)
    move = family.post("/api/book/manage/move", json={"token": token, "starts_at": iso(wanted)})
    moved, holds = await asyncio.gather(move, _race(kota, [wanted] * 30))
    won = [body for status, body in holds if status == 201]
    assert (moved.status == 200) != (len(won) == 1), (moved.status, won)
    assert moved.status in (200, 409)
    assert _double_bookings(settings, clock()) == []


async def test_admins_racing_on_services_leave_one_whole_answer_each(
        kota: TestServer, staff_client: SignIn, accounts: Accounts, clock: Clock,
        settings: Settings) -> None:
    """Ten creates of one address at once: one service and one usage-log row. Ten
    replacements of the weekly hours at once: the hours are exactly one of them, never a
    mixture, with one `service.hours_set` row each."""
    admin, service = await open_service(staff_client, accounts, clock)
    answers = await asyncio.gather(*(
        admin.post("/api/services", json={"slug": "kilpa", "name": f"Kilpa {n}",
                                          "staff_ids": [accounts.worker.id]})
        for n in range(10)))
    codes = Counter([a.status for a in answers])
    assert codes == {201: 1, 409: 9}, codes
    created = await asyncio.to_thread(
        rows, settings, "SELECT COUNT(*) FROM audit_log WHERE action = 'service.created'")
    assert created == [(2,)]  # open_service's and the one winner's

    def week(opens: str) -> list[dict[str, Any]]:
        return [{"staff_id": accounts.worker.id, "weekday": d, "opens": opens,
                 "closes": "17:00"} for d in range(5)]

    choices = [f"{8 + n % 5:02d}:{(n // 5) * 30:02d}" for n in range(10)]
    answers = await asyncio.gather(*(
        admin.request("PUT", f"/api/services/{service['id']}/hours",
                      json={"hours": week(opens)}) for opens in choices))
    assert [a.status for a in answers] == [200] * 10
    stored = await asyncio.to_thread(
        rows, settings, "SELECT staff_id, weekday, opens, closes FROM service_hours"
        " WHERE service_id = ? ORDER BY weekday", service["id"])
    assert len(stored) == 5 and len({r[2] for r in stored}) == 1, stored
    assert stored[0][2] in choices
    logged = await asyncio.to_thread(
        rows, settings, "SELECT COUNT(*) FROM audit_log WHERE action = 'service.hours_set'")
    assert logged == [(11,)]  # open_service's and the ten

"""Every staff write path under concurrent requests: the checks that guard a write hold,
each response is built from its own transaction, and every change has its usage-log rows.

Requests are sent at once with ``asyncio.gather`` against a real server and SQLite file.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections import Counter
from datetime import timedelta
from typing import Any

from aiohttp.test_utils import TestServer

from server.appointments import MAX_PARTICIPANTS
from server.settings import Settings
from server.staff_throttle import FREE_FAILURES
from tests.conftest import Accounts, StaffClient, assert_error
from tests.server.conftest import appointment_body, book, hours_ahead, link_path

N = 20


async def _gather_json(requests: list[Any]) -> list[tuple[int, dict[str, Any]]]:
    async def one(request: Any) -> tuple[int, dict[str, Any]]:
        resp = await request
        body = await resp.json() if resp.status != 204 else {}
        return resp.status, body

    return list(await asyncio.gather(*(one(r) for r in requests)))


def _rows(settings: Settings, sql: str, *params: Any) -> list[tuple[Any, ...]]:
    with sqlite3.connect(settings.db_path) as conn:
        return list(conn.execute(sql, params))


def _usage(settings: Settings, action: str, appointment_id: int) -> list[tuple[Any, ...]]:
    return _rows(
        settings,
        "SELECT subject_id FROM audit_log WHERE action = ? AND appointment_id = ?",
        action,
        appointment_id,
    )


async def test_identical_concurrent_bookings_give_one_201_and_the_rest_overlap(
    kota: TestServer, sanna: StaffClient, settings: Settings
) -> None:
    body = appointment_body(hours_ahead(3))
    results = await _gather_json([sanna.post("/api/appointments", json=body) for _ in range(N)])
    statuses = Counter(status for status, _ in results)
    assert statuses == {201: 1, 409: N - 1}, statuses
    created = next(b for s, b in results if s == 201)
    for status, answer in results:
        if status == 409:
            assert answer["error"]["code"] == "appointment_overlap"
            assert answer["error"]["appointment_id"] == created["id"]
    assert _rows(settings, "SELECT COUNT(*) FROM appointments") == [(1,)]
    assert len(_usage(settings, "appointment.created", created["id"])) == 1


async def test_concurrent_bookings_each_answer_with_their_own_stored_appointment(
    kota: TestServer, sanna: StaffClient, settings: Settings
) -> None:
    """Read your own write: no 404 for a row the request itself just stored."""
    starts = [hours_ahead(3) + timedelta(hours=i) for i in range(N)]
    results = await _gather_json(
        [sanna.post("/api/appointments", json=appointment_body(s, minutes=30)) for s in starts]
    )
    assert [status for status, _ in results] == [201] * N, results
    for start, (_, body) in zip(starts, results, strict=True):
        assert body["starts_at"].startswith(start.astimezone(settings.timezone).isoformat()[:16])
        (person,) = body["participants"]
        assert person["link"]["status"] == "active"
        assert len(_usage(settings, "appointment.created", body["id"])) == 1
        assert _usage(settings, "participant.added", body["id"]) == [(person["id"],)]
        assert _usage(settings, "link.issued", body["id"]) == [(person["id"],)]


async def test_concurrent_moves_into_one_slot_leave_one_appointment_there(
    kota: TestServer, sanna: StaffClient, settings: Settings
) -> None:
    booked = [await book(sanna, start=hours_ahead(3 + 2 * i)) for i in range(6)]
    target = hours_ahead(30)
    end = target + timedelta(minutes=45)
    move = {"starts_at": target.isoformat(), "ends_at": end.isoformat()}
    results = await _gather_json(
        [sanna.patch(f"/api/appointments/{a['id']}", json=move) for a in booked]
    )
    statuses = Counter(status for status, _ in results)
    assert statuses == {200: 1, 409: 5}, results
    assert all(b["error"]["code"] == "appointment_overlap" for s, b in results if s == 409)
    moved = _rows(
        settings,
        "SELECT COUNT(*) FROM appointments a JOIN appointments b ON a.id < b.id"
        " AND a.host_id = b.host_id AND a.starts_at < b.ends_at AND b.starts_at < a.ends_at"
        " AND a.status = 'scheduled' AND b.status = 'scheduled'",
    )
    assert moved == [(0,)]


async def test_concurrent_participant_adds_stop_exactly_at_the_limit(
    kota: TestServer, sanna: StaffClient, settings: Settings
) -> None:
    appointment = await book(sanna, participants=[])
    path = f"/api/appointments/{appointment['id']}/participants"
    results = await _gather_json(
        [
            sanna.post(path, json={"display_name": f"Person {i}", "role": "guardian"})
            for i in range(MAX_PARTICIPANTS + 5)
        ]
    )
    statuses = Counter(status for status, _ in results)
    assert statuses == {201: MAX_PARTICIPANTS, 409: 5}, statuses
    assert all(b["error"]["code"] == "too_many_participants" for s, b in results if s == 409)
    added = {b["id"] for s, b in results if s == 201}
    assert {row[0] for row in _usage(settings, "participant.added", appointment["id"])} == added
    assert {row[0] for row in _usage(settings, "link.issued", appointment["id"])} == added
    for status, body in results:
        if status == 201:
            assert body["link"]["status"] == "active"


async def test_concurrent_link_renewals_leave_exactly_one_active_link(
    kota: TestServer, sanna: StaffClient, settings: Settings
) -> None:
    appointment = await book(sanna)
    pid = appointment["participants"][0]["id"]
    results = await _gather_json([sanna.post(link_path(appointment)) for _ in range(10)])
    assert [s for s, _ in results] == [201] * 10
    active = _rows(
        settings, "SELECT COUNT(*) FROM join_links WHERE participant_id = ? AND revoked_at IS NULL",
        pid,
    )
    assert active == [(1,)]
    issued = _rows(settings, "SELECT COUNT(*) FROM join_links WHERE participant_id = ?", pid)
    assert issued == [(len(_usage(settings, "link.issued", appointment["id"])),)] == [(11,)]


async def test_concurrent_revokes_cancels_and_removals_are_each_logged_once_per_change(
    kota: TestServer, sanna: StaffClient, settings: Settings, accounts: Accounts
) -> None:
    two = appointment_body(
        hours_ahead(5),
        participants=[
            {"display_name": "Maija", "role": "guardian"},
            {"display_name": "Matti", "role": "child"},
        ],
    )
    resp = await sanna.post("/api/appointments", json=two)
    appointment = await resp.json()
    base = f"/api/appointments/{appointment['id']}"
    first, second = (p["id"] for p in appointment["participants"])

    revokes = await _gather_json([sanna.delete(link_path(appointment, 0)) for _ in range(5)])
    assert [s for s, _ in revokes] == [204] * 5  # revoking twice is harmless
    assert _rows(
        settings,
        "SELECT COUNT(*) FROM join_links WHERE participant_id = ? AND revoked_at IS NULL",
        first,
    ) == [(0,)]

    removals = await _gather_json(
        [sanna.delete(f"{base}/participants/{second}") for _ in range(5)]
    )
    assert Counter(s for s, _ in removals) == {204: 1, 404: 4}, removals
    assert _usage(settings, "participant.removed", appointment["id"]) == [(second,)]

    cancels = await _gather_json([sanna.post(f"{base}/cancel") for _ in range(5)])
    assert Counter(s for s, _ in cancels) == {200: 1, 409: 4}, cancels
    assert all(b["error"]["code"] == "appointment_cancelled" for s, b in cancels if s == 409)
    assert len(_usage(settings, "appointment.cancelled", appointment["id"])) == 1
    # A cancelled appointment's slot is free again for the host.
    resp = await sanna.post("/api/appointments", json=appointment_body(hours_ahead(5)))
    assert resp.status == 201, await resp.text()


async def test_concurrent_sign_ins_and_outs_each_leave_their_session_and_row(
    kota: TestServer, settings: Settings
) -> None:
    base = str(kota.make_url("")).rstrip("/")
    clients = [StaffClient(base) for _ in range(8)]
    try:
        # One username at once counts as that many attempts until they succeed: at most
        # FREE_FAILURES of one person's sign-ins go at once (test_login_throttle_race.py).
        logins = []
        for group in range(0, len(clients), FREE_FAILURES):
            logins += await asyncio.gather(
                *(c.login("pekka") for c in clients[group:group + FREE_FAILURES])
            )
        assert [r.status for r in logins] == [201] * 8
        assert _rows(settings, "SELECT COUNT(*) FROM staff_sessions") == [(8,)]
        outs = await asyncio.gather(*(c.delete("/api/session") for c in clients))
        assert [r.status for r in outs] == [204] * 8
        assert _rows(settings, "SELECT COUNT(*) FROM staff_sessions") == [(0,)]
        actions = Counter(
            row[0]
            for row in _rows(
                settings,
                "SELECT action FROM audit_log WHERE action IN ('staff.login', 'staff.logout')",
            )
        )
        assert actions == {"staff.login": 8, "staff.logout": 8}
    finally:
        for client in clients:
            await client.close()


async def test_a_refused_write_leaves_nothing_behind(
    kota: TestServer, sanna: StaffClient, settings: Settings
) -> None:
    """A booking refused mid-way (an unknown staff member) stores no half of itself."""
    before = _rows(settings, "SELECT COUNT(*) FROM audit_log")
    resp = await sanna.post(
        "/api/appointments", json=appointment_body(hours_ahead(7), staff_ids=[999])
    )
    await assert_error(resp, 422, "unknown_staff")
    assert _rows(settings, "SELECT COUNT(*) FROM appointments") == [(0,)]
    assert _rows(settings, "SELECT COUNT(*) FROM participants") == [(0,)]
    assert _rows(settings, "SELECT COUNT(*) FROM audit_log") == before

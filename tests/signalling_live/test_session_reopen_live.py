"""Ending a session for everyone, and undoing it: staff reopen it while the join window is
open, the family's link says "ended" at once and works again after a reopen, and an ended
session never blocks a new booking in its slot."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from pathlib import Path

import aiohttp

from server.settings import Settings
from tests.conftest import Accounts, StaffClient, assert_error, wait_until
from tests.server.kota_run import kota_run
from tests.signalling_live.conftest import (
    Call,
    CallClient,
    Clock,
    Json,
    book,
    running,
    token_of,
    usage_rows,
    wait_for_row,
    ws_url,
)


async def _end(call: Call) -> None:
    host = await call.staff()
    guest = await call.admitted_guest(host, 0)
    await host.send("end")
    for client in (host, guest):
        await client.until("session-ended")
        assert await client.closed() == 4004


async def _read(staff: StaffClient, appointment_id: int) -> Json:
    resp = await staff.get(f"/api/appointments/{appointment_id}")
    body: Json = await resp.json()
    assert resp.status == 200, body
    assert ("may_reopen" in body) is (body["session"] == "ended"), body
    return body


async def _session(staff: StaffClient, appointment_id: int) -> str:
    return str((await _read(staff, appointment_id))["session"])


async def _join_info(base: str, token: str) -> Json:
    async with aiohttp.ClientSession() as family, \
            family.post(f"{base}/api/join", json={"token": token}) as resp:
        body: Json = await resp.json()
        assert resp.status == 200, body
        return body


async def _rows(settings: Settings, appointment_id: int, action: str) -> int:
    return sum(r.action == action for r in await usage_rows(settings, appointment_id))


async def test_staff_reopen_an_ended_session_and_the_same_link_works_again(
    call: Call, settings: Settings, accounts: Accounts
) -> None:
    base = str(call.kota.make_url("")).rstrip("/")
    assert await _session(call.sanna, call.id) == "open"
    assert (await _join_info(base, call.tokens[0]))["session"] == "open"
    await _end(call)
    # At once (the stored state may still be queued): the page and the link say so.
    assert await _session(call.sanna, call.id) == "ended"
    assert (await _join_info(base, call.tokens[0]))["session"] == "ended"
    family = await call.socket()
    assert (await family.hello(token=call.tokens[0]))["code"] == "session_ended"

    pekka = await call.sign_in("pekka")  # another staff member of the appointment
    resp = await pekka.post(f"/api/appointments/{call.id}/reopen")
    body = await resp.json()
    assert resp.status == 200, body
    assert body["session"] == "open" and body["id"] == call.id
    assert await _session(call.sanna, call.id) == "open"
    assert (await _join_info(base, call.tokens[0]))["session"] == "open"
    rows = [r for r in await usage_rows(settings, call.id) if r.action == "session.reopened"]
    assert len(rows) == 1
    assert (rows[0].actor_kind, rows[0].actor_id) == ("staff", accounts.specialist.id)

    host = await call.staff()
    guest = await call.admitted_guest(host, 0)  # the same link, knocking again
    await guest.send("chat", text="hei")
    assert (await host.until("chat"))["text"] == "hei"


async def test_reopen_is_for_the_appointments_own_staff(
    call: Call, settings: Settings
) -> None:
    await _end(call)
    assert (await _read(call.sanna, call.id))["may_reopen"] is True
    outsider = await call.sign_in("olli")
    await assert_error(await outsider.post(f"/api/appointments/{call.id}/reopen"),
                       404, "appointment_not_found")
    admin = await call.sign_in("admin")
    assert (await _read(admin, call.id))["may_reopen"] is False  # sees it, is not its staff
    await assert_error(await admin.post(f"/api/appointments/{call.id}/reopen"),
                       403, "not_appointment_staff")
    await assert_error(await call.sanna.post("/api/appointments/99999/reopen"),
                       404, "appointment_not_found")
    assert await _session(call.sanna, call.id) == "ended"
    assert await _rows(settings, call.id, "session.reopened") == 0


async def test_an_open_session_reopened_changes_nothing(call: Call, settings: Settings) -> None:
    resp = await call.sanna.post(f"/api/appointments/{call.id}/reopen")
    assert resp.status == 200 and (await resp.json())["session"] == "open"
    assert await _rows(settings, call.id, "session.reopened") == 0


async def test_an_ended_session_blocks_no_booking_and_reopen_then_names_the_new_one(
    call: Call, settings: Settings
) -> None:
    start = call.appointment["starts_at"]
    clash = {"starts_at": start, "ends_at": call.appointment["ends_at"],
             "kind": "school_meeting", "participants": []}
    await assert_error(await call.sanna.post("/api/appointments", json=clash),
                       409, "appointment_overlap")
    await _end(call)
    # Right after the end, before or after it is written: the slot is free.
    resp = await call.sanna.post("/api/appointments", json=clash)
    new = await resp.json()
    assert resp.status == 201, new
    body = await assert_error(await call.sanna.post(f"/api/appointments/{call.id}/reopen"),
                              409, "reopen_overlap")
    assert body["error"]["appointment_id"] == new["id"]
    assert body["error"]["kind"] == "school_meeting"
    assert body["error"]["starts_at"] == new["starts_at"]
    # Pekka, staff of this appointment but not of Sanna's new one, learns its time only.
    pekka = await call.sign_in("pekka")
    body = await assert_error(await pekka.post(f"/api/appointments/{call.id}/reopen"),
                              409, "reopen_overlap")
    assert body["error"]["starts_at"] == new["starts_at"]
    assert "appointment_id" not in body["error"] and "kind" not in body["error"], body
    assert await _session(call.sanna, call.id) == "ended"
    # With the new one cancelled, the session may be reopened.
    assert (await call.sanna.post(f"/api/appointments/{new['id']}/cancel")).status == 200
    assert (await call.sanna.post(f"/api/appointments/{call.id}/reopen")).status == 200
    assert await _rows(settings, call.id, "session.reopened") == 1
    # And the reopened session blocks bookings again.
    await assert_error(await call.sanna.post("/api/appointments", json=clash),
                       409, "appointment_overlap")


async def test_double_clicks_on_end_and_reopen_count_once(call: Call, settings: Settings) -> None:
    host = await call.staff()
    await host.send("end")
    await host.send("end")
    await host.until("session-ended")
    assert await host.closed() == 4004
    await wait_for_row(settings, call.id, "session.ended")
    pekka = await call.sign_in("pekka")
    answers = await asyncio.gather(*(
        staff.post(f"/api/appointments/{call.id}/reopen")
        for staff in (call.sanna, call.sanna, pekka, pekka)))
    assert [r.status for r in answers] == [200] * 4
    assert await _rows(settings, call.id, "session.reopened") == 1
    assert await _rows(settings, call.id, "session.ended") == 1
    assert await _session(call.sanna, call.id) == "open"


async def test_end_and_reopen_at_once_leave_one_consistent_state(
    call: Call, settings: Settings
) -> None:
    """The room, the stored state, the page and the log agree whichever comes first."""
    pekka = await call.sign_in("pekka")
    for round_ in range(4):
        host = await call.staff()
        reopen = asyncio.ensure_future(pekka.post(f"/api/appointments/{call.id}/reopen"))
        if round_ % 2:
            await asyncio.sleep(0)
        await host.send("end")
        assert (await reopen).status == 200
        await host.until("session-ended")
        assert await host.closed() == 4004
        state = await _session(call.sanna, call.id)
        family = await call.socket()
        answer = await family.hello(token=call.tokens[0])
        if state == "ended":
            assert answer["code"] == "session_ended", answer
            await call.sanna.post(f"/api/appointments/{call.id}/reopen")
        else:
            assert answer["type"] == "welcome", answer
            await family.close()
            await call.sanna.post(f"/api/appointments/{call.id}/reopen")
        assert await _session(call.sanna, call.id) == "open"
    async def all_ended() -> bool:
        return await _rows(settings, call.id, "session.ended") == 4

    await wait_until(all_ended, what="four session.ended rows")
    assert await _rows(settings, call.id, "session.reopened") == 4


async def test_reopen_only_while_the_join_window_is_open(
    settings: Settings, accounts: Accounts
) -> None:
    clock = Clock()
    async with running(settings, clock) as server:
        base = str(server.make_url("")).rstrip("/")
        sanna = StaffClient(base)
        try:
            assert (await sanna.login("sanna")).status == 201
            appointment = await book(sanna, start=clock.now + timedelta(minutes=1), minutes=30)
            token = await token_of(sanna, appointment, 0)
            host = await CallClient.connect(ws_url(server, appointment["id"]), sanna.session)
            assert (await host.hello())["state"] == "admitted"
            await host.send("end")
            await host.until("session-ended")
            await host.close()
            assert (await _join_info(base, token))["session"] == "ended"
            clock.advance(minutes=32 + settings.join_grace.total_seconds() / 60)
            assert (await sanna.login("sanna")).status == 201  # the old sign-in timed out
            assert (await _read(sanna, appointment["id"]))["may_reopen"] is False
            await assert_error(await sanna.post(f"/api/appointments/{appointment['id']}/reopen"),
                               409, "appointment_over")
            assert await _session(sanna, appointment["id"]) == "ended"
        finally:
            await sanna.close()


async def test_ended_and_reopened_survive_a_restart_of_kota_run(
    settings: Settings, accounts: Accounts, tmp_path: Path
) -> None:
    async with kota_run(settings, tmp_path) as kota:
        sanna = StaffClient(kota.base)
        try:
            assert (await sanna.login("sanna")).status == 201
            appointment = await book(sanna)
            token = await token_of(sanna, appointment, 0)
            url = f"ws://127.0.0.1:{kota.port}/ws?appointment={appointment['id']}"
            host = await CallClient.connect(url, sanna.session)
            assert (await host.hello())["state"] == "admitted"
            await host.send("end")
            await host.until("session-ended")
            await host.close()
        finally:
            await sanna.close()
    for expected in ("ended", "open"):
        async with kota_run(settings, tmp_path) as kota:
            sanna = StaffClient(kota.base)
            try:
                assert (await sanna.login("sanna")).status == 201
                assert await _session(sanna, appointment["id"]) == expected
                assert (await _join_info(kota.base, token))["session"] == expected
                family = await CallClient.connect(f"ws://127.0.0.1:{kota.port}/ws")
                answer = await family.hello(token=token)
                await family.close()
                if expected == "ended":
                    assert answer["code"] == "session_ended", answer
                    resp = await sanna.post(f"/api/appointments/{appointment['id']}/reopen")
                    assert resp.status == 200
                else:
                    assert answer["type"] == "welcome" and answer["state"] == "waiting", answer
            finally:
                await sanna.close()


async def test_a_family_that_left_knocks_as_returned_after_a_restart(
    settings: Settings, accounts: Accounts, tmp_path: Path
) -> None:
    """The "returned" mark is saved with the call's seats: a restart of ``kota run``
    between the leave and the next knock keeps it."""
    async with kota_run(settings, tmp_path) as kota:
        sanna = StaffClient(kota.base)
        try:
            assert (await sanna.login("sanna")).status == 201
            appointment = await book(sanna)
            token = await token_of(sanna, appointment, 0)
            url = f"ws://127.0.0.1:{kota.port}/ws?appointment={appointment['id']}"
            host = await CallClient.connect(url, sanna.session)
            assert (await host.hello())["state"] == "admitted"
            family = await CallClient.connect(f"ws://127.0.0.1:{kota.port}/ws")
            assert (await family.hello(token=token))["state"] == "waiting"
            knock = await host.until("knocked")
            assert knock["participant"]["returned"] is False
            await host.send("admit", participant=knock["participant"]["participant"])
            await family.until("admitted")
            await family.send("leave")
            assert await family.closed() == 1000
            await host.until("peer-left")
            await host.close()
        finally:
            await sanna.close()
    async with kota_run(settings, tmp_path) as kota:
        sanna = StaffClient(kota.base)
        try:
            assert (await sanna.login("sanna")).status == 201
            url = f"ws://127.0.0.1:{kota.port}/ws?appointment={appointment['id']}"
            host = await CallClient.connect(url, sanna.session)
            assert (await host.hello())["state"] == "admitted"
            family = await CallClient.connect(f"ws://127.0.0.1:{kota.port}/ws")
            assert (await family.hello(token=token))["state"] == "waiting"
            knock = await host.until("knocked")
            assert knock["participant"]["returned"] is True, knock
            await family.close()
            await host.close()
        finally:
            await sanna.close()

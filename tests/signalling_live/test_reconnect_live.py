"""Reconnect grace and resume; a server restart in the middle of a call."""

from __future__ import annotations

import asyncio
import dataclasses
import sqlite3

import pytest

from server.db import Database
from server.settings import Settings
from tests.conftest import Accounts, StaffClient, free_port, wait_until
from tests.signalling_live.conftest import (
    Call,
    CallClient,
    book,
    running,
    token_of,
    wait_for_row,
    ws_url,
)


async def test_resume_within_grace_keeps_the_seat(call: Call, settings: Settings) -> None:
    host = await call.staff()
    guest = await call.admitted_guest(host, 0)
    ticket = guest.ticket()
    await guest.close()  # the connection drops: no leave
    gone = await host.expect("peer-disconnected", participant=guest.participant)
    assert gone["until"]
    back = await call.socket()
    welcome = await back.hello(resume=ticket)
    assert (welcome["state"], welcome["resumed"]) == ("admitted", True), welcome
    assert welcome["resume_secret"] != ticket["secret"]
    assert [p["participant"] for p in welcome["peers"]] == [host.participant]
    returned = await host.expect("peer-reconnected", participant=guest.participant)
    assert returned["seat"] == 2 and not returned.get("fresh")  # the host has seat 1
    await wait_for_row(settings, call.id, "call.reconnected")
    await host.probe()  # nobody was admitted again


async def test_a_used_resume_secret_fails_like_any_other(call: Call) -> None:
    host = await call.staff()
    guest = await call.admitted_guest(host, 0)
    old = guest.ticket()
    await guest.close()
    first = await call.socket()
    assert (await first.hello(resume=old))["resumed"] is True
    second = await call.socket()
    assert (await second.hello(resume=old))["code"] == "resume_failed"
    assert (await second.hello(token=call.tokens[1]))["state"] == "waiting"


@pytest.mark.call_settings(reconnect_grace_seconds=0.3)
async def test_after_the_grace_period_the_guest_must_wait_again(call: Call) -> None:
    host = await call.staff()
    guest = await call.admitted_guest(host, 0)
    ticket = guest.ticket()
    await guest.close()
    await host.expect("peer-disconnected", participant=guest.participant)
    await host.expect("peer-left", participant=guest.participant)
    back = await call.socket()
    assert (await back.hello(resume=ticket))["code"] == "resume_failed"
    assert (await back.hello(token=call.tokens[0]))["state"] == "waiting"


async def test_staff_resume_names_the_appointment(call: Call) -> None:
    host = await call.staff()
    ticket = host.ticket()
    await host.close()
    colleague = await call.staff("pekka")
    back = await call.socket(appointment_id=call.id)
    welcome = await back.hello(resume=ticket)
    assert welcome["resumed"] is True and welcome["staff"] is True
    await colleague.expect("peer-reconnected", participant=ticket["participant"])


async def test_a_restart_keeps_admitted_seats(settings: Settings, accounts: Accounts) -> None:
    """Stop the server mid-call; a new one on the same file takes the seats back."""
    clients: list[CallClient] = []
    staff = StaffClient(f"http://127.0.0.1:{settings.port}")
    try:
        async with running(settings) as first:
            assert (await staff.login("sanna")).status == 201
            appointment = await book(staff)
            tokens = [await token_of(staff, appointment, i) for i in range(2)]
            host = await CallClient.connect(ws_url(first, appointment["id"]), staff.session)
            guest = await CallClient.connect(ws_url(first))
            waiting = await CallClient.connect(ws_url(first))
            silent = await CallClient.connect(ws_url(first))  # never says hello
            clients += [host, guest, waiting, silent]
            await host.hello()
            await guest.hello(token=tokens[0])
            await waiting.hello(token=tokens[1])
            await host.send("admit", participant=guest.participant)
            await guest.expect("admitted")
            tickets = host.ticket(), guest.ticket()
            # Read on while the server stops, as a browser would, so it can close cleanly.
            closing = [asyncio.create_task(client.closed()) for client in clients]
        assert [await task for task in closing] == [1001] * 4  # server_shutdown
        settings = dataclasses.replace(settings, port=free_port())
        staff.base = f"http://127.0.0.1:{settings.port}"
        async with running(settings) as second:
            guest2 = await CallClient.connect(ws_url(second))
            waiting2 = await CallClient.connect(ws_url(second))
            clients += [guest2, waiting2]
            welcome = await guest2.hello(resume=tickets[1])
            assert (welcome["state"], welcome["resumed"]) == ("admitted", True), welcome
            staff_back = await CallClient.connect(ws_url(second, appointment["id"]),
                                                  staff.session)
            clients.append(staff_back)
            assert (await staff_back.hello(resume=tickets[0]))["resumed"] is True
            await guest2.until("peer-reconnected", participant=tickets[0]["participant"])
            assert (await waiting2.hello(token=tokens[1]))["state"] == "waiting"
            await staff_back.until("knocked")  # the waiting guest knocked again
            closing = [asyncio.create_task(c.closed()) for c in (guest2, waiting2, staff_back)]
        assert [await task for task in closing] == [1001] * 3
        await wait_for_row(settings, appointment["id"], "call.reconnected")
    finally:
        for client in clients:
            await client.close()
        await staff.close()


async def test_seats_survive_a_crash_too(call: Call, settings: Settings) -> None:
    """No clean shutdown: a copy of the file taken mid-call is what a crash leaves."""
    host = await call.staff()
    guest = await call.admitted_guest(host, 0)

    async def seat_saved() -> bool:
        db = Database(settings.db_path)
        await db.open()
        try:
            saved = await db.get_call(call.id)
        finally:
            await db.close()
        return saved is not None and len(saved.seats) == 2

    await wait_until(seat_saved, what="the admitted seat to be saved")
    copy = settings.db_path.with_name("crashed.sqlite3")
    with sqlite3.connect(settings.db_path) as src, sqlite3.connect(copy) as dst:
        src.backup(dst)
    crashed = dataclasses.replace(settings, db_path=copy, port=free_port())
    async with running(crashed) as second:
        back = await CallClient.connect(ws_url(second))
        call.clients.append(back)
        welcome = await back.hello(resume=guest.ticket())
        assert (welcome["state"], welcome["resumed"]) == ("admitted", True), welcome
        assert [(p["participant"], p["connected"]) for p in welcome["peers"]] == [
            (host.participant, False)]  # the host's seat is held, waiting for them
        closing = asyncio.create_task(back.closed())
    assert await closing == 1001


@pytest.mark.call_settings(ws_heartbeat_seconds=1)
async def test_a_client_that_stops_answering_pings_is_dropped(
    call: Call, settings: Settings
) -> None:
    host = await call.staff()
    guest = await call.admitted_guest(host, 0)  # from here on it reads (and pongs) nothing
    gone = await host.expect("peer-disconnected", participant=guest.participant)
    assert gone["until"]
    await wait_for_row(settings, call.id, "call.disconnected", reason="connection_lost")

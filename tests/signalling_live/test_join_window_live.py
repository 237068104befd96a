"""The join window: opens KOTA_JOIN_OPENS_MINUTES before the start, closes at end + grace."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta

from server.settings import Settings
from tests.conftest import Accounts, StaffClient
from tests.signalling_live.conftest import (
    Call,
    CallClient,
    Clock,
    book,
    running,
    token_of,
    ws_url,
)


def at(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


async def test_before_the_window_opens_the_error_says_when(call: Call) -> None:
    start = datetime.now(UTC).replace(microsecond=0) + timedelta(days=2)
    later = await book(call.sanna, start=start, guests=[("Olga", "guardian")])
    token = await token_of(call.sanna, later, 0)
    staff = await call.socket("sanna", later["id"])
    family = await call.socket()
    for refused in (await staff.hello(), await family.hello(token=token)):
        assert refused["code"] == "outside_join_window"
        assert at(refused["opens_at"]) == start - timedelta(minutes=15)
        assert at(refused["closes_at"]) == start + timedelta(minutes=30 + 30)
    assert await staff.closed() == 4009
    assert await family.closed() == 4009


async def test_after_the_window_closes_nobody_enters_but_a_call_goes_on(
    settings: Settings, accounts: Accounts
) -> None:
    clock = Clock()
    settings = dataclasses.replace(settings, session_minutes=24 * 60)
    staff = StaffClient(f"http://127.0.0.1:{settings.port}")
    clients: list[CallClient] = []
    try:
        async with running(settings, clock) as kota:
            assert (await staff.login("sanna")).status == 201
            appointment = await book(staff, start=clock.now, minutes=30)
            token = await token_of(staff, appointment, 0)
            host = await CallClient.connect(ws_url(kota, appointment["id"]), staff.session)
            guest = await CallClient.connect(ws_url(kota))
            clients += [host, guest]
            await host.hello()
            await guest.hello(token=token)
            await host.until("knocked")
            await host.send("admit", participant=guest.participant)
            await guest.expect("admitted")

            clock.advance(minutes=30 + 30, seconds=1)  # past end + KOTA_JOIN_GRACE_MINUTES
            late = await CallClient.connect(ws_url(kota, appointment["id"]), staff.session)
            clients.append(late)
            refused = await late.hello()
            assert refused["code"] == "outside_join_window"
            assert at(refused["closes_at"]) < clock.now
            assert await late.closed() == 4009
            family = await CallClient.connect(ws_url(kota))
            clients.append(family)
            assert (await family.hello(token=token))["code"] == "token_expired"  # end + grace
            # The call already running goes on, and a resume needs no window.
            await guest.send("chat", text="vielä hetki")
            await host.until("chat")
            ticket = guest.ticket()
            await guest.close()
            back = await CallClient.connect(ws_url(kota))
            clients.append(back)
            assert (await back.hello(resume=ticket))["resumed"] is True
            for client in clients:
                await client.close()
    finally:
        for client in clients:
            await client.close()
        await staff.close()

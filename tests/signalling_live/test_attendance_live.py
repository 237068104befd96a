"""GET /api/appointments/{id}/attendance: first joined, last left, time connected."""

from __future__ import annotations

import dataclasses
from datetime import datetime, timedelta
from typing import Any

from server.settings import Settings
from tests.conftest import Accounts, StaffClient, assert_error
from tests.signalling_live.conftest import (
    CallClient,
    Clock,
    book,
    running,
    token_of,
    ws_url,
)


async def test_attendance_follows_the_call(settings: Settings, accounts: Accounts) -> None:
    clock = Clock()
    t0 = clock.now
    settings = dataclasses.replace(settings, session_minutes=24 * 60)
    base = f"http://127.0.0.1:{settings.port}"
    sanna, pekka, olli = StaffClient(base), StaffClient(base), StaffClient(base)
    clients: list[CallClient] = []
    try:
        async with running(settings, clock) as kota:
            for staff, name in ((sanna, "sanna"), (pekka, "pekka"), (olli, "olli")):
                assert (await staff.login(name)).status == 201
            appointment = await book(sanna, start=t0 + timedelta(minutes=1),
                                     staff_ids=[accounts.specialist.id])
            path = f"/api/appointments/{appointment['id']}/attendance"
            token = await token_of(sanna, appointment, 0)
            host = await CallClient.connect(ws_url(kota, appointment["id"]), sanna.session)
            guest = await CallClient.connect(ws_url(kota))
            clients += [host, guest]
            await host.hello()
            clock.advance(seconds=60)
            await guest.hello(token=token)
            await host.until("knocked")
            clock.advance(seconds=60)
            await host.send("admit", participant=guest.participant)
            await guest.expect("admitted")
            clock.advance(seconds=480)  # t0 + 600: the guest's connection drops
            ticket = guest.ticket()
            await guest.close()
            await host.until("peer-disconnected")
            clock.advance(seconds=10)
            back = await CallClient.connect(ws_url(kota))
            clients.append(back)
            assert (await back.hello(resume=ticket))["resumed"] is True
            clock.advance(seconds=590)  # t0 + 1200
            await back.send("leave")
            await host.until("peer-left")
            clock.advance(seconds=600)  # t0 + 1800

            resp = await pekka.get(path)
            body = await resp.json()
            assert resp.status == 200, body
            people = {p["participant"]: p for p in body["participants"]}
            assert list(people) == [f"s:{accounts.worker.id}", f"s:{accounts.specialist.id}",
                                    *(f"l:{p['id']}" for p in appointment["participants"])]
            assert _times(people[host.participant]) == (t0, None, 1800, True)
            assert _times(people[guest.participant]) == (
                t0 + timedelta(seconds=120), t0 + timedelta(seconds=1200), 1200 - 120 - 10, False)
            assert people[guest.participant]["display_name"] == "Maija"
            absent = people[f"l:{appointment['participants'][1]['id']}"]
            assert _times(absent) == (None, None, 0, False)
            assert _times(people[f"s:{accounts.specialist.id}"]) == (None, None, 0, False)
            await assert_error(await olli.get(path), 404, "appointment_not_found")
            for client in clients:
                await client.close()
    finally:
        for client in clients:
            await client.close()
        for staff in (sanna, pekka, olli):
            await staff.close()


def _times(person: dict[str, Any]) -> tuple[datetime | None, datetime | None, int, bool]:
    def parse(text: str | None) -> datetime | None:
        return None if text is None else datetime.fromisoformat(text)

    return (parse(person["first_joined"]), parse(person["last_left"]),
            person["connected_seconds"], person["in_call"])

"""Helpers of the contact-line socket tests: a server on a clock tests move, lines made
through the admin API, and line clients speaking docs/protocol-lines.md."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import aiohttp
from aiohttp.test_utils import TestServer

from server.db import Database
from server.settings import Settings
from tests.conftest import Accounts, StaffClient
from tests.signalling_live.conftest import CallClient, running

HELSINKI = ZoneInfo("Europe/Helsinki")
# A Monday noon in winter: the lines below are open 08-20 on weekdays.
MONDAY_NOON = datetime(2027, 1, 4, 12, 0, tzinfo=HELSINKI)
Json = dict[str, Any]


class MovableClock:
    """The server's clock: stands still until a test moves it (timers still run)."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


def line_body(accounts: Accounts, **fields: Any) -> Json:
    body: Json = {
        "slug": "neuvonta", "name": "Neuvonta", "kind": "public", "modes": "both",
        "queue_cap": 50, "grace_minutes": 10, "callback_after_minutes": 5,
        "staff_ids": [accounts.worker.id, accounts.specialist.id],
        "hours": [{"weekday": d, "opens": "08:00", "closes": "20:00"} for d in range(5)],
        "closures": [],
    }
    body.update(fields)
    return body


@dataclasses.dataclass
class Lines:
    """A running server with a clock, signed-in staff, and its line sockets."""

    server: TestServer
    clock: MovableClock
    settings: Settings
    accounts: Accounts
    admin: StaffClient
    staff_clients: dict[str, StaffClient] = dataclasses.field(default_factory=dict)
    clients: list[CallClient] = dataclasses.field(default_factory=list)

    @property
    def url(self) -> str:
        return str(self.server.make_url("/ws/line"))

    async def make_line(self, **fields: Any) -> Json:
        resp = await self.admin.post("/api/lines", json=line_body(self.accounts, **fields))
        created: Json = await resp.json()
        assert resp.status == 201, created
        return created

    async def enrol(self, line_id: int, family_name: str = "Virtanen",
                    staff_ids: list[int] | None = None) -> tuple[int, str]:
        """A family's personal link: its enrolment id and secret."""
        resp = await self.admin.post(f"/api/lines/{line_id}/enrolments", json={
            "family_name": family_name, "language": "fi", "staff_ids": staff_ids or []})
        body: Json = await resp.json()
        assert resp.status == 201, body
        return int(body["enrolment"]["id"]), str(body["link"].split("#e=", 1)[1])

    async def staff_client(self, username: str) -> StaffClient:
        if username not in self.staff_clients:
            client = StaffClient(str(self.server.make_url("")).rstrip("/"))
            resp = await client.login(username)
            assert resp.status == 201, await resp.text()
            self.staff_clients[username] = client
        return self.staff_clients[username]

    async def socket(self, username: str | None = None) -> CallClient:
        session = None if username is None else (await self.staff_client(username)).session
        client = await CallClient.connect(self.url, session)
        self.clients.append(client)
        return client

    async def person(self, slug: str = "neuvonta", mode: str = "chat", **fields: Any,
                     ) -> tuple[CallClient, Json]:
        """A person in the public line: its socket and welcome."""
        client = await self.socket()
        await client.send("hello", version="1", line=slug, mode=mode, **fields)
        welcome = await client.expect("welcome")
        return client, welcome

    async def family(self, secret: str, mode: str = "chat") -> tuple[CallClient, Json]:
        client = await self.socket()
        await client.send("hello", version="1", enrolment=secret, mode=mode)
        welcome = await client.expect("welcome")
        return client, welcome

    async def staff(self, username: str, duty: list[int] | None = None) -> CallClient:
        """A professional's socket: welcomed, and on duty for ``duty`` if given."""
        client = await self.socket(username)
        await client.send("hello", version="1", staff=True)
        await client.expect("welcome")
        if duty is not None:
            await client.send("duty", lines=duty)
            await client.until("board", duty=duty)
        return client

    async def close(self) -> None:
        for client in self.clients:
            await client.close()
        for staff in self.staff_clients.values():
            await staff.close()
        await self.admin.close()


@asynccontextmanager
async def lines_server(settings: Settings, accounts: Accounts,
                       clock: MovableClock | None = None) -> AsyncIterator[Lines]:
    clock = clock or MovableClock(MONDAY_NOON)
    async with running(settings, clock) as server:
        admin = StaffClient(str(server.make_url("")).rstrip("/"))
        resp = await admin.login("admin")
        assert resp.status == 201
        made = Lines(server, clock, settings, accounts, admin)
        try:
            yield made
        finally:
            await made.close()


async def usage(settings: Settings, action_prefix: str = "line.") -> list[tuple[str, Json]]:
    """Every ``line.*`` usage-log row: action and detail, read from the file."""
    db = Database(settings.db_path)
    await db.open()
    try:
        return [(row.action, json.loads(row.detail) if row.detail else {})
                async for row in db.iter_audit_rows() if row.action.startswith(action_prefix)]
    finally:
        await db.close()


async def raw_frames(url: str, frames: list[str | bytes]) -> list[Any]:
    """Sends ``frames`` on a fresh socket and returns what came back until it closed or
    went quiet (the close code last, as an int)."""
    out: list[Any] = []
    async with aiohttp.ClientSession() as session, session.ws_connect(url) as ws:
        for frame in frames:
            if isinstance(frame, bytes):
                await ws.send_bytes(frame)
            else:
                await ws.send_str(frame)
        while True:
            try:
                msg = await ws.receive(timeout=2)
            except TimeoutError:
                break
            if msg.type is aiohttp.WSMsgType.TEXT:
                out.append(json.loads(msg.data))
            else:
                out.append(ws.close_code)
                break
    return out


Check = Callable[[Json], bool]

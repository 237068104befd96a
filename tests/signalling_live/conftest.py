"""Live call tests: a real server, real WebSocket clients speaking docs/protocol.md.

``@pytest.mark.call_settings(field=value)`` changes settings (shorter protocol timers)
for one test; the ``call`` fixture books an appointment that is open for joining now.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
import pytest
from aiohttp import WSMsgType
from aiohttp.test_utils import TestServer

from server.app import create_app
from server.db import Database
from server.records import AuditRow
from server.settings import Settings
from tests.conftest import Accounts, StaffClient, wait_until

GUESTS = [("Maija", "guardian"), ("Matti", "child"), ("Tuula", "interpreter")]
Json = dict[str, Any]


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "call_settings(**fields): override Settings fields")


@pytest.fixture
def settings(settings: Settings, request: pytest.FixtureRequest) -> Settings:
    marker = request.node.get_closest_marker("call_settings")
    return dataclasses.replace(settings, **marker.kwargs) if marker else settings


async def usage_rows(settings: Settings, appointment_id: int) -> list[AuditRow]:
    """The appointment's usage-log rows, read from the file as an auditor would."""
    db = Database(settings.db_path)
    await db.open()
    try:
        return [row async for row in db.iter_audit_rows() if row.appointment_id == appointment_id]
    finally:
        await db.close()


async def wait_for_row(settings: Settings, appointment_id: int, action: str,
                       **detail: Any) -> AuditRow:
    """Call rows are written in batches: wait for the one with ``action`` and ``detail``."""
    found: list[AuditRow] = []

    async def written() -> bool:
        for row in await usage_rows(settings, appointment_id):
            fields = json.loads(row.detail) if row.detail else {}
            if row.action == action and all(fields.get(k) == v for k, v in detail.items()):
                found.append(row)
                return True
        return False

    await wait_until(written, what=f"usage-log row {action} {detail}")
    return found[0]


class Clock:
    """A server clock that stands still until a test moves it (protocol timers still run)."""

    def __init__(self) -> None:
        self.now = datetime.now(UTC).replace(microsecond=0)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


@asynccontextmanager
async def running(settings: Settings, clock: Callable[[], datetime] | None = None,
                  ) -> AsyncIterator[TestServer]:
    """A server of our own (its own clock, or a second one on the same file)."""
    app = create_app(settings) if clock is None else create_app(settings, clock)
    server = TestServer(app, host="127.0.0.1", port=settings.port)
    await server.start_server()
    try:
        yield server
    finally:
        await server.close()


def ws_url(server: TestServer, appointment_id: int | None = None) -> str:
    query = "" if appointment_id is None else f"?appointment={appointment_id}"
    return str(server.make_url(f"/ws{query}"))


class CallClient:
    """One call socket; every read waits at most five seconds."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse, session: aiohttp.ClientSession,
                 own_session: bool) -> None:
        self.ws = ws
        self.session = session
        self._own_session = own_session
        self.participant: str | None = None
        self.secret: str | None = None

    @classmethod
    async def connect(cls, url: str, session: aiohttp.ClientSession | None = None) -> CallClient:
        own = session is None
        session = session or aiohttp.ClientSession()
        ws = await session.ws_connect(url, autoping=True)
        return cls(ws, session, own)

    async def send(self, type_: str, **fields: Any) -> None:
        await self.ws.send_str(json.dumps({"type": type_, **fields}))

    async def recv(self) -> Json:
        msg = await asyncio.wait_for(self.ws.receive(), 5)
        assert msg.type is WSMsgType.TEXT, (msg.type, msg.data, msg.extra)
        data: Json = json.loads(msg.data)
        if data.get("resume_secret"):
            self.secret = data["resume_secret"]
        return data

    async def expect(self, type_: str, **fields: Any) -> Json:
        """The very next message, which must be ``type_`` with these field values."""
        data = await self.recv()
        assert data["type"] == type_, data
        for key, value in fields.items():
            assert _field(data, key, value) == value, (key, data)
        return data

    async def until(self, type_: str, **fields: Any) -> Json:
        """Skips other messages until one of ``type_`` with these field values."""
        while True:
            data = await self.recv()
            if data["type"] == type_ and all(_field(data, k, v) == v for k, v in fields.items()):
                return data

    async def closed(self) -> int:
        """Reads to the close frame (skipping messages) and returns the code it carries.

        That is what a browser reports; aiohttp's own ``close_code`` turns into 1006 when
        its automatic reply finds the server already gone.
        """
        while True:
            msg = await asyncio.wait_for(self.ws.receive(), 5)
            if msg.type is WSMsgType.CLOSE:
                return int(msg.data)
            if msg.type in (WSMsgType.CLOSED, WSMsgType.CLOSING, WSMsgType.ERROR):
                code = self.ws.close_code
                assert code is not None
                return code

    async def probe(self) -> None:
        """Proves nothing else was queued for us: the reply to a bad message comes next."""
        await self.ws.send_str('{"type":"probe"}')
        await self.expect("error", code="bad_message")

    async def hello(self, *, token: str | None = None, resume: Json | None = None) -> Json:
        fields: Json = {"version": ["1"]}
        if token is not None:
            fields["token"] = token
        if resume is not None:
            fields["resume"] = resume
        await self.send("hello", **fields)
        welcome = await self.recv()
        if welcome["type"] == "welcome":
            self.participant = welcome["participant"]
        return welcome

    def ticket(self, fresh: bool = False) -> Json:
        assert self.participant and self.secret
        return {"participant": self.participant, "secret": self.secret, "fresh": fresh}

    async def close(self) -> None:
        await self.ws.close()
        if self._own_session:
            await self.session.close()


async def sweeps(url: str, n: int) -> None:
    """Returns once the server's heartbeat has pinged a socket of our own ``n`` times.

    The socket never says hello (pings come before it too), so it must finish within
    the hello timeout; it answers each ping, as any client does.
    """
    async with aiohttp.ClientSession() as session, session.ws_connect(url, autoping=False) as ws:
        for _ in range(n):
            msg = await asyncio.wait_for(ws.receive(), 5)
            assert msg.type is WSMsgType.PING, (msg.type, msg.data)
            await ws.pong(msg.data)


def _field(data: Json, key: str, wanted: Any) -> Any:
    """The server omits fields at their default (false, null): absent ``revoked`` is false."""
    return data.get(key, False if wanted is False else None)


def open_window_start() -> datetime:
    """A start time whose join window is open now (it opens 15 minutes before)."""
    return datetime.now(UTC).replace(microsecond=0) + timedelta(minutes=1)


async def book(staff: StaffClient, *, start: datetime | None = None, minutes: int = 30,
               staff_ids: list[int] | None = None,
               guests: list[tuple[str, str]] = GUESTS) -> Json:
    start = start or open_window_start()
    resp = await staff.post("/api/appointments", json={
        "starts_at": start.isoformat(),
        "ends_at": (start + timedelta(minutes=minutes)).isoformat(),
        "kind": "family_counselling",
        "staff_ids": staff_ids or [],
        "participants": [{"display_name": n, "role": r} for n, r in guests],
    })
    body: Json = await resp.json()
    assert resp.status == 201, body
    return body


async def token_of(staff: StaffClient, appointment: Json, index: int) -> str:
    pid = appointment["participants"][index]["id"]
    resp = await staff.get(f"/api/appointments/{appointment['id']}/participants/{pid}/link")
    body = await resp.json()
    assert resp.status == 200, body
    return str(body["url"].split("#", 1)[1])


@dataclasses.dataclass
class Call:
    """One booked appointment (host Sanna, staff Pekka, three guests) and its sockets."""

    kota: TestServer
    sign_in: Callable[[str], Awaitable[StaffClient]]
    sanna: StaffClient
    appointment: Json
    tokens: list[str]
    clients: list[CallClient] = dataclasses.field(default_factory=list)
    _staff: dict[str, StaffClient] = dataclasses.field(default_factory=dict)

    @property
    def id(self) -> int:
        return int(self.appointment["id"])

    def guest_id(self, index: int) -> str:
        return f"l:{self.appointment['participants'][index]['id']}"

    async def socket(self, username: str | None = None, appointment_id: int | None = None,
                     ) -> CallClient:
        """An open socket, with the staff member's cookie if ``username`` is given."""
        session = None
        if username is not None:
            if username not in self._staff:
                self._staff[username] = (self.sanna if username == "sanna"
                                         else await self.sign_in(username))
            session = self._staff[username].session
        client = await CallClient.connect(ws_url(self.kota, appointment_id), session)
        self.clients.append(client)
        return client

    async def staff(self, username: str = "sanna") -> CallClient:
        """A staff member in the call (welcome and waiting-list read)."""
        client = await self.socket(username, self.id)
        welcome = await client.hello()
        assert welcome["type"] == "welcome" and welcome["state"] == "admitted", welcome
        await client.expect("waiting-list")
        return client

    async def guest(self, index: int) -> CallClient:
        """A guest in the waiting room (welcome read)."""
        client = await self.socket()
        welcome = await client.hello(token=self.tokens[index])
        assert welcome["type"] == "welcome" and welcome["state"] == "waiting", welcome
        return client

    async def admitted_guest(self, host: CallClient, index: int) -> CallClient:
        """A guest admitted by ``host``; the host's waiting-room updates are consumed."""
        guest = await self.guest(index)
        await host.until("knocked")
        await host.send("admit", participant=self.guest_id(index))
        await guest.expect("admitted")
        await host.until("peer-joined")
        return guest


@pytest.fixture
async def call(kota: TestServer, accounts: Accounts,
               staff_client: Callable[[str], Awaitable[StaffClient]]) -> AsyncIterator[Call]:
    sanna = await staff_client("sanna")
    appointment = await book(sanna, staff_ids=[accounts.specialist.id])
    tokens = [await token_of(sanna, appointment, i) for i in range(len(GUESTS))]
    made = Call(kota, staff_client, sanna, appointment, tokens)
    yield made
    for client in made.clients:
        await client.close()

"""Real calls: a real server, bots speaking the real protocol, real aiortc media.

All media stays on loopback: ``loopback_only`` keeps aioice to 127.0.0.1 and every bot
gets an explicit, empty ICE server list (docs: /work/shared/TESTING-WEBRTC.md).
``@pytest.mark.grace(seconds)`` shortens the reconnect grace for one test.
"""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import aioice.ice
import pytest
from aiohttp.test_utils import TestServer

from server.settings import Settings
from signalling.peers.participant import BotParticipant
from signalling.peers.synthetic_media import TINTS
from tests.conftest import PASSWORD, StaffClient

Json = dict[str, Any]
SignIn = Callable[[str], Awaitable[StaffClient]]


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "grace(seconds): the server's reconnect grace period")


@pytest.fixture(autouse=True)
def loopback_only(monkeypatch: pytest.MonkeyPatch) -> None:
    """aioice skips 127.0.0.1 and would use the machine's external address instead."""

    def loopback(use_ipv4: bool = True, use_ipv6: bool = True) -> list[str]:
        return ["127.0.0.1"] if use_ipv4 else []

    monkeypatch.setattr(aioice.ice, "get_host_addresses", loopback)


@pytest.fixture(autouse=True)
def no_decoder_left() -> Iterator[None]:
    """Every bot closed its connections: a receiver never stopped leaves a decoder thread,
    which keeps the whole test run from exiting."""
    before = set(threading.enumerate())
    yield
    left = [
        t for t in threading.enumerate() if t.name.endswith("-decoder") and t not in before
    ]
    for thread in left:
        thread.join(timeout=15)  # a loaded 2-core machine can be slow to drain a decoder
    assert not [t.name for t in left if t.is_alive()], "aiortc decoder threads still running"


@pytest.fixture
def settings(settings: Settings, request: pytest.FixtureRequest) -> Settings:
    marker = request.node.get_closest_marker("grace")
    if marker is None:
        return settings
    return dataclasses.replace(settings, reconnect_grace_seconds=float(marker.args[0]))


async def book(staff: StaffClient, *, guests: int = 1, staff_ids: list[int] | None = None,
               kind: str = "family_counselling") -> Json:
    """An appointment whose join window is open now, with ``guests`` family members."""
    start = datetime.now(UTC).replace(microsecond=0) + timedelta(minutes=1)
    resp = await staff.post("/api/appointments", json={
        "starts_at": start.isoformat(),
        "ends_at": (start + timedelta(minutes=45)).isoformat(),
        "kind": kind,
        "staff_ids": staff_ids or [],
        "participants": [{"display_name": f"Guest {n}", "role": "guardian"}
                         for n in range(guests)],
    })
    body: Json = await resp.json()
    assert resp.status == 201, body
    return body


async def family_link(staff: StaffClient, appointment: Json, index: int = 0) -> str:
    """The family's join link, as staff copy it: ``GET …/participants/{pid}/link``."""
    pid = appointment["participants"][index]["id"]
    resp = await staff.get(f"/api/appointments/{appointment['id']}/participants/{pid}/link")
    body = await resp.json()
    assert resp.status == 200, body
    return str(body["url"])


class Bots:
    """Makes bots against the test server and closes them all at the end."""

    def __init__(self, kota: TestServer) -> None:
        self.base = str(kota.make_url("")).rstrip("/")
        self.made: list[BotParticipant] = []

    def family(self, link: str, name: str = "family", tint: int = 1, **options: Any
               ) -> BotParticipant:
        bot = BotParticipant.family(link, name=name, ice_servers=[], tint=TINTS[tint],
                                    **options)
        self.made.append(bot)
        return bot

    async def staff(self, username: str, appointment: Json, tint: int = 0, **options: Any
                    ) -> BotParticipant:
        bot = await BotParticipant.staff(self.base, username, PASSWORD, appointment["id"],
                                         ice_servers=[], tint=TINTS[tint], **options)
        self.made.append(bot)
        return bot


@pytest.fixture
async def bots(kota: TestServer) -> AsyncIterator[Bots]:
    made = Bots(kota)
    yield made
    for bot in made.made:
        await bot.close()
    errors = [(bot.name, peer, m.errors) for bot in made.made
              for peer, history in bot.received.items() for m in history if m.errors]
    assert not errors, f"negotiation failed: {errors}"

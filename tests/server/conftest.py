"""Server-test fixtures: a clock tests can move, a family client, booking helpers and
the real ``kota`` command run as a subprocess."""

from __future__ import annotations

import asyncio
import io
import logging
import os
import sys
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestServer

from server.app import create_app
from server.log import JsonFormatter, configure_logging
from server.settings import Settings
from tests.conftest import Accounts, StaffClient

KOTA_COMMAND = Path(sys.executable).with_name("kota")
MAIJA = "Maija Virtanen"
MAIJA_CONTACT = "040 123 4567"

SignIn = Callable[[str], Awaitable[StaffClient]]


class Clock:
    """The server's clock: real time plus an offset. Time keeps flowing, but a test
    jumps ahead (``advance``) or to a moment (``set``) instead of waiting."""

    def __init__(self) -> None:
        self.offset = timedelta(0)

    def __call__(self) -> datetime:
        return datetime.now(UTC) + self.offset

    def advance(self, **delta: float) -> None:
        self.offset += timedelta(**delta)

    def set(self, moment: datetime) -> None:
        self.offset = moment - datetime.now(UTC)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
async def kota(settings: Settings, accounts: Accounts, clock: Clock) -> AsyncIterator[TestServer]:
    """The root ``kota`` server, but running on ``clock``."""
    server = TestServer(create_app(settings, clock), host="127.0.0.1", port=settings.port)
    await server.start_server()
    try:
        yield server
    finally:
        await server.close()


@pytest.fixture
async def sanna(staff_client: SignIn) -> StaffClient:
    """Sanna, a professional, signed in."""
    return await staff_client("sanna")


@pytest.fixture
async def family(kota: TestServer) -> AsyncIterator[aiohttp.ClientSession]:
    """A family's browser: no account, no cookies from staff."""
    async with aiohttp.ClientSession(base_url=kota.make_url("")) as session:
        yield session


def appointment_body(
    start: datetime | None = None, minutes: int = 45, **fields: Any
) -> dict[str, Any]:
    """A valid booking an hour from now with one guardian; ``fields`` override any key."""
    start = start or datetime.now(UTC).replace(microsecond=0) + timedelta(hours=1)
    body: dict[str, Any] = {
        "starts_at": start.isoformat(),
        "ends_at": (start + timedelta(minutes=minutes)).isoformat(),
        "kind": "child_protection",
        "participants": [{"display_name": MAIJA, "role": "guardian", "contact": MAIJA_CONTACT}],
    }
    body.update(fields)
    return body


def hours_ahead(hours: float) -> datetime:
    return datetime.now(UTC).replace(microsecond=0) + timedelta(hours=hours)


async def book(client: StaffClient, **fields: Any) -> dict[str, Any]:
    """Create an appointment through the API and return its JSON."""
    resp = await client.post("/api/appointments", json=appointment_body(**fields))
    body: dict[str, Any] = await resp.json()
    assert resp.status == 201, body
    return body


def link_path(appointment: dict[str, Any], index: int = 0) -> str:
    pid = appointment["participants"][index]["id"]
    return f"/api/appointments/{appointment['id']}/participants/{pid}/link"


def token_of(url: str) -> str:
    base, _, token = url.partition("#")
    assert base.endswith("/join") and token, url
    return token


async def copy_link(client: StaffClient, appointment: dict[str, Any], index: int = 0) -> str:
    """The participant's current join token, as staff would copy it."""
    resp = await client.get(link_path(appointment, index))
    body = await resp.json()
    assert resp.status == 200, body
    return token_of(body["url"])


@dataclass(frozen=True)
class Completed:
    returncode: int
    stdout: str
    stderr: str


def kota_env(settings: Settings, **extra: str) -> dict[str, str]:
    """The process environment with ``settings`` spelled as KOTA_* variables."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("KOTA_")}
    env.update(
        KOTA_DATA_DIR=str(settings.data_dir),
        KOTA_PORT=str(settings.port),
        KOTA_PUBLIC_URL=settings.public_url,
    )
    if settings.db_path != settings.data_dir / "kota.sqlite3":
        env["KOTA_DB"] = str(settings.db_path)
    env.update(extra)
    return env


async def run_kota(
    settings: Settings, *args: str, stdin: str | None = None, **extra_env: str
) -> Completed:
    """Run the installed ``kota`` command to completion."""
    assert KOTA_COMMAND.exists(), KOTA_COMMAND
    process = await asyncio.create_subprocess_exec(
        str(KOTA_COMMAND),
        *args,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=kota_env(settings, **extra_env),
        cwd=settings.data_dir.parent,
    )
    out, err = await asyncio.wait_for(
        process.communicate(stdin.encode() if stdin is not None else b""), 60
    )
    assert process.returncode is not None
    return Completed(process.returncode, out.decode(), err.decode())


THIRD_PARTY_LOGGERS = ("aiohttp.access", "aiosqlite", "aiohttp.server", "asyncio")


@pytest.fixture
def server_log() -> Iterator[io.StringIO]:
    """The server's own logging set-up at DEBUG; yields what it writes."""
    root = logging.getLogger()
    saved = root.level, {name: logging.getLogger(name).level for name in THIRD_PARTY_LOGGERS}
    configure_logging("DEBUG")
    [handler] = [h for h in root.handlers if isinstance(h.formatter, JsonFormatter)]
    written = io.StringIO()
    assert isinstance(handler, logging.StreamHandler)
    handler.setStream(written)
    try:
        yield written
    finally:
        root.removeHandler(handler)
        root.setLevel(saved[0])
        for name, level in saved[1].items():
            logging.getLogger(name).setLevel(level)

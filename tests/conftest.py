"""Fixtures shared by every test: a real server on a free port with a real SQLite file."""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
import hypothesis
import pytest
from aiohttp.test_utils import TestServer

from server.app import create_app
from server.db import Database
from server.passwords import hash_password
from server.records import Staff, StaffRole
from server.settings import Settings, load_settings
from server.staff_auth import CSRF_HEADER

# Property tests check behaviour, not speed (that is measured in bench/): on a loaded
# 2-core machine hypothesis's per-example deadline only makes them flaky.
hypothesis.settings.register_profile("kota", deadline=None)
hypothesis.settings.load_profile("kota")

PASSWORD = "correct horse battery"
POLL_INTERVAL = 0.02  # wait_until re-checks its condition this often


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


async def wait_until(
    predicate: Callable[[], Awaitable[bool] | bool],
    timeout: float = 5.0,  # noqa: ASYNC109
    what: str = "condition",
) -> None:
    """Poll ``predicate`` until it holds; fail naming ``what`` when time runs out."""
    deadline = time.monotonic() + timeout
    while True:
        result = predicate()
        if not isinstance(result, bool):
            result = await result
        if result:
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(POLL_INTERVAL)


async def assert_error(resp: aiohttp.ClientResponse, status: int, code: str) -> dict[str, Any]:
    """The one error shape every API failure has."""
    body = await resp.json()
    assert resp.status == status, (resp.status, body)
    assert set(body) == {"error"}, body
    assert body["error"]["code"] == code, body
    assert isinstance(body["error"]["message"], str) and body["error"]["message"]
    return body  # type: ignore[no-any-return]


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    port = free_port()
    return load_settings(
        {
            "KOTA_DATA_DIR": str(tmp_path / "data"),
            "KOTA_PORT": str(port),
            "KOTA_PUBLIC_URL": f"http://127.0.0.1:{port}",
        }
    )


@pytest.fixture(scope="session")
def password_hash() -> str:
    """One argon2id hash of PASSWORD for the whole run: each hash costs 0.1-0.3 s."""
    return hash_password(PASSWORD)


@dataclass
class Accounts:
    admin: Staff
    worker: Staff
    specialist: Staff
    outsider: Staff


@pytest.fixture
async def accounts(settings: Settings, password_hash: str) -> Accounts:
    """Staff created in the database file before the server opens it."""
    db = Database(settings.db_path)
    await db.open()
    await db.migrate()
    now = datetime.now(UTC)
    try:
        async with db.transaction() as tx:
            made = [
                await tx.create_staff(username, name, role, password_hash, now)
                for username, name, role in [
                    ("admin", "Aino Admin", StaffRole.ADMIN),
                    ("sanna", "Sanna Aikio", StaffRole.PROFESSIONAL),
                    ("pekka", "Pekka Lehto", StaffRole.PROFESSIONAL),
                    ("olli", "Olli Outsider", StaffRole.PROFESSIONAL),
                ]
            ]
    finally:
        await db.close()
    return Accounts(*made)


@pytest.fixture
async def kota(settings: Settings, accounts: Accounts) -> AsyncIterator[TestServer]:
    server = TestServer(create_app(settings), host="127.0.0.1", port=settings.port)
    await server.start_server()
    try:
        yield server
    finally:
        await server.close()


class StaffClient:
    """A browser-like staff client: cookie jar plus the CSRF header on writes."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.session = aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))
        self.csrf: str | None = None

    async def login(self, username: str, password: str = PASSWORD) -> aiohttp.ClientResponse:
        resp = await self.session.post(
            f"{self.base}/api/session", json={"username": username, "password": password}
        )
        if resp.status == 201:
            self.csrf = (await resp.json())["csrf_token"]
        return resp

    def request(self, method: str, path: str, **kwargs: Any) -> Any:
        headers = dict(kwargs.pop("headers", {}) or {})
        if self.csrf and method.upper() != "GET":
            headers.setdefault(CSRF_HEADER, self.csrf)
        return self.session.request(method, f"{self.base}{path}", headers=headers, **kwargs)

    def get(self, path: str, **kwargs: Any) -> Any:
        return self.request("GET", path, **kwargs)

    def post(self, path: str, **kwargs: Any) -> Any:
        return self.request("POST", path, **kwargs)

    def patch(self, path: str, **kwargs: Any) -> Any:
        return self.request("PATCH", path, **kwargs)

    def put(self, path: str, **kwargs: Any) -> Any:
        return self.request("PUT", path, **kwargs)

    def delete(self, path: str, **kwargs: Any) -> Any:
        return self.request("DELETE", path, **kwargs)

    async def close(self) -> None:
        await self.session.close()


@pytest.fixture
async def staff_client(
    kota: TestServer,
) -> AsyncIterator[Callable[[str], Awaitable[StaffClient]]]:
    """``await staff_client("sanna")`` gives a signed-in client for that account."""
    made: list[StaffClient] = []

    async def sign_in(username: str) -> StaffClient:
        client = StaffClient(str(kota.make_url("")).rstrip("/"))
        made.append(client)
        resp = await client.login(username)
        assert resp.status == 201, await resp.text()
        return client

    yield sign_in
    for client in made:
        await client.close()


@pytest.fixture
def anyio_backend() -> Iterator[str]:
    yield "asyncio"

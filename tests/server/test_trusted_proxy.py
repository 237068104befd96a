"""Behind Kota's own proxy, failed sign-ins are counted per real client address."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator

import aiohttp
import pytest
from aiohttp.test_utils import TestServer

from server.app import create_app
from server.settings import Settings
from server.staff_throttle import ADDRESS_FREE_FAILURES
from tests.conftest import Accounts, assert_error


@pytest.fixture
async def proxied(settings: Settings, accounts: Accounts) -> AsyncIterator[TestServer]:
    server = TestServer(
        create_app(dataclasses.replace(settings, trusted_proxy=True)),
        host="127.0.0.1",
        port=settings.port,
    )
    await server.start_server()
    yield server
    await server.close()


async def _fail_until_locked(session: aiohttp.ClientSession, url: str, address: str) -> None:
    """Enough failures, each with another username, to lock out the address.

    The free failures all get 401. The lockout after them doubles with every further
    failure; on a loaded machine a try may come after a short lockout has run out, so
    this goes on until one is refused (the lockout is then minutes long)."""
    for n in range(ADDRESS_FREE_FAILURES):
        resp = await session.post(
            url, json={"username": f"nobody{n}", "password": "x"},
            headers={"X-Forwarded-For": address},
        )
        await assert_error(resp, 401, "bad_credentials")
    for n in range(ADDRESS_FREE_FAILURES, ADDRESS_FREE_FAILURES + 8):
        resp = await session.post(
            url, json={"username": f"nobody{n}", "password": "x"},
            headers={"X-Forwarded-For": address},
        )
        if resp.status == 429:
            return
        await assert_error(resp, 401, "bad_credentials")
    raise AssertionError("the address was never locked out")


async def test_lockout_of_one_address_spares_another_behind_the_proxy(proxied: TestServer) -> None:
    url = str(proxied.make_url("/api/session"))
    async with aiohttp.ClientSession() as session:
        await _fail_until_locked(session, url, "198.51.100.7")
        locked = await session.post(
            url, json={"username": "nobody9", "password": "x"},
            headers={"X-Forwarded-For": "198.51.100.7"},
        )
        await assert_error(locked, 429, "too_many_attempts")
        other = await session.post(
            url, json={"username": "nobody9", "password": "x"},
            headers={"X-Forwarded-For": "203.0.113.20"},
        )
        await assert_error(other, 401, "bad_credentials")


async def test_forwarded_header_is_ignored_without_a_trusted_proxy(kota: TestServer) -> None:
    url = str(kota.make_url("/api/session"))
    async with aiohttp.ClientSession() as session:
        await _fail_until_locked(session, url, "198.51.100.7")
        # A client cannot dodge the lockout by claiming another address.
        resp = await session.post(
            url, json={"username": "nobody9", "password": "x"},
            headers={"X-Forwarded-For": "203.0.113.20"},
        )
        await assert_error(resp, 429, "too_many_attempts")

"""A flood of bogus join tokens neither fills the usage log nor locks families out.

Attempts are rate-limited per client address (429, not logged); refusals that reach
the checker are logged in aggregate, one row per kind of refusal per minute.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import sqlite3
from collections import Counter
from collections.abc import AsyncIterator
from datetime import timedelta

import aiohttp
import pytest
from aiohttp.test_utils import TestServer

from server.app import create_app
from server.app_keys import AUDIT, LINKS
from server.join_throttle import BURST, JoinThrottle
from server.refusal_tally import RefusalKey, RefusalTally
from server.settings import Settings
from tests.conftest import Accounts, StaffClient
from tests.server.conftest import book, copy_link

FLOOD = 200


@pytest.fixture
async def proxied(settings: Settings, accounts: Accounts) -> AsyncIterator[TestServer]:
    """Kota behind its proxy, so each request can come from an address of the test's."""
    app = create_app(dataclasses.replace(settings, trusted_proxy=True))
    server = TestServer(app, host="127.0.0.1", port=settings.port)
    await server.start_server()
    try:
        yield server
    finally:
        await server.close()


def _refusal_rows(settings: Settings) -> list[dict[str, object]]:
    with sqlite3.connect(settings.db_path) as conn:
        return [json.loads(d) for (d,) in conn.execute(
            "SELECT detail FROM audit_log WHERE action = 'link.refused'")]


async def test_a_flood_of_bogus_tokens_is_throttled_and_logged_in_aggregate(
    proxied: TestServer, settings: Settings
) -> None:
    base = str(proxied.make_url("")).rstrip("/")
    flood = {"X-Forwarded-For": "203.0.113.9"}
    sanna = StaffClient(base)
    try:
        assert (await sanna.login("sanna")).status == 201
        appointment = await book(sanna)
        token = await copy_link(sanna, appointment)
        async with aiohttp.ClientSession() as attacker, aiohttp.ClientSession() as family:
            responses = await asyncio.gather(*(
                attacker.post(f"{base}/api/join", json={"token": f"bogus.{i}.token"},
                              headers=flood)
                for i in range(FLOOD)
            ))
            statuses = Counter(r.status for r in responses)
            # The family, from its own address, still gets in during the flood.
            opened = await family.post(f"{base}/api/join", json={"token": token},
                                       headers={"X-Forwarded-For": "198.51.100.4"})
            assert opened.status == 200, await opened.text()
        assert statuses[401] <= BURST + 2 and statuses[429] >= FLOOD - BURST - 2, statuses
        assert set(statuses) == {401, 429}
        limited = next(r for r in responses if r.status == 429)
        assert limited.headers["Retry-After"].isdigit()
    finally:
        await sanna.close()
    await proxied.close()  # shutdown writes the counts of windows still open
    rows = _refusal_rows(settings)
    assert 1 <= len(rows) <= 2, rows
    assert sum(int(str(row["count"])) for row in rows) == statuses[401]
    assert {row["reason"] for row in rows} == {"token_malformed"}


async def test_a_revoked_link_tried_again_and_again_leaves_one_row_a_minute(
    kota: TestServer, sanna: StaffClient, settings: Settings
) -> None:
    appointment = await book(sanna)
    token = await copy_link(sanna, appointment)
    resp = await sanna.delete(
        f"/api/appointments/{appointment['id']}/participants/"
        f"{appointment['participants'][0]['id']}/link")
    assert resp.status == 204
    async with aiohttp.ClientSession() as family:
        for _ in range(5):
            resp = await family.post(kota.make_url("/api/join"), json={"token": token})
            assert resp.status == 401
    await kota.app[AUDIT].flush()
    assert _refusal_rows(settings) == [{"count": 1, "reason": "link_revoked"}]
    kota.app[LINKS].report_refusals()  # as at shutdown
    await kota.app[AUDIT].flush()
    assert _refusal_rows(settings) == [{"count": 1, "reason": "link_revoked"},
                                       {"count": 4, "reason": "link_revoked"}]


def test_the_tally_reports_the_first_at_once_and_the_rest_when_the_window_closes() -> None:
    tally = RefusalTally(window=60)
    forged = RefusalKey("token_malformed", None, None)
    revoked = RefusalKey("link_revoked", 7, 3)
    assert tally.add(forged, 0) is True
    assert [tally.add(forged, t) for t in (1, 2, 59)] == [False] * 3
    assert tally.add(revoked, 10) is True
    assert tally.due(59.5) == []
    [closed] = tally.due(60)
    assert (closed.key, closed.started, closed.count) == (forged, 0, 3)
    assert tally.add(forged, 61) is True  # a new window
    assert tally.drain() == []  # the revoked window and the new one had nothing more
    assert tally.due(1000) == []


def test_the_join_throttle_allows_a_burst_then_one_a_second_per_address() -> None:
    throttle = JoinThrottle(burst=3, per_second=1)
    assert [throttle.retry_after("a", 0) for _ in range(4)] == [0, 0, 0, 1]
    assert throttle.retry_after("b", 0) == 0  # another address is not affected
    assert throttle.retry_after("a", 1.0) == 0
    assert throttle.retry_after("a", 1.0) == 1


def test_refusal_windows_are_a_minute() -> None:
    assert timedelta(seconds=RefusalTally().window) == timedelta(minutes=1)

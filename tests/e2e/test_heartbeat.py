"""Browsers answer the server's heartbeat: a quiet call is never dropped for silence.

The server pings every call socket each ``KOTA_WS_HEARTBEAT_SECONDS`` and drops one that
sent nothing since the last ping. Chromium answers pings by itself; with a one-second
heartbeat a call in which neither page sends a message must keep its first sockets.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from playwright.async_api import Page

from server.db import Database
from tests.e2e.flows import OpenPage, in_call
from tests.e2e.kota_server import KotaProcess, StaffApi
from tests.e2e.page_checks import assert_remote_videos_play
from tests.signalling_live.conftest import sweeps

pytestmark = pytest.mark.asyncio(loop_scope="session")


async def disconnections(kota: KotaProcess, staff: Page) -> int:
    """``call.disconnected`` rows of the call the staff page is in."""
    appointment_id = int(parse_qs(urlsplit(staff.url).query)["appointment"][0])
    db = Database(kota.data_dir / "kota.sqlite3")
    await db.open()
    try:
        rows = await db.list_audit_rows_for_appointment(appointment_id, ("call.disconnected",))
        return len(rows)
    finally:
        await db.close()


async def socket_states(page: Page) -> list[int]:
    """The ready state of every call socket the page has opened, oldest first."""
    states: list[int] = await page.evaluate(
        "() => window.__kotaTestSockets.map(s => s.readyState)")
    return states


async def test_a_quiet_call_outlives_many_heartbeats(open_page: OpenPage, tmp_path: Path) -> None:
    kota = KotaProcess(tmp_path / "heartbeat", env={"KOTA_WS_HEARTBEAT_SECONDS": "1"})
    await kota.start()
    apis: list[StaffApi] = []

    async def sign_in(username: str) -> StaffApi:
        apis.append(await StaffApi(kota, username).__aenter__())
        return apis[-1]

    try:
        staff, family = await in_call(open_page, sign_in, "Aili Magga", server=kota)
        await sweeps(f"{kota.base}/ws", 5)  # the pages send nothing of their own meanwhile
        for page in (staff, family):
            assert await socket_states(page) == [1], "the page had to reconnect"
        await assert_remote_videos_play(family, 1)
        await assert_remote_videos_play(staff, 1)
        assert await disconnections(kota, staff) == 0
    finally:
        for api in apis:
            await api.__aexit__()
        kota.stop()

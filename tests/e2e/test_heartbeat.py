"""Browsers answer the server's heartbeat: a quiet call is never dropped for silence.

The server pings every call socket each ``KOTA_WS_HEARTBEAT_SECONDS`` and drops one that
sent nothing since the last ping. Chromium answers pings by itself; with a one-second
heartbeat a call in which neither page sends a message must keep its first sockets.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from playwright.async_api import Page

from server.db import Database
from tests.e2e.flows import OpenPage, admit, family_to_waiting_room, staff_into_room
from tests.e2e.kota_server import KotaProcess, StaffApi
from tests.e2e.page_checks import TABLET_LANDSCAPE, TABLET_PORTRAIT, assert_remote_videos_play

pytestmark = pytest.mark.asyncio(loop_scope="session")

NAME = "Aili Magga"


async def disconnections(kota: KotaProcess, appointment_id: int) -> int:
    db = Database(kota.data_dir / "kota.sqlite3")
    await db.open()
    try:
        rows = await db.list_audit_rows_for_appointment(appointment_id, ("call.disconnected",))
        return len(rows)
    finally:
        await db.close()


async def sockets_opened(page: Page) -> list[int]:
    """The ready state of every call socket the page has opened, oldest first."""
    states: list[int] = await page.evaluate(
        "() => window.__kotaTestSockets.map(s => s.readyState)")
    return states


async def test_a_quiet_call_outlives_many_heartbeats(open_page: OpenPage, tmp_path: Path) -> None:
    kota = KotaProcess(tmp_path / "heartbeat", env={"KOTA_WS_HEARTBEAT_SECONDS": "1"})
    await kota.start()
    try:
        async with StaffApi(kota, "sanna") as sanna:
            appointment = await sanna.appointment((NAME, "guardian"))
        staff = await open_page(TABLET_LANDSCAPE, staff="sanna", name="staff", server=kota)
        await staff_into_room(staff, appointment)
        family = await open_page(TABLET_PORTRAIT, name="family", server=kota)
        await family_to_waiting_room(family, appointment.links[NAME])
        await admit(staff, NAME)
        await assert_remote_videos_play(family, 1)
        await assert_remote_videos_play(staff, 1)

        await asyncio.sleep(6)  # five sweeps or more; the pages send nothing of their own

        for page in (staff, family):
            assert await sockets_opened(page) == [1], "the page had to reconnect"
        await assert_remote_videos_play(family, 1)
        await assert_remote_videos_play(staff, 1)
        assert await disconnections(kota, appointment.id) == 0
    finally:
        kota.stop()

"""``kota run`` killed outright (SIGKILL: no close frames, nothing flushed at exit) in the
middle of a call. Media is peer to peer, so both pages keep showing each other while
the server is gone; when it is started again on the same port and data directory,
both pages take their seats back without anyone being admitted again."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.async_api import Page, expect

from server.db import Database
from server.records import AuditRow
from tests.conftest import wait_until
from tests.e2e.flows import OpenPage, admit, family_to_waiting_room, staff_into_room
from tests.e2e.kota_server import KotaProcess, StaffApi
from tests.e2e.page_checks import (
    TABLET_LANDSCAPE,
    TABLET_PORTRAIT,
    assert_remote_videos_play,
    frames_decoded,
)

pytestmark = pytest.mark.asyncio(loop_scope="session")

NAME = "Kaisa Niskanen"
# Reconnect backoff reaches 8 s between tries (docs/web-client.md), plus the restart.
BACK_IN_MS = 30_000
ACTIONS = ("admission.admitted", "call.reconnected", "call.joined")


async def usage_rows(kota: KotaProcess, appointment_id: int) -> list[AuditRow]:
    db = Database(kota.data_dir / "kota.sqlite3")
    await db.open()
    try:
        return await db.list_audit_rows_for_appointment(appointment_id, ACTIONS)
    finally:
        await db.close()


async def wait_for_row(kota: KotaProcess, appointment_id: int, action: str,
                       subject: int) -> None:
    """Call rows are written in batches: wait for the one about ``subject``."""

    async def written() -> bool:
        rows = await usage_rows(kota, appointment_id)
        return any(r.action == action and r.subject_id == subject for r in rows)

    await wait_until(written, timeout=10, what=f"usage-log row {action} for {subject}")


async def assert_frames_keep_growing(page: Page, what: str, by: int = 15) -> None:
    """Every inbound video on the page decodes at least ``by`` more frames."""
    before = await frames_decoded(page)
    assert before, f"{what}: no inbound video"

    async def grew() -> bool:
        now = await frames_decoded(page)
        return len(now) >= len(before) and all(n >= b + by for n, b in zip(now, before,
                                                                         strict=False))

    await wait_until(grew, timeout=15, what=f"{what}: video frames decoding")


async def test_call_survives_a_server_kill(open_page: OpenPage, tmp_path: Path) -> None:
    kota = KotaProcess(tmp_path / "killed")
    await kota.start()
    try:
        async with StaffApi(kota, "sanna") as sanna:
            appointment = await sanna.appointment((NAME, "guardian"))
        family_id = appointment.participant_id(NAME)
        staff = await open_page(TABLET_LANDSCAPE, staff="sanna", name="staff", server=kota)
        await staff_into_room(staff, appointment)
        family = await open_page(TABLET_PORTRAIT, name="family", server=kota)
        await family_to_waiting_room(family, appointment.links[NAME])
        await admit(staff, NAME)
        await assert_remote_videos_play(family, 1)
        await assert_remote_videos_play(staff, 1)
        # The admission is in the file (rows are batched; a kill may lose the last batch).
        await wait_for_row(kota, appointment.id, "admission.admitted", family_id)

        kota.kill()
        for page in (staff, family):
            await expect(page.locator(".call-status")).to_have_attribute(
                "data-i18n", "call.reconnecting")
        await assert_frames_keep_growing(staff, "staff page, server down")
        await assert_frames_keep_growing(family, "family page, server down")
        assert kota.process is not None and kota.process.poll() is not None, "server is up"

        await kota.restart()  # same port, same data directory
        kaisa = staff.locator(".in-call-list .person", has_text=NAME)
        await expect(kaisa).to_have_attribute("data-connection", "connected",
                                              timeout=BACK_IN_MS)
        for page in (staff, family):
            await page.wait_for_function(
                "() => window.__kotaTestSockets.length > 1"
                " && window.__kotaTestSockets.at(-1).readyState === 1",
                timeout=BACK_IN_MS,
            )
            await expect(page.locator(".call-status")).to_be_hidden(timeout=BACK_IN_MS)
        await expect(staff.locator(".waiting-person")).to_have_count(0)
        await expect(family.locator(".call-view")).to_be_visible()
        await expect(family.locator(".waiting")).to_be_hidden()
        await assert_remote_videos_play(family, 1)
        await assert_remote_videos_play(staff, 1)

        await wait_for_row(kota, appointment.id, "call.reconnected", family_id)
        rows = await usage_rows(kota, appointment.id)
        admitted = [r for r in rows if r.action == "admission.admitted"]
        joined = [r for r in rows if r.action == "call.joined" and r.subject_id == family_id]
        assert [r.subject_id for r in admitted] == [family_id], admitted
        assert len(joined) == 1, joined  # resumed, not seated anew
    finally:
        kota.stop()

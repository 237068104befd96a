"""Mute, camera off and sound only, as the other side sees them. Camera off and sound
only renegotiate the connection (perfect negotiation, docs/protocol.md)."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from urllib.parse import parse_qs, urlsplit

import pytest
from playwright.async_api import Page, expect

from server.db import Database
from tests.conftest import wait_until
from tests.e2e.flows import OpenPage, in_call
from tests.e2e.kota_server import KotaProcess, StaffApi
from tests.e2e.page_checks import assert_remote_videos_play, screenshots

pytestmark = pytest.mark.asyncio(loop_scope="session")


async def sound_only_rows(kota: KotaProcess, staff: Page) -> list[dict[str, bool]]:
    """The ``call.sound_only`` rows' details of the call the staff page is in."""
    appointment_id = int(parse_qs(urlsplit(staff.url).query)["appointment"][0])
    db = Database(kota.data_dir / "kota.sqlite3")
    await db.open()
    try:
        rows = await db.list_audit_rows_for_appointment(appointment_id, ("call.sound_only",))
    finally:
        await db.close()
    return [json.loads(row.detail) for row in rows if row.actor_kind == "participant"]


async def test_camera_off_and_sound_only_show_on_the_other_side(
    open_page: OpenPage, staff_api: Callable[[str], Awaitable[StaffApi]],
    kota_server: KotaProcess,
) -> None:
    staff, family = await in_call(open_page, staff_api, "Kaisa Salo")
    staff_tile = staff.locator(".tile")
    family_tile = family.locator(".tile")

    # Mute: the microphone track stops sending sound; the button says how to undo it.
    await family.locator("[data-action=mic]").click()
    assert await family.evaluate(
        "() => document.querySelector('video.mirrored').srcObject.getAudioTracks()"
        ".every((t) => !t.enabled)"
    )
    await expect(family.locator("[data-action=mic]")).to_have_class("control is-off")

    # Camera off: the camera stops, the professional sees her initials instead.
    await family.locator("[data-action=camera]").click()
    await expect(staff_tile).to_have_class("tile no-video")
    await expect(staff_tile.locator(".initials")).to_have_text("KS")
    await screenshots(family, "16-family-camera-off", ("tablet-portrait",))
    await family.locator("[data-action=camera]").click()
    await expect(staff_tile).to_have_class("tile")
    await assert_remote_videos_play(staff, 1)

    # Sound only: no video either way, for a weak connection; then back.
    await family.locator("[data-action=audio-only]").click()
    await expect(family_tile).to_have_class("tile no-video")
    await expect(staff_tile).to_have_class("tile no-video")
    await screenshots(family, "17-family-sound-only", ("tablet-portrait", "phone"))
    await family.locator("[data-action=audio-only]").click()
    await assert_remote_videos_play(family, 1)
    await assert_remote_videos_play(staff, 1)
    await expect(family_tile).to_have_class("tile")

    # Both switches are in the usage log, chosen with the button (not the weak-link offer).
    async def both_logged() -> bool:
        return await sound_only_rows(kota_server, staff) == [
            {"on": True, "weak": False}, {"on": False, "weak": False}]
    await wait_until(both_logged, timeout=30, what="call.sound_only rows")


async def test_screen_share_reaches_the_family(
    open_page: OpenPage, staff_api: Callable[[str], Awaitable[StaffApi]]
) -> None:
    staff, family = await in_call(open_page, staff_api, "Tuomas Rantanen")
    # What the professional's connection sends as video (the fake screen and the fake
    # camera draw the same picture, so the family's side cannot tell them apart).
    sending = """() => window.__kotaTestPeerConnections
      .filter((pc) => pc.connectionState !== "closed")
      .flatMap((pc) => pc.getSenders())
      .filter((s) => s.track && s.track.kind === "video")
      .map((s) => s.track.label)"""

    await staff.locator("[data-action=share-screen]").click()
    await staff.wait_for_function(f"() => ({sending})().every((l) => l.startsWith('screen'))")
    await expect(staff.locator("[data-action=share-screen]")).to_have_class("control is-on")
    await assert_remote_videos_play(family, 1)
    await screenshots(staff, "18-staff-sharing-screen", ("tablet-landscape",))

    await staff.locator("[data-action=share-screen]").click()
    await staff.wait_for_function(f"() => ({sending})().every((l) => !l.startsWith('screen'))")
    await assert_remote_videos_play(family, 1)

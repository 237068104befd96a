"""Mistakes undone: "end for all" says what it does and can be reopened, a family reloading
its link after the end learns it on the first page, and the family's Leave asks first; a
family that left by itself and comes back knocks as "returned"."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import pytest
from playwright.async_api import Page, expect

from tests.e2e.flows import OpenPage, admit, family_to_waiting_room, in_call, staff_into_room
from tests.e2e.kota_server import StaffApi
from tests.e2e.page_checks import (
    PHONE,
    TABLET_LANDSCAPE,
    TABLET_PORTRAIT,
    assert_accessible,
    assert_remote_videos_play,
    screenshots,
)

pytestmark = pytest.mark.asyncio(loop_scope="session")


async def accessible_at_tablet_and_phone(page: Page, what: str) -> None:
    original = page.viewport_size
    for size in (TABLET_PORTRAIT, PHONE):
        await page.set_viewport_size(size)
        await assert_accessible(page, f"{what} ({size['width']}px)")
    if original:
        await page.set_viewport_size(original)


async def test_end_for_all_is_said_plainly_and_can_be_reopened(
    open_page: OpenPage, staff_api: Callable[[str], Awaitable[StaffApi]]
) -> None:
    name = "Liisa Koski"
    appointment = await (await staff_api("sanna")).appointment((name, "guardian"))
    appointment_id, link = appointment.id, appointment.links[name]
    staff = await open_page(TABLET_LANDSCAPE, staff="sanna", name="staff")
    await staff_into_room(staff, appointment)
    family = await open_page(TABLET_PORTRAIT, name="family")
    await family_to_waiting_room(family, link)
    await admit(staff, name)
    await assert_remote_videos_play(family, 1)

    # The confirm says that everyone is put out, the family too.
    await staff.locator("[data-action=leave]").click()
    dialog = staff.locator("dialog")
    await expect(dialog).to_contain_text("poistaa kaikki puhelusta ja odotushuoneesta")
    await assert_accessible(staff, "the leave-or-end question")
    await screenshots(staff, "28-staff-end-for-all-confirm", ("tablet-landscape", "phone"))
    await dialog.locator("button[value=end]").click()
    await expect(family.locator("section.end")).to_have_attribute("data-reason", "ended")
    await expect(staff.locator("section.end [data-action=reopen]")).to_be_visible()

    # The appointment page: ended, with Reopen instead of "open the room".
    await staff.goto(f"/staff#/appointment/{appointment_id}")
    await expect(staff.locator(".session-ended")).to_have_text("Lopetettu kaikilta")
    await expect(staff.locator("a", has_text="Avaa tapaamishuone")).to_have_count(0)
    reopen = staff.locator("[data-action=reopen]")
    await expect(reopen).to_be_visible()
    await accessible_at_tablet_and_phone(staff, "the ended appointment")
    await screenshots(staff, "29-staff-ended-appointment", ("tablet-landscape", "phone"))

    # A family reloading its link hears it on the first page: no camera, no name step.
    again = await open_page(TABLET_PORTRAIT, name="family-again")
    await again.goto(link)
    ended = again.locator("section.end[data-reason=session-ended]")
    await expect(ended).to_contain_text("Tapaaminen on päättynyt")
    await expect(again.locator("#welcome-title")).to_have_count(0)
    assert await again.evaluate("() => window.__kotaTestPeerConnections.length") == 0
    await accessible_at_tablet_and_phone(again, "the meeting-has-ended first page")
    await screenshots(again, "30-family-meeting-ended", ("tablet-portrait", "phone"))

    # Reopen (a double click counts once); the same link works again.
    await reopen.dblclick()
    await expect(staff.locator(".notice[role=status]")).to_contain_text("taas auki")
    await expect(staff.locator("a", has_text="Avaa tapaamishuone")).to_be_visible()
    await expect(staff.locator(".session-ended")).to_have_count(0)
    await again.locator("[data-action=check-again]").click()
    await again.locator("#welcome-title").wait_for()

    await staff.goto(f"/staff/call?appointment={appointment_id}")
    await staff.locator("[data-action=open-room]").click()
    await staff.locator(".call-view .people").wait_for()
    await family_to_waiting_room(again, link)
    await admit(staff, name)
    await assert_remote_videos_play(again, 1)


async def test_an_ended_session_opens_on_the_staff_call_page_as_ended_with_reopen(
    open_page: OpenPage, staff_api: Callable[[str], Awaitable[StaffApi]]
) -> None:
    staff, family = await in_call(open_page, staff_api, "Eero Niemi")
    appointment_id = int(staff.url.rsplit("=", 1)[1])
    await staff.locator("[data-action=leave]").click()
    await staff.locator("dialog button[value=end]").click()
    await expect(family.locator("section.end")).to_have_attribute("data-reason", "ended")
    await staff.goto(f"/staff/call?appointment={appointment_id}")
    # Not the camera check that would lead to "the meeting has ended".
    await expect(staff.locator("section.end[data-reason=session-ended]")).to_be_visible()
    await expect(staff.locator("[data-action=open-room]")).to_have_count(0)
    await accessible_at_tablet_and_phone(staff, "the ended meeting room")
    await staff.locator("[data-action=reopen]").click()
    await staff.locator("[data-action=open-room]").click()
    await staff.locator(".call-view .people").wait_for()


async def test_leave_asks_first_and_a_family_that_comes_back_knocks_as_returned(
    open_page: OpenPage, staff_api: Callable[[str], Awaitable[StaffApi]]
) -> None:
    name = "Onni Laine"
    staff, family = await in_call(open_page, staff_api, name)
    await staff.set_viewport_size(TABLET_LANDSCAPE)

    # One tap asks first; "stay" keeps the call.
    await family.locator("[data-action=leave]").click()
    dialog = family.locator("dialog")
    await expect(dialog).to_contain_text("Poistutaanko tapaamisesta?")
    await accessible_at_tablet_and_phone(family, "the leave question")
    await screenshots(family, "31-family-leave-confirm", ("tablet-portrait", "phone"))
    await dialog.locator("button[value=cancel]").click()
    await expect(dialog).to_have_count(0)
    await expect(family.locator(".call-view")).to_be_visible()
    await assert_remote_videos_play(family, 1)
    await expect(staff.locator(".in-call-list [data-connection=connected]")).to_have_count(1)

    # Leaving for real, then coming back: the worker sees "returned".
    await family.locator("[data-action=leave]").click()
    await family.locator("dialog button[value=ok]").click()
    await expect(family.locator("section.end")).to_have_attribute("data-reason", "left")
    await family.locator("[data-action=rejoin]").click()
    await expect(family.locator(".waiting .position")).to_contain_text("1")
    toast = staff.locator(".knock-toast .knock-text[data-returned=true]")
    await expect(toast).to_have_text(f"{name} poistui ja odottaa taas pääsyä sisään")
    await expect(staff.locator(".waiting-person .person-returned")).to_have_text("palasi")
    await accessible_at_tablet_and_phone(staff, "the returned knock")
    await screenshots(staff, "32-staff-knock-returned", ("tablet-landscape", "phone"))

    # Leaving the queue asks too: "keep waiting" keeps the place.
    await family.locator("[data-action=leave-waiting]").click()
    await expect(family.locator("dialog")).to_contain_text("Poistutaanko odotushuoneesta?")
    await assert_accessible(family, "the leave-the-queue question")
    await family.locator("dialog button[value=cancel]").click()
    await expect(family.locator("dialog")).to_have_count(0)
    await expect(family.locator(".waiting .position")).to_contain_text("1")
    await expect(staff.locator(".waiting-person", has_text=name)).to_be_visible()
    await admit(staff, name)
    await assert_remote_videos_play(family, 1)

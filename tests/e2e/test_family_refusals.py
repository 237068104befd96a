"""What a family sees when they are turned away, taken out, or their link is stopped."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import pytest
from playwright.async_api import expect

from tests.e2e.flows import OpenPage, family_to_waiting_room, staff_into_room
from tests.e2e.kota_server import StaffApi
from tests.e2e.page_checks import (
    PHONE,
    TABLET_LANDSCAPE,
    assert_accessible,
    assert_remote_videos_play,
    screenshots,
)

pytestmark = pytest.mark.asyncio(loop_scope="session")

async def test_denied_family_sees_a_clear_page_and_may_ask_again(
    open_page: OpenPage, staff_api: Callable[[str], Awaitable[StaffApi]]
) -> None:
    sanna = await staff_api("sanna")
    appointment = await sanna.appointment(("Jussi Korhonen", "guardian"))
    staff = await open_page(TABLET_LANDSCAPE, staff="sanna", name="staff")
    await staff_into_room(staff, appointment)
    family = await open_page(PHONE, name="family")
    await family_to_waiting_room(family, appointment.links["Jussi Korhonen"])

    person = staff.locator(".waiting-person", has_text="Jussi Korhonen")
    await person.locator(".deny").click()
    await staff.locator("dialog button[value=ok]").click()

    end = family.locator("section.end")
    await expect(end).to_have_attribute("data-reason", "denied")
    await expect(end.locator("h1")).not_to_be_empty()
    await assert_accessible(family, "the turned-away page")
    await screenshots(family, "11-family-denied")
    # Not revoked: the same link may knock again, and the professional hears it.
    await family.locator("[data-action=rejoin]").click()
    await expect(staff.locator(".waiting-person", has_text="Jussi Korhonen")).to_be_visible()


async def test_family_removed_with_the_link_revoked_sees_it_ended(
    open_page: OpenPage, staff_api: Callable[[str], Awaitable[StaffApi]]
) -> None:
    sanna = await staff_api("sanna")
    appointment = await sanna.appointment(("Liisa Niemi", "guardian"))
    staff = await open_page(TABLET_LANDSCAPE, staff="sanna", name="staff")
    await staff_into_room(staff, appointment)
    family = await open_page(PHONE, name="family")
    await family_to_waiting_room(family, appointment.links["Liisa Niemi"])
    await staff.locator(".waiting-person .admit").click()
    await assert_remote_videos_play(family, 1)

    # Back to the waiting room: the family is told, and can be let in again.
    await staff.locator(".in-call-list .to-waiting").click()
    await staff.locator("dialog button[value=ok]").click()
    await expect(family.locator(".waiting [data-i18n='waiting.moved_back']")).to_be_visible()
    await expect(family.locator(".call-view")).to_be_hidden()
    await staff.locator(".waiting-person .admit").click()
    await assert_remote_videos_play(family, 1)

    # Out, with the link stopped.
    await staff.locator(".in-call-list .remove").click()
    await staff.locator("dialog button[value=ok]").click()

    await expect(family.locator("section.end")).to_have_attribute("data-reason", "removed")
    await expect(family.locator("[data-action=rejoin]")).to_have_count(0)
    await expect(staff.locator("video.remote")).to_have_count(0)
    # The camera is released once the family is out.
    await family.wait_for_function(
        "() => !document.querySelector('video.mirrored') ||"
        " !document.querySelector('video.mirrored').srcObject ||"
        " document.querySelector('video.mirrored').srcObject.getTracks()"
        ".every((t) => t.readyState === 'ended')"
    )


async def test_revoked_link_shows_a_clear_page(
    open_page: OpenPage, staff_api: Callable[[str], Awaitable[StaffApi]]
) -> None:
    sanna = await staff_api("sanna")
    appointment = await sanna.appointment(("Aapo Laine", "guardian"))
    pid = appointment.participant_id("Aapo Laine")
    await sanna.call("DELETE", f"/api/appointments/{appointment.id}/participants/{pid}/link")

    family = await open_page(PHONE, name="family")
    await family.goto(appointment.links["Aapo Laine"])
    problem = family.locator("section[data-problem]")
    await expect(problem).to_have_attribute("data-problem", "revoked")
    assert "#" not in family.url
    await assert_accessible(family, "the revoked-link page")
    await screenshots(family, "12-family-link-revoked")


async def test_appointment_cancelled_on_the_way_in_says_cancelled(
    open_page: OpenPage, staff_api: Callable[[str], Awaitable[StaffApi]]
) -> None:
    """Cancelled while the family checks its camera: the call socket says cancelled (in
    the same word as POST /api/join), not that the link was stopped."""
    sanna = await staff_api("sanna")
    appointment = await sanna.appointment(("Outi Rask", "guardian"))
    family = await open_page(PHONE, name="family")
    await family.goto(appointment.links["Outi Rask"])
    await family.locator("[data-action=welcome-continue]").click()
    await family.locator("[data-action=devices-continue]").click()
    await sanna.call("POST", f"/api/appointments/{appointment.id}/cancel")
    await family.locator("[data-action=enter-waiting-room]").click()

    end = family.locator("section.end")
    await expect(end).to_have_attribute("data-reason", "cancelled")
    await expect(end.locator("h1")).to_have_attribute("data-i18n", "end.cancelled.title")
    await expect(end.locator(".lead")).to_have_attribute("data-i18n", "end.cancelled.text")
    await expect(family.locator("[data-action=rejoin]")).to_have_count(0)
    await assert_accessible(family, "the cancelled-appointment page")
    await screenshots(family, "12-family-appointment-cancelled", ("tablet-portrait", "phone"))


async def test_join_page_without_a_token_says_what_to_do(open_page: OpenPage) -> None:
    family = await open_page(PHONE, name="family")
    await family.goto("/join")
    await expect(family.locator("section[data-problem]")).to_have_attribute(
        "data-problem", "no_token"
    )

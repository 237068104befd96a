"""A professional and a family complete a real call through the waiting room, in two
Chromium pages with fake camera and microphone, against ``kota run``."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import pytest
from playwright.async_api import expect

from tests.e2e.flows import OpenPage, admit, staff_into_room
from tests.e2e.kota_server import KotaProcess, StaffApi
from tests.e2e.page_checks import (
    TABLET_LANDSCAPE,
    TABLET_PORTRAIT,
    assert_accessible,
    assert_remote_videos_play,
    screenshots,
)
from tests.e2e.retention_steps import age_appointment, retention_run
from tests.test_locales import load

pytestmark = pytest.mark.asyncio(loop_scope="session")

CHAT_LINE = "Hei, kuuluuko ääni? 4711"
STAFF_NOTE = "Tulemme hetken kuluttua."


async def test_family_and_professional_complete_a_call(
    open_page: OpenPage,
    staff_api: Callable[[str], Awaitable[StaffApi]],
    kota_server: KotaProcess,
) -> None:
    sanna = await staff_api("sanna")
    appointment = await sanna.appointment(("Maija Virtanen", "guardian"))
    link = appointment.links["Maija Virtanen"]
    token = link.split("#", 1)[1]

    staff = await open_page(TABLET_LANDSCAPE, staff="sanna", name="staff")
    await staff_into_room(staff, appointment)
    family = await open_page(TABLET_PORTRAIT, name="family")

    # The link: the token leaves the address bar at once.
    await family.goto(link)
    await family.locator("#welcome-title").wait_for()
    assert "#" not in family.url and token not in family.url
    await assert_accessible(family, "the welcome page")
    await screenshots(family, "01-family-welcome")

    # Camera and microphone: the preview plays and the meter hears the fake tone.
    await family.locator("[data-action=welcome-continue]").click()
    await family.locator(".device-check .preview-video").wait_for()
    await family.wait_for_function(
        "() => document.querySelector('.preview-video').videoWidth > 0"
    )
    await family.wait_for_function(
        "() => Number(document.querySelector('.meter').getAttribute('aria-valuenow')) > 0"
    )
    await expect(family.locator("#camera-select option")).not_to_have_count(0)
    await assert_accessible(family, "the camera check")
    await screenshots(family, "02-family-camera-check")

    # The name others will see.
    await family.locator("[data-action=devices-continue]").click()
    await expect(family.locator(".display-name")).to_have_text("Maija Virtanen")
    await screenshots(family, "03-family-name")

    # The waiting room: the professional hears a knock and sends a message.
    await family.locator("[data-action=enter-waiting-room]").click()
    await expect(family.locator(".waiting .position")).to_contain_text("1")
    await expect(staff.locator(".knock-toast")).to_contain_text("Maija Virtanen")
    await expect(staff.locator(".knock-toast")).not_to_contain_text("null")
    await expect(staff.locator("[data-action=panel-people] .badge")).to_have_text("1")
    await expect(staff).to_have_title("(1) Tapaamishuone")
    await screenshots(staff, "04-staff-knock", ("tablet-landscape", "tablet-portrait"))
    await staff.locator("#message-text").fill(STAFF_NOTE)
    await staff.locator(".message-form button[type=submit]").click()
    await expect(family.locator(".staff-message-text")).to_have_text(STAFF_NOTE)
    await assert_accessible(family, "the waiting room")
    await screenshots(family, "05-family-waiting")

    # Admitted: each side sees the other's video, frames keep being decoded.
    await admit(staff, "Maija Virtanen")
    await family.locator(".call-view").wait_for()
    await assert_remote_videos_play(family, 1)
    await assert_remote_videos_play(staff, 1)
    await expect(staff.locator(".in-call-list [data-connection=connected]")).to_have_count(1)
    await assert_accessible(family, "the family's call")
    await assert_accessible(staff, "the professional's call")
    await screenshots(family, "06-family-call")
    await screenshots(staff, "07-staff-call", ("tablet-landscape", "tablet-portrait"))

    # Chat reaches the other admitted participant.
    await family.locator("[data-action=panel-chat]").click()
    await family.locator("#chat-input").fill(CHAT_LINE)
    await family.keyboard.press("Enter")
    await expect(staff.locator("[data-action=panel-chat] .badge")).to_have_text("1")
    await staff.locator("[data-action=panel-chat]").click()
    await expect(staff.locator(".chat-line .chat-text")).to_have_text(CHAT_LINE)
    await screenshots(family, "08-family-chat")

    # End for all: the family sees a clear end; the professional sees attendance.
    await staff.locator("[data-action=leave]").click()
    await staff.locator("dialog button[value=end]").click()
    await expect(family.locator("section.end")).to_have_attribute("data-reason", "ended")
    await assert_accessible(family, "the end page")
    await screenshots(family, "09-family-end")
    attendance = staff.locator(".attendance table")
    await expect(attendance).to_contain_text("Maija Virtanen")
    await expect(attendance).to_contain_text("Sanna Aikio")
    await screenshots(staff, "10-staff-attendance", ("tablet-landscape",))

    # Nothing the server keeps holds the token or the chat text.
    assert token not in kota_server.log()
    for path in kota_server.data_dir.glob("kota.sqlite3*"):
        stored = path.read_bytes()
        assert CHAT_LINE.encode() not in stored, path.name
        assert STAFF_NOTE.encode() not in stored, path.name
        assert token.encode() not in stored, path.name

    # Years later retention removes the family's name; attendance still counts them.
    await age_appointment(kota_server, appointment.id, appointment.starts_at)
    await retention_run(kota_server)
    await staff.goto(f"/staff#/appointment/{appointment.id}")
    await staff.reload()
    await expect(attendance).to_contain_text(load("fi")["appointment.removed_name"])
    await expect(attendance).to_contain_text("Sanna Aikio")
    await expect(attendance).not_to_contain_text("Maija Virtanen")

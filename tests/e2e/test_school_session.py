"""A school meeting: a professional, a guardian and a teacher; each sees two others."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import pytest
from playwright.async_api import expect

from tests.e2e.flows import OpenPage, admit, family_to_waiting_room, staff_into_room
from tests.e2e.kota_server import StaffApi
from tests.e2e.page_checks import (
    PHONE,
    TABLET_LANDSCAPE,
    TABLET_PORTRAIT,
    assert_remote_videos_play,
    screenshots,
)

pytestmark = pytest.mark.asyncio(loop_scope="session")


async def test_three_pages_each_see_two_remote_videos(
    open_page: OpenPage, staff_api: Callable[[str], Awaitable[StaffApi]]
) -> None:
    sanna = await staff_api("sanna")
    appointment = await sanna.appointment(
        ("Maija Virtanen", "guardian"), ("Opettaja Outi", "school_staff")
    )
    staff = await open_page(TABLET_LANDSCAPE, staff="sanna", name="staff")
    await staff_into_room(staff, appointment)
    guardian = await open_page(TABLET_PORTRAIT, name="guardian")
    teacher = await open_page(PHONE, name="teacher")
    await family_to_waiting_room(guardian, appointment.links["Maija Virtanen"])
    await family_to_waiting_room(teacher, appointment.links["Opettaja Outi"])
    await expect(teacher.locator(".waiting .position")).to_contain_text("2")

    await admit(staff, "Maija Virtanen")
    await admit(staff, "Opettaja Outi")

    for page in (staff, guardian, teacher):
        await assert_remote_videos_play(page, 2)
    await expect(teacher.locator(".stage")).to_have_attribute("data-count", "2")
    await expect(guardian.locator(".tile figcaption", has_text="Opettaja Outi")).to_be_visible()
    await screenshots(guardian, "13-school-call-guardian", ("tablet-portrait", "tablet-landscape"))
    await screenshots(teacher, "14-school-call-teacher", ("phone",))

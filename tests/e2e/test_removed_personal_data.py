"""An appointment whose personal data retention removed: staff see a plain notice with the
date, a neutral word for each name, and no action the server would refuse; the day list
marks it too. The removal is the real one (``kota retention run`` on the server's file)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from playwright.async_api import expect

from tests.e2e.flows import OpenPage
from tests.e2e.kota_server import KotaProcess, StaffApi
from tests.e2e.page_checks import PHONE, TABLET_PORTRAIT, assert_accessible, screenshots
from tests.e2e.retention_steps import age_appointment, retention_run
from tests.test_locales import load

pytestmark = pytest.mark.asyncio(loop_scope="session")

HELSINKI = ZoneInfo("Europe/Helsinki")


async def test_staff_see_that_the_personal_data_was_removed(
    open_page: OpenPage, kota_server: KotaProcess,
    staff_api: Callable[[str], Awaitable[StaffApi]],
) -> None:
    sanna = await staff_api("sanna")
    made = await sanna.appointment(("Vanha Vierailija", "guardian"), ("Vanha Lapsi", "child"))
    await age_appointment(kota_server, made.id, made.starts_at)
    assert "removed the personal data of 1 appointments" in await retention_run(kota_server)
    removed_on = datetime.now(HELSINKI).date()
    fi = load("fi")

    page = await open_page(TABLET_PORTRAIT, staff="sanna", name="staff")
    await page.goto(f"/staff#/appointment/{made.id}")
    notice = page.locator(".personal-data-removed")
    await expect(notice).to_contain_text(fi["appointment.personal_data_removed"]
                                         .split("(")[0].strip())
    await expect(notice).to_contain_text(f"{removed_on.day}.")
    await expect(notice).to_contain_text(str(removed_on.year))
    people = page.locator(".participants .person")
    await expect(people).to_have_count(2)
    await expect(people.locator(".person-name")).to_have_text(
        [fi["appointment.removed_name"]] * 2)
    await expect(page.locator(".participants")).not_to_contain_text("Vanha")
    # Nothing to press that the server refuses: no links, room, edit, cancel or adding.
    await expect(page.locator("section.card button")).to_have_count(0)
    await expect(page.locator(".actions.start, .add-participant, .link-state")).to_have_count(0)
    await expect(page.locator("a[href*='/staff/call'], a[href$='/edit']")).to_have_count(0)
    await assert_accessible(page, "an appointment whose personal data was removed")
    await screenshots(page, "44-staff-personal-data-removed", ("tablet-portrait",))

    await page.set_viewport_size(PHONE)
    await expect(notice).to_be_visible()
    await assert_accessible(page, "an appointment whose personal data was removed, phone")
    await screenshots(page, "44-staff-personal-data-removed", ("phone",))

    # The day list marks it, without names and without a room to open.
    await page.locator("section.card a[href^='#/day/']").click()
    item = page.locator(f".appointment[data-appointment='{made.id}']")
    await expect(item.locator(".tag.removed")).to_have_text(fi["day.personal_data_removed"])
    await expect(item.locator("a[href*='/staff/call']")).to_have_count(0)
    await expect(item).not_to_contain_text("Vanha")
    await assert_accessible(page, "a day with a removed appointment, phone")
    await screenshots(page, "44-staff-day-personal-data-removed", ("phone",))

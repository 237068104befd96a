"""The professional's pages: sign in, a day's appointments, the appointment form, and
one appointment's people and links (copy, renew, revoke)."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from playwright.async_api import expect

from tests.conftest import PASSWORD, wait_until
from tests.e2e.flows import OpenPage
from tests.e2e.kota_server import KotaProcess
from tests.e2e.page_checks import TABLET_LANDSCAPE, assert_accessible, screenshots

pytestmark = pytest.mark.asyncio(loop_scope="session")

HELSINKI = ZoneInfo("Europe/Helsinki")


async def test_sign_in_page(open_page: OpenPage) -> None:
    page = await open_page(TABLET_LANDSCAPE, name="staff")
    await page.goto("/staff")
    await page.locator("#username").fill("pekka")
    await page.locator("#password").fill("not the password")
    await page.locator("form button[type=submit]").click()
    await expect(page.locator(".notice.error")).to_be_visible()
    await assert_accessible(page, "the sign-in page")
    await screenshots(page, "20-staff-sign-in", ("tablet-landscape", "phone"))
    await page.locator("#password").fill(PASSWORD)
    await page.locator("form button[type=submit]").click()
    await expect(page.locator("#day-title")).to_be_visible()
    await page.locator(".signed-in-as", has_text="Pekka Lehto").wait_for()


async def test_create_an_appointment_and_manage_its_links(
    open_page: OpenPage, kota_server: KotaProcess
) -> None:
    page = await open_page(
        TABLET_LANDSCAPE, staff="pekka", name="staff",
        permissions=["clipboard-read", "clipboard-write"],
    )
    tomorrow = (datetime.now(HELSINKI) + timedelta(days=1)).date().isoformat()
    await page.goto("/staff")
    await page.locator(".day-nav a[href^='#/day/']").last.click()
    await expect(page).to_have_url(f"{kota_server.base}/staff#/day/{tomorrow}")

    # The form: time, kind, two people.
    await page.locator(".day-head a.button").click()
    await page.locator("#f-date").fill(tomorrow)
    await page.locator("#f-start").fill("10:00")
    await page.locator("#f-end").fill("10:45")
    await page.locator("#f-kind").select_option("school_meeting")
    await page.locator("#p-name-1").fill("Maija Virtanen")
    await page.locator(".form button.secondary", has_text="Lisää").click()
    await page.locator("#p-name-2").fill("Opettaja Outi")
    await page.locator("#p-role-2").select_option("school_staff")
    # Its screenshots come from test_staff_time_zone.py (host picker, separate actions).
    await assert_accessible(page, "the appointment form")
    await page.locator(".form button[type=submit]").click()

    # The appointment: each person has a link in use.
    people = page.locator(".participants .person")
    await expect(people).to_have_count(2)
    await expect(page.locator("[data-link=active]")).to_have_count(2)
    await assert_accessible(page, "the appointment page")

    maija = page.locator(".participants .person", has_text="Maija Virtanen")
    await maija.locator(".copy-link").click()
    await expect(page.locator(".notice")).to_contain_text("Maija Virtanen")
    first: str = await page.evaluate("() => navigator.clipboard.readText()")
    assert first.startswith(f"{kota_server.base}/join#")

    # A new link replaces the old one; the old one stops working.
    await maija.locator(".renew-link").click()
    await page.locator("dialog button[value=ok]").click()

    async def clipboard() -> str:
        text: str = await page.evaluate("() => navigator.clipboard.readText()")
        return text

    async def clipboard_changed() -> bool:
        return await clipboard() != first

    await wait_until(clipboard_changed, timeout=10, what="the new link in the clipboard")
    second = await clipboard()
    assert second != first and second.startswith(f"{kota_server.base}/join#")
    old = await page.request.post("/api/join", data={"token": first.split("#", 1)[1]})
    assert old.status == 401

    # Stopping the link: the family would see the revoked page.
    await maija.locator(".revoke-link").click()
    await page.locator("dialog button[value=ok]").click()
    await expect(page.locator(".participants [data-link=revoked]")).to_have_count(1)
    revoked = await page.request.post("/api/join", data={"token": second.split("#", 1)[1]})
    assert revoked.status == 401

    # Editing: a later end time.
    await page.locator("a[href$='/edit']").click()
    await expect(page.locator("#f-end")).to_have_value("10:45")
    await page.locator("#f-end").fill("11:15")
    await page.locator(".form button[type=submit]").click()
    await expect(page.locator(".facts")).to_contain_text("11.15")

    # The day list shows it on that day (other tests may book the same day on this server).
    appointment_id = page.url.rsplit("/appointment/", 1)[1].split("/", 1)[0]
    await page.locator("a[href^='#/day/']", has_text="Takaisin").click()
    await expect(page.locator(f".appointment[data-appointment='{appointment_id}']")) \
        .to_contain_text("Koulupalaveri")
    await assert_accessible(page, "the day's appointments")
    await screenshots(page, "23-staff-day", ("tablet-landscape", "tablet-portrait"))


async def test_the_day_is_written_again_in_the_chosen_language(open_page: OpenPage) -> None:
    """The date heading and the times are formatted, not looked up: a switch of language
    redraws them too."""
    page = await open_page(TABLET_LANDSCAPE, staff="pekka", name="staff")
    await page.goto("/staff#/day/2027-01-04")
    heading = page.locator("#day-title")
    await expect(heading).to_contain_text("maanantai")
    await page.locator("#language-select").select_option("en")
    await expect(heading).to_contain_text("Monday")
    await page.locator("#language-select").select_option("sv")
    await expect(heading).to_contain_text("måndag")

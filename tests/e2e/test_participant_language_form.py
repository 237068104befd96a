"""Staff set a participant's language in the appointment form and in "Add a person";
the appointment page shows it, and the join answer carries it."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from playwright.async_api import expect

from tests.e2e.date_texts import SERVER_ZONE
from tests.e2e.flows import OpenPage
from tests.e2e.page_checks import PHONE, TABLET_LANDSCAPE, assert_accessible
from tests.test_locales import load

pytestmark = pytest.mark.asyncio(loop_scope="session")


def shown_language(code: str) -> str:
    fi = load("fi")
    return fi["appointment.language"].replace("{language}", fi[f"language.{code}"])


@pytest.mark.parametrize("size", ["tablet-landscape", "phone"])
async def test_staff_set_each_persons_language(open_page: OpenPage, size: str) -> None:
    page = await open_page(TABLET_LANDSCAPE if size == "tablet-landscape" else PHONE,
                           staff="pekka", name="staff")
    days = 4 if size == "tablet-landscape" else 5
    day = (datetime.now(SERVER_ZONE) + timedelta(days=days)).date().isoformat()
    await page.goto("/staff#/new")
    await page.locator("#p-name-1").wait_for()
    await page.locator("#f-date").fill(day)
    await page.locator("#f-start").fill("13:00")
    await page.locator("#f-end").fill("13:30")
    await page.locator("#p-name-1").fill("Ánde Guttorm")
    await expect(page.locator("#p-language-1")).to_have_value("")
    await page.locator("#p-language-1").select_option("se")
    await assert_accessible(page, "the appointment form with a language")
    await page.locator(".form button[type=submit]").click()

    ande = page.locator(".participants .person", has_text="Ánde Guttorm")
    await expect(ande.locator(".person-language")).to_have_text(shown_language("se"))

    await page.locator("#new-name").fill("Sara Lind")
    await page.locator("#new-language").select_option("sv")
    await page.locator(".add-participant button[type=submit]").click()
    sara = page.locator(".participants .person", has_text="Sara Lind")
    await expect(sara.locator(".person-language")).to_have_text(shown_language("sv"))
    await assert_accessible(page, "the appointment page with languages")

    appointment_id = page.url.rsplit("/", 1)[1]
    resp = await page.request.get(f"/api/appointments/{appointment_id}")
    languages = {p["display_name"]: p["language"] for p in (await resp.json())["participants"]}
    assert languages == {"Ánde Guttorm": "se", "Sara Lind": "sv"}

"""Families choose Finnish (the default), Swedish, English or North Sámi; every visible
string then comes from that language's file."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import pytest
from playwright.async_api import Page, expect

from tests.e2e.flows import OpenPage
from tests.e2e.kota_server import StaffApi
from tests.e2e.page_checks import PHONE, TABLET_PORTRAIT, screenshots
from tests.test_locales import load

pytestmark = pytest.mark.asyncio(loop_scope="session")

# Every element whose text comes from a locale key without placeholders: [key, text].
_SHOWN_TEXTS = """
() => [...document.querySelectorAll("[data-i18n]:not([data-i18n-vars])")]
  .filter((el) => el.offsetParent !== null || el.tagName === "TITLE")
  .map((el) => [el.dataset.i18n, el.textContent])
"""


async def assert_page_speaks(page: Page, code: str) -> None:
    texts = load(code)
    shown = await page.evaluate(_SHOWN_TEXTS)
    assert shown, "no translated text on the page"
    wrong = [(key, text) for key, text in shown if texts[key] != text]
    assert not wrong, f"texts not in {code}: {wrong}"
    assert await page.evaluate("() => document.documentElement.lang") == code


async def test_switching_to_north_sami_changes_the_visible_strings(
    open_page: OpenPage, staff_api: Callable[[str], Awaitable[StaffApi]]
) -> None:
    sanna = await staff_api("sanna")
    appointment = await sanna.appointment(("Ánde Guttorm", "guardian"))
    family = await open_page(PHONE, name="family")
    await family.goto(appointment.links["Ánde Guttorm"])
    title = family.locator("#welcome-title")
    await expect(title).to_have_text(load("fi")["join.welcome.title"])
    await assert_page_speaks(family, "fi")

    await family.locator("[data-locale=se]").click()
    await expect(title).to_have_text(load("se")["join.welcome.title"])
    await expect(family.locator("[data-locale=se]")).to_have_attribute("aria-pressed", "true")
    await assert_page_speaks(family, "se")
    await expect(family).to_have_title(load("se")["join.page_title"])
    await screenshots(family, "15-family-welcome-north-sami", ("phone", "tablet-portrait"))

    # The choice holds on the next screen and after a reload.
    await family.locator("[data-action=welcome-continue]").click()
    await expect(family.locator("#devices-title")).to_have_text(load("se")["devices.title"])
    await family.reload()
    await expect(title).to_have_text(load("se")["join.welcome.title"])


@pytest.mark.parametrize("code", ["sv", "en"])
async def test_staff_sign_in_page_in_each_language(open_page: OpenPage, code: str) -> None:
    page = await open_page(name="staff")
    await page.goto("/staff")
    await page.locator("#login-title").wait_for()
    await page.locator("#language-select").select_option(code)
    await expect(page.locator("#login-title")).to_have_text(load(code)["login.title"])
    await assert_page_speaks(page, code)


async def test_a_link_opens_in_the_participants_language_until_the_family_chooses(
    open_page: OpenPage, staff_api: Callable[[str], Awaitable[StaffApi]]
) -> None:
    """Staff chose Swedish; the browser speaks Finnish. The family's own choice is
    remembered for that link, not for other links on the same device."""
    sanna = await staff_api("sanna")
    appointment = await sanna.appointment(
        ("Sara Lind", "guardian"), ("Saara Linna", "guardian"),
        languages={"Sara Lind": "sv"},
    )
    family = await open_page(TABLET_PORTRAIT, name="family")
    await family.goto(appointment.links["Sara Lind"])
    title = family.locator("#welcome-title")
    await expect(title).to_have_text(load("sv")["join.welcome.title"])
    await assert_page_speaks(family, "sv")

    await family.locator("[data-locale=en]").click()
    await expect(title).to_have_text(load("en")["join.welcome.title"])
    await family.reload()
    await expect(title).to_have_text(load("en")["join.welcome.title"])
    stored = await family.evaluate("() => JSON.stringify(localStorage)")
    token = appointment.links["Sara Lind"].partition("#")[2]
    assert token not in stored and "kota.join.locale." in stored, stored

    # Another link in the same browser: no language set, so the browser's (Finnish).
    other = await family.context.new_page()
    await other.goto(appointment.links["Saara Linna"])
    await expect(other.locator("#welcome-title")).to_have_text(load("fi")["join.welcome.title"])


@pytest.mark.parametrize(("browser_locale", "code"), [("sv-SE", "sv"), ("se-NO", "se"),
                                                      ("de-DE", "fi")])
async def test_without_a_language_the_browser_decides(
    open_page: OpenPage, staff_api: Callable[[str], Awaitable[StaffApi]],
    browser_locale: str, code: str,
) -> None:
    sanna = await staff_api("sanna")
    appointment = await sanna.appointment(("Nilla Sara", "guardian"))
    family = await open_page(PHONE, name="family", locale=browser_locale)
    await family.goto(appointment.links["Nilla Sara"])
    await expect(family.locator("#welcome-title")).to_have_text(
        load(code)["join.welcome.title"])
    await assert_page_speaks(family, code)

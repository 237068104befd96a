"""Every page in Finnish, Swedish, English and North Sámi: no English weekday or month
name outside English and no "M12"-style fallback (Chromium has no North Sámi dates), and
where the device's zone is not the server's, times carry the zone in words."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta

import pytest
from playwright.async_api import Page, expect

from tests.e2e.date_texts import (
    LANGUAGES,
    SERVER_ZONE,
    assert_no_date_fallback,
    date_text,
    time_text,
    visible_text,
)
from tests.e2e.flows import OpenPage, admit, staff_into_room
from tests.e2e.kota_server import StaffApi
from tests.e2e.page_checks import PHONE, TABLET_LANDSCAPE, TABLET_PORTRAIT, assert_accessible
from tests.test_locales import load

pytestmark = pytest.mark.asyncio(loop_scope="session")


async def speak(page: Page, code: str) -> None:
    """Choose ``code`` in the header, as a person would."""
    await page.locator("#language-select").select_option(code)
    await expect(page.locator("html")).to_have_attribute("lang", code)


async def in_every_language(page: Page, what: str, *, must_show: Callable[[str], str] | None = None,
                            reload_for: str | None = None) -> None:
    """Check the page in each language; ``reload_for``: a selector to wait for after a
    reload (staff pages draw dates once, so they are reloaded in the chosen language)."""
    for code in LANGUAGES:
        await speak(page, code)
        if reload_for:
            await page.reload()
            await page.locator(reload_for).first.wait_for()
            await expect(page.locator("html")).to_have_attribute("lang", code)
        if must_show:
            await expect(page.locator("body")).to_contain_text(must_show(code))
        await assert_no_date_fallback(page, code, what)
    await speak(page, "fi")
    if reload_for:
        await page.reload()
        await page.locator(reload_for).first.wait_for()


async def test_every_page_in_every_language(
    open_page: OpenPage, staff_api: Callable[[str], Awaitable[StaffApi]]
) -> None:
    sanna = await staff_api("sanna")
    appointment = await sanna.appointment(("Maija Virtanen", "guardian"),
                                          ("Matti Virtanen", "guardian"))
    start = appointment.starts_at
    when = lambda code: date_text(code, start)  # noqa: E731
    day = start.astimezone(SERVER_ZONE).date().isoformat()

    # Staff: sign-in, day, appointment, new appointment.
    signed_out = await open_page(TABLET_LANDSCAPE, name="sign-in")
    await signed_out.goto("/staff")
    await in_every_language(signed_out, "the sign-in page", reload_for="#login-title")
    office = await open_page(TABLET_LANDSCAPE, staff="sanna", name="office")
    await office.goto(f"/staff#/day/{day}")
    month = lambda code: load(code)[f"dates.month.{start.astimezone(SERVER_ZONE).month}"]  # noqa: E731
    await in_every_language(office, "the day view", must_show=month,
                            reload_for=f"[data-appointment='{appointment.id}']")
    await office.goto(f"/staff#/appointment/{appointment.id}")
    await in_every_language(office, "the appointment page", must_show=month,
                            reload_for=".participants .person")
    await office.goto("/staff#/new")
    await in_every_language(office, "the new-appointment form", reload_for="#p-name-1")

    # The family: welcome, camera check, name, waiting; the staff's call page.
    staff = await open_page(TABLET_LANDSCAPE, staff="sanna", name="staff")
    await staff_into_room(staff, appointment)
    await in_every_language(staff, "the staff call page")
    family = await open_page(PHONE, name="family")
    await family.goto(appointment.links["Maija Virtanen"])
    await in_every_language(family, "the welcome page", must_show=when)
    await family.locator("[data-action=welcome-continue]").click()
    await family.locator("[data-action=devices-continue]").wait_for()
    await in_every_language(family, "the camera check")
    await family.locator("[data-action=devices-continue]").click()
    await family.locator("[data-action=enter-waiting-room]").wait_for()
    await in_every_language(family, "the name page")
    await family.locator("[data-action=enter-waiting-room]").click()
    await family.locator(".waiting .position").wait_for()
    await in_every_language(family, "the waiting room")
    await admit(staff, "Maija Virtanen")
    await family.locator(".call-view").wait_for()
    await in_every_language(family, "the family's call")
    await in_every_language(staff, "the staff's call")

    # Turned away, then the link stopped.
    other = await open_page(PHONE, name="other")
    await other.goto(appointment.links["Matti Virtanen"])
    await other.locator("[data-action=welcome-continue]").click()
    await other.locator("[data-action=devices-continue]").click()
    await other.locator("[data-action=enter-waiting-room]").click()
    person = staff.locator(".waiting-person", has_text="Matti Virtanen")
    await person.locator(".deny").click()
    await staff.locator("dialog button[value=ok]").click()
    await expect(other.locator("section.end")).to_have_attribute("data-reason", "denied")
    await in_every_language(other, "the turned-away page")
    matti = appointment.participant_id("Matti Virtanen")
    await sanna.call("DELETE", f"/api/appointments/{appointment.id}/participants/{matti}/link")
    revoked = await open_page(PHONE, name="revoked")
    await revoked.goto(appointment.links["Matti Virtanen"])
    await expect(revoked.locator("section[data-problem]")).to_have_attribute(
        "data-problem", "revoked")
    await in_every_language(revoked, "the revoked-link page")

    # The end for everyone, and attendance.
    await staff.locator("[data-action=leave]").click()
    await staff.locator("dialog button[value=end]").click()
    await expect(family.locator("section.end")).to_have_attribute("data-reason", "ended")
    await in_every_language(family, "the end page")
    await expect(staff.locator(".attendance table")).to_contain_text("Maija Virtanen")
    await in_every_language(staff, "the attendance")


@pytest.mark.parametrize("zone", ["Europe/Oslo", "Europe/Helsinki"])
async def test_times_carry_the_zone_where_the_device_is_elsewhere(
    open_page: OpenPage, staff_api: Callable[[str], Awaitable[StaffApi]], zone: str
) -> None:
    """A Sámi family in Norway reads "10.00 Suoma áigi"; in Finland just "10.00"."""
    pekka = await staff_api("pekka")
    start = datetime.now(UTC).replace(second=0, microsecond=0) + timedelta(hours=6)
    if zone == "Europe/Helsinki":
        start += timedelta(hours=1)
    appointment = await pekka.appointment(
        ("Ánde Guttorm", "guardian"), starts_at=start, languages={"Ánde Guttorm": "se"}
    )
    family = await open_page(TABLET_PORTRAIT, name="family", timezone_id=zone, locale="nb-NO")
    await family.goto(appointment.links["Ánde Guttorm"])
    lead = family.locator(".welcome .lead")
    await expect(lead).to_contain_text(date_text("se", start))
    office = await open_page(TABLET_LANDSCAPE, staff="pekka", name="office", timezone_id=zone)
    await office.goto(f"/staff#/appointment/{appointment.id}")
    facts = office.locator(".facts")
    await expect(facts).to_contain_text(time_text("fi", start))
    for code in LANGUAGES:
        await speak(family, code)
        words = load(code)["dates.zone.helsinki"]
        shown = f"{time_text(code, start)} {words}"
        text = await visible_text(family)
        if zone == "Europe/Oslo":
            await expect(lead).to_contain_text(shown)
        else:
            await expect(lead).to_contain_text(time_text(code, start))
            assert words not in text, text
    await assert_accessible(family, "the welcome page with the zone")
    staff_text = await visible_text(office)
    if zone == "Europe/Oslo":
        assert load("fi")["dates.zone.helsinki"] in staff_text, staff_text
    else:
        assert load("fi")["dates.zone.helsinki"] not in staff_text, staff_text

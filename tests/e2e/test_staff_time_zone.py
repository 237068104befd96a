"""The staff pages keep one time zone, KOTA_TIMEZONE (Europe/Helsinki here), whatever zone
the browser is in: today's list, times typed into the form, the clock-change nights; and
the form's host picker, default start and overlap message, and the appointment page's
separate, confirmed "stop the link" and "remove the person"."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from playwright.async_api import Page, expect

from tests.e2e.flows import OpenPage
from tests.e2e.kota_server import StaffApi
from tests.e2e.page_checks import (
    ARTIFACTS,
    PHONE,
    TABLET_LANDSCAPE,
    assert_accessible,
    screenshots,
)

pytestmark = pytest.mark.asyncio(loop_scope="session")

HELSINKI = ZoneInfo("Europe/Helsinki")
ZONES = ["UTC", "Europe/Helsinki"]
# Nights the clocks change in Helsinki (one per browser zone, so the bookings never meet).
SPRING_NIGHT = {"UTC": "2027-03-28", "Europe/Helsinki": "2028-03-26"}
AUTUMN_NIGHT = {"UTC": "2027-10-31", "Europe/Helsinki": "2028-10-29"}
GetStaff = Callable[[str], Awaitable[StaffApi]]


# Other browser tests book Sanna's and Pekka's near days on the same server; these
# tests keep to days two months out, so no booking of theirs is in the way.
OWN_DAYS_FROM = 60


def _helsinki_day(days_ahead: int) -> date:
    return (datetime.now(HELSINKI) + timedelta(days=OWN_DAYS_FROM + days_ahead)).date()


def _at(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime.combine(day, time(hour, minute), HELSINKI)


async def _book(api: StaffApi, start: datetime, minutes: int = 60, **fields: Any) -> Any:
    return await api.call("POST", "/api/appointments", {
        "starts_at": start.isoformat(),
        "ends_at": (start + timedelta(minutes=minutes)).isoformat(),
        "kind": "child_protection",
        "participants": [{"display_name": "Maija Virtanen", "role": "guardian"}],
        **fields,
    })


async def _shots(page: Page, name: str, selector: str) -> None:
    """Tablet (also to docs/screenshots) and phone, each scrolled to ``selector``."""
    await page.locator(selector).first.scroll_into_view_if_needed()
    await screenshots(page, name, ("tablet-landscape",))
    original = page.viewport_size
    await page.set_viewport_size(PHONE)
    await page.locator(selector).first.scroll_into_view_if_needed()
    await page.screenshot(path=str(ARTIFACTS / f"{name}-phone.png"), animations="disabled")
    if original:
        await page.set_viewport_size(original)


async def _form(page: Page, day: date | None = None) -> None:
    await page.goto("/staff#/new" + (f"?date={day}" if day else ""))
    await expect(page.locator("#f-host option")).not_to_have_count(0)
    await page.locator("#p-name-1").fill("Maija Virtanen")


async def _fill_time(page: Page, day: date | str, start: str, end: str) -> None:
    await page.locator("#f-date").fill(str(day))
    await page.locator("#f-start").fill(start)
    await page.locator("#f-end").fill(end)


async def _submit_and_open(page: Page) -> int:
    await page.locator(".form button[type=submit]").click()
    await expect(page).to_have_url(re.compile(r"#/appointment/\d+$"))
    return int(page.url.rsplit("/", 1)[1])


@pytest.mark.parametrize("zone", ZONES)
async def test_the_day_view_lists_todays_appointments_in_kota_time(
    open_page: OpenPage, staff_api: GetStaff, zone: str
) -> None:
    """At 01.30 Helsinki time a UTC browser is still on the day before; the list follows
    Helsinki, as the server does."""
    day = _helsinki_day(3 if zone == "UTC" else 4)
    pekka = await staff_api("pekka")
    for hour in (9, 10, 13):
        await _book(pekka, _at(day, hour), minutes=45)
    page = await open_page(TABLET_LANDSCAPE, staff="pekka", name="staff", timezone_id=zone)
    await page.clock.set_fixed_time(_at(day, 1, 30))
    await page.goto("/staff")
    await expect(page.locator(".day-head a.button")).to_have_attribute("href", f"#/new?date={day}")
    await expect(page.locator(".appointment")).to_have_count(3)
    await expect(page.locator(".appointment").first).to_contain_text("9.00")
    # The day navigation counts Helsinki days too.
    await page.locator(".day-nav a").last.click()
    await expect(page).to_have_url(re.compile(f"#/day/{day + timedelta(days=1)}$"))
    await page.locator(".day-nav a", has_text="Tänään").click()
    await expect(page.locator(".appointment")).to_have_count(3)
    hint = page.locator(".zone-hint")
    if zone == "UTC":
        await expect(hint).to_contain_text("Europe/Helsinki")
    else:
        await expect(hint).to_have_count(0)
    await assert_accessible(page, f"the day view in a {zone} browser")
    await page.set_viewport_size(PHONE)
    await assert_accessible(page, f"the day view in a {zone} browser, phone")


@pytest.mark.parametrize("zone", ZONES)
async def test_a_booking_from_the_form_lands_at_the_helsinki_instant(
    open_page: OpenPage, staff_api: GetStaff, zone: str
) -> None:
    day = _helsinki_day(5 if zone == "UTC" else 6)
    sanna = await staff_api("sanna")
    page = await open_page(TABLET_LANDSCAPE, staff="sanna", name="staff", timezone_id=zone)
    await _form(page, day)
    await _fill_time(page, day, "10:00", "10:45")
    made = await sanna.call("GET", f"/api/appointments/{await _submit_and_open(page)}")
    assert datetime.fromisoformat(made["starts_at"]) == _at(day, 10)
    assert datetime.fromisoformat(made["ends_at"]) == _at(day, 10, 45)
    await expect(page.locator(".facts")).to_contain_text("10.00\u201310.45")


@pytest.mark.parametrize("zone", ZONES)
async def test_the_default_start_is_the_hosts_next_free_half_hour(
    open_page: OpenPage, staff_api: GetStaff, zone: str
) -> None:
    day = _helsinki_day(8 if zone == "UTC" else 9)
    pekka = await staff_api("pekka")
    await _book(pekka, _at(day, 8), minutes=90)  # 08.00 to 09.30
    await _book(pekka, _at(day, 9, 30), minutes=20)  # 09.30 to 09.50
    page = await open_page(PHONE, staff="pekka", name="staff", timezone_id=zone)
    await page.goto(f"/staff#/new?date={day}")
    await expect(page.locator("#f-start")).to_have_value("10:00")
    await expect(page.locator("#f-end")).to_have_value("11:00")
    await expect(page.locator("#f-date")).to_have_value(str(day))
    await expect(page.locator("#f-host")).to_have_value(str(await _id(pekka)))
    await assert_accessible(page, f"the appointment form on a phone in a {zone} browser")


async def _id(api: StaffApi) -> int:
    return int((await api.call("GET", "/api/session"))["staff"]["id"])


async def test_the_host_picker_books_for_the_chosen_host(
    open_page: OpenPage, staff_api: GetStaff
) -> None:
    day = _helsinki_day(11)
    sanna, pekka = await staff_api("sanna"), await staff_api("pekka")
    pekka_id, sanna_id = await _id(pekka), await _id(sanna)
    await _book(pekka, _at(day, 8), minutes=120)
    page = await open_page(TABLET_LANDSCAPE, staff="sanna", name="staff", timezone_id="UTC")
    await _form(page, day)
    await expect(page.locator("#f-host")).to_have_value(str(sanna_id))
    await expect(page.locator("#f-start")).to_have_value("08:00")
    await page.locator("#f-host").select_option(str(pekka_id))
    # Pekka is busy until 10.00; Sanna, booking for him, takes part herself.
    await expect(page.locator("#f-start")).to_have_value("10:00")
    await expect(page.locator(f"#c-{sanna_id}")).to_be_checked()
    await expect(page.locator(f"#c-{sanna_id}")).to_be_disabled()
    await assert_accessible(page, "the form with another host")
    await page.evaluate("() => window.scrollTo(0, 0)")
    await screenshots(page, "21-staff-new-appointment", ("tablet-landscape", "phone"))
    made = await sanna.call("GET", f"/api/appointments/{await _submit_and_open(page)}")
    assert made["host"]["id"] == pekka_id
    assert [s["id"] for s in made["staff"]] == [sanna_id]
    assert datetime.fromisoformat(made["starts_at"]) == _at(day, 10)


@pytest.mark.parametrize("zone", ZONES)
async def test_a_time_the_clocks_skip_is_refused_with_the_jump(
    open_page: OpenPage, zone: str
) -> None:
    page = await open_page(TABLET_LANDSCAPE, staff="sanna", name="staff", timezone_id=zone)
    await _form(page)
    await _fill_time(page, SPRING_NIGHT[zone], "03:30", "04:30")
    await page.locator(".form button[type=submit]").click()
    error = page.locator(".form .notice.error")
    await expect(error).to_contain_text("3.30")
    await expect(error).to_contain_text("suoraan ajasta 3.00 aikaan 4.00")
    await expect(page).to_have_url(re.compile("#/new$"))
    await assert_accessible(page, "the refused spring-forward time")
    if zone == "UTC":
        await _shots(page, "28-staff-time-skipped", ".form .notice.error")


@pytest.mark.parametrize("zone", ZONES)
async def test_a_time_the_clocks_show_twice_asks_which_and_books_it(
    open_page: OpenPage, staff_api: GetStaff, zone: str
) -> None:
    sanna = await staff_api("sanna")
    page = await open_page(TABLET_LANDSCAPE, staff="sanna", name="staff", timezone_id=zone)
    await _form(page)
    # Two appointments, one in each 03.30 of the night.
    for fold, label, offset in ((1, "talviaikaa (UTC+2)", "+02:00"),
                                (0, "kesäaikaa (UTC+3)", "+03:00")):
        await _fill_time(page, AUTUMN_NIGHT[zone], "03:30", "03:50")
        await page.locator(".form button[type=submit]").click()
        dialog = page.locator("dialog")
        await expect(dialog).to_contain_text("3.30 tulee kahdesti")
        await expect(dialog.locator("button", has_text="3.30 kesäaikaa (UTC+3)")).to_be_visible()
        await expect(dialog.locator("button", has_text="3.30 talviaikaa (UTC+2)")).to_be_visible()
        if fold == 1:
            await assert_accessible(page, "the which-03.30 question")
            if zone == "UTC":
                await screenshots(page, "29-staff-time-twice", ("tablet-landscape", "phone"))
        await dialog.locator("button", has_text=label).click()
        made = await sanna.call("GET", f"/api/appointments/{await _submit_and_open_after(page)}")
        assert made["starts_at"] == f"{AUTUMN_NIGHT[zone]}T03:30:00{offset}"
        if fold == 1:
            await _form(page)


async def _submit_and_open_after(page: Page) -> int:
    await expect(page).to_have_url(re.compile(r"#/appointment/\d+$"))
    return int(page.url.rsplit("/", 1)[1])


async def test_the_overlap_error_names_and_links_the_clash(
    open_page: OpenPage, staff_api: GetStaff
) -> None:
    day = _helsinki_day(13)
    sanna = await staff_api("sanna")
    clash = await _book(sanna, _at(day, 12), minutes=60)
    page = await open_page(TABLET_LANDSCAPE, staff="sanna", name="staff", timezone_id="UTC")
    await _form(page, day)
    await _fill_time(page, day, "12:30", "13:30")
    await page.locator(".form button[type=submit]").click()
    error = page.locator(".form .notice.error")
    await expect(error).to_contain_text("12.00\u201313.00")
    await expect(error).to_contain_text("Lastensuojelu")
    link = error.locator("a.clash-link")
    await expect(link).to_have_attribute("href", f"#/appointment/{clash['id']}")
    await assert_accessible(page, "the overlap message")
    await _shots(page, "30-staff-overlap", ".form .notice.error")
    await link.click()
    await expect(page).to_have_url(re.compile(f"#/appointment/{clash['id']}$"))


@pytest.mark.parametrize("size", ["tablet-landscape", "phone"])
async def test_stopping_the_link_and_removing_the_person_each_ask_first(
    open_page: OpenPage, staff_api: GetStaff, size: str
) -> None:
    sanna = await staff_api("sanna")
    appointment = await sanna.appointment(("Maija Virtanen", "guardian"), ("Ville", "child"),
                                          starts_at=_at(_helsinki_day(15 if size == "phone"
                                                                      else 16), 9))
    page = await open_page(PHONE if size == "phone" else TABLET_LANDSCAPE, staff="sanna",
                           name="staff")
    await page.goto(f"/staff#/appointment/{appointment.id}")
    maija = page.locator(".participants .person", has_text="Maija Virtanen")
    # The link's actions are one group; removing the person is apart from it.
    await expect(maija.locator(".link-actions .revoke-link")).to_be_visible()
    await expect(maija.locator(".link-actions .remove-participant")).to_have_count(0)
    await expect(maija.locator(".person-remove .remove-participant")).to_be_visible()
    await assert_accessible(page, "the appointment page")
    if size == "tablet-landscape":
        await _shots(page, "22-staff-appointment", ".participants .person")

    # Stop the link: asked first, in plain words; cancelling changes nothing.
    await maija.locator(".revoke-link").click()
    dialog = page.locator("dialog")
    await expect(dialog).to_contain_text("poistetaan siitä")
    await expect(dialog).to_contain_text("pysyy tapaamisen henkilöissä")
    await assert_accessible(page, "the stop-the-link question")
    await dialog.locator("button[value=cancel]").click()
    await expect(maija).to_have_attribute("data-link", "active")
    await maija.locator(".revoke-link").click()
    await dialog.locator("button[value=ok]").click()
    await expect(maija).to_have_attribute("data-link", "revoked")
    token = appointment.links["Maija Virtanen"].split("#", 1)[1]
    assert (await page.request.post("/api/join", data={"token": token})).status == 401

    # Remove the person: its own question, which says the person leaves the appointment.
    ville = page.locator(".participants .person", has_text="Ville")
    await ville.locator(".remove-participant").click()
    await expect(dialog).to_contain_text("poistetaan tästä tapaamisesta")
    await dialog.locator("button[value=cancel]").click()
    await expect(ville).to_have_count(1)
    await ville.locator(".remove-participant").click()
    await dialog.locator("button[value=ok]").click()
    await expect(page.locator(".participants .person")).to_have_count(1)

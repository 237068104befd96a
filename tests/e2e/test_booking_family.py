"""A family books a time from the public page (North Sámi on a phone, Finnish on a
tablet), confirms it from the link in the e-mail it gets, joins the call from the
invitation's link and is let in, then moves the booking and cancels it from the manage
link; each change sends its e-mail. Real SMTP (the session's inbox), real Chromium."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Callable
from datetime import datetime
from typing import Any

import aiohttp
import pytest
from playwright.async_api import Page, expect

from tests.conftest import wait_until
from tests.e2e.booking_steps import (
    BOOKING_STAFF,
    StaffLogin,
    a_free_time,
    booking_service,
    calendar_method,
    calendar_start,
    check_page,
    choose_language,
    links_in,
    wait_for_mail,
)
from tests.e2e.date_texts import LANGUAGES, assert_no_date_fallback, date_text, time_text
from tests.e2e.flows import OpenPage, admit, family_to_waiting_room
from tests.e2e.kota_server import KotaProcess
from tests.e2e.page_checks import (
    SIZES,
    TABLET_LANDSCAPE,
    assert_accessible,
    assert_remote_videos_play,
)
from tests.mail_inbox import MailInbox
from tests.test_locales import load

pytestmark = pytest.mark.asyncio(loop_scope="session")

FAMILY = {"se": "Máret Somby", "fi": "Maija Virtanen"}


async def appointment_of(staff: StaffLogin, starts_at: str, name: str) -> int:
    """The appointment the booking became, as its professional sees it."""
    api = await staff(BOOKING_STAFF[0])
    day = starts_at[:10]
    listed = await api.call("GET", f"/api/appointments?date={day}")
    return next(int(a["id"]) for a in listed["appointments"]
                if any(p["display_name"] == name for p in a["participants"]))


@pytest.mark.parametrize(("code", "size"), [("se", "phone"), ("fi", "tablet-portrait")])
async def test_family_books_confirms_joins_moves_and_cancels(
    open_page: OpenPage, staff_api: StaffLogin, mail_inbox: MailInbox, code: str, size: str
) -> None:
    texts = load(code)
    service = await booking_service(await staff_api("admin"), f"perhe-{code}")
    address = f"perhe-{code}-{service['id']}@example.fi"
    name = FAMILY[code]
    # The test's own size first: the one docs/screenshots shows.
    shown = (size, "tablet-portrait" if size == "phone" else "phone")

    # The booking page: the service, its free times by day, big buttons.
    family = await open_page(SIZES[size], name="family")
    await family.goto(f"/book/{service['slug']}")
    await choose_language(family, code)
    await expect(family.locator("#service-title")).to_have_text(service["name"])
    first = await a_free_time(family)
    starts_at = await first.get_attribute("data-starts-at")
    assert starts_at
    await assert_no_date_fallback(family, code, "the free times")
    await check_page(family, f"booking-times-{code}", shown)

    # Who is booking.
    await first.click()
    await expect(family.locator("#details-title")).to_have_text(texts["book.details_title"])
    await family.locator("#b-name").fill(name)
    # Kota here sends e-mail only (no SMS gateway), so the field asks for an address.
    await expect(family.locator("label[for=b-contact]")).to_have_text(
        texts["book.contact_email"])
    assert await family.locator("#b-contact").get_attribute("type") == "email"
    await family.locator("#b-contact").fill(address)
    await family.locator("#b-topic").fill("Nukkumaanmeno ja ruutuaika")
    await check_page(family, f"booking-details-{code}", shown)
    holds: list[str] = []
    family.on("request", lambda r: holds.append(r.url) if r.url.endswith("/holds") else None)
    await family.locator("[data-action=book]").dblclick()  # a double tap books once

    # Held until confirmed: the page names where the link went and until when.
    sent = family.locator(".booking-sent")
    await expect(sent.locator("h1")).to_have_text(texts["book.sent_email_title"])
    hint = f"{address[0]}…@example.fi"
    await expect(sent.locator(".lead")).to_have_text(texts["book.sent_email"].replace(
        "{contact}", hint))
    assert address not in await sent.inner_text()
    assert len(holds) == 1, holds
    await check_page(family, f"booking-sent-{code}", shown)

    # The confirmation e-mail, and the page at its link.
    confirm = await wait_for_mail(mail_inbox, address, "the confirmation e-mail",
                                  lambda m: bool(links_in(m, "/book/confirm")))
    assert confirm.message["Content-Language"] == code
    await family.goto(links_in(confirm, "/book/confirm")[0])
    await expect(family.locator("#booked-title")).to_have_text(texts["book.booked_title"])
    assert family.url.endswith("/book/confirm"), "the token stays in the address bar"
    assert await family.locator('meta[name="referrer"]').get_attribute("content") == "no-referrer"
    await assert_no_date_fallback(family, code, "the booked page")
    manage_url = await family.locator("[data-action=manage]").get_attribute("href")
    assert manage_url and "/book/manage#" in manage_url
    await check_page(family, f"booking-confirmed-{code}", shown)
    # The same link again on another device (its browser in Finnish): the same answer,
    # in the language the booking was made in.
    other_device = await open_page(SIZES["phone"], name="other device", locale="fi-FI")
    await other_device.goto(links_in(confirm, "/book/confirm")[0])
    await expect(other_device.locator("#booked-title")).to_have_text(texts["book.booked_title"])
    await other_device.close()

    # The invitation with the join link; the family joins and is let in.
    invitation = await wait_for_mail(mail_inbox, address, "the invitation",
                                     lambda m: bool(links_in(m, "/join")))
    assert calendar_method(invitation) == "REQUEST"
    assert invitation.message["Content-Language"] == code
    assert links_in(invitation, "/book/manage") == [manage_url], "the manage link goes too"
    appointment_id = await appointment_of(staff_api, starts_at, name)
    staff = await open_page(TABLET_LANDSCAPE, staff=BOOKING_STAFF[0], name="staff")
    await staff.goto(f"/staff/call?appointment={appointment_id}")
    await staff.locator("[data-action=open-room]").click()
    await staff.locator(".call-view .people").wait_for()
    await family_to_waiting_room(family, links_in(invitation, "/join")[0])
    await admit(staff, name)
    await assert_remote_videos_play(family, 1, timeout_ms=60_000)
    await staff.close()

    # The manage link: move to another free time (an update e-mail) ...
    await family.goto(manage_url)
    manage = family.locator(".manage")
    await expect(manage).to_have_attribute("data-state", "open")
    assert family.url.endswith("/book/manage")
    await check_page(family, f"booking-manage-{code}", shown)
    await family.locator("[data-action=move]").click()
    later = await a_free_time(family, ".move-times .free-day")
    moved_to = await later.get_attribute("data-starts-at")
    assert moved_to and moved_to != starts_at
    await later.click()
    await family.locator("dialog .button.primary").click()
    await expect(manage.locator(".notice.success")).to_have_text(texts["book.manage.moved"])
    await check_page(family, f"booking-moved-{code}", shown)
    update = await wait_for_mail(
        mail_inbox, address, "the update e-mail",
        lambda m: calendar_method(m) == "REQUEST"
        and calendar_start(m) == datetime.fromisoformat(moved_to))
    assert links_in(update, "/join")

    # ... and cancel it (a cancellation e-mail).
    await family.locator("[data-action=cancel-booking]").click()
    await family.locator("dialog .button.danger").click()
    await expect(family.locator(".manage")).to_have_attribute("data-state", "cancelled")
    await expect(family.locator("#manage-title")).to_have_text(
        texts["book.manage.cancelled.title"])
    await check_page(family, f"booking-cancelled-{code}", shown)
    await wait_for_mail(mail_inbox, address, "the cancellation e-mail",
                        lambda m: calendar_method(m) == "CANCEL")


async def test_a_time_taken_meanwhile_offers_the_next_free_times(
    open_page: OpenPage, staff_api: StaffLogin, kota_server: KotaProcess
) -> None:
    texts = load("fi")
    service = await booking_service(await staff_api("admin"), "kiire")
    family = await open_page(SIZES["tablet-portrait"], name="family")
    await family.goto(f"/book/{service['slug']}")
    first = await a_free_time(family)
    starts_at = await first.get_attribute("data-starts-at")
    # The browser's Back from the details goes back to the times, not off the page.
    await first.click()
    await expect(family.locator("#details-title")).to_be_visible()
    await family.go_back()
    await expect(family.locator("#service-title")).to_be_visible()
    await expect(family.locator("#details-title")).to_be_hidden()
    await first.click()
    await family.locator("#b-name").fill("Pirjo Kallio")
    await family.locator("#b-contact").fill(f"kiire-{service['id']}@example.fi")

    # Someone else holds that very time first.
    async with aiohttp.ClientSession() as other:
        resp = await other.post(f"{kota_server.base}/api/book/{service['slug']}/holds", json={
            "starts_at": starts_at, "display_name": "Toinen perhe",
            "contact": f"toinen-{service['id']}@example.fi", "language": "fi"})
        assert resp.status == 201, await resp.text()

    await family.locator("[data-action=book]").click()
    problem = family.locator(".booking-details .notice.error")
    await expect(problem.locator(".problem-title")).to_have_text(texts["book.slot_taken"])
    offered = problem.locator(".time-button")
    await expect(offered.first).to_be_visible()
    assert starts_at not in [await b.get_attribute("data-starts-at") for b in await offered.all()]
    assert await family.locator("#b-name").input_value() == "Pirjo Kallio", "the form keeps it"
    await check_page(family, "booking-slot-taken-fi")

    await offered.first.click()
    await family.locator("[data-action=book]").click()
    await expect(family.locator(".booking-sent h1")).to_have_text(texts["book.sent_email_title"])


async def test_broken_links_and_unknown_pages_say_so_plainly(open_page: OpenPage) -> None:
    texts = load("fi")
    family = await open_page(SIZES["phone"], name="family")
    await family.goto("/book/ei-tallaista")
    await expect(family.locator("#problem-title")).to_have_text(texts["book.not_found_title"])
    await check_page(family, "booking-not-found-fi", ("phone", "tablet-portrait"))

    await family.goto("/book/confirm")
    await expect(family.locator("#problem-title")).to_have_text(texts["book.no_token_title"])

    await family.goto("/book/manage#not.a.token")
    await expect(family.locator("#problem-title")).to_have_text(
        texts["book.manage.failed_title"])
    assert family.url.endswith("/book/manage")
    await check_page(family, "booking-manage-broken-fi", ("phone", "tablet-portrait"))


async def test_past_the_cutoff_the_manage_page_says_whom_to_contact(
    open_page: OpenPage, staff_api: StaffLogin, kota_server: KotaProcess,
    mail_inbox: MailInbox,
) -> None:
    texts = load("fi")
    admin = await staff_api("admin")
    service = await booking_service(admin, "myohaan")
    # Changes only until a day before: the first free time is already past that.
    await admin.call("PATCH", f"/api/services/{service['id']}", {"cutoff_minutes": 1440})
    address = f"myohaan-{service['id']}@example.fi"
    async with aiohttp.ClientSession(base_url=kota_server.base) as family_http:
        times = await (await family_http.get(f"/api/book/{service['slug']}/times")).json()
        first = next(t["starts_at"] for d in times["days"] for t in d["times"])
        resp = await family_http.post(f"/api/book/{service['slug']}/holds", json={
            "starts_at": first, "display_name": "Aila Näkkäläjärvi", "contact": address,
            "language": "fi"})
        assert resp.status == 201, await resp.text()
        mail = await wait_for_mail(mail_inbox, address, "the confirmation e-mail",
                                   lambda m: bool(links_in(m, "/book/confirm")))
        token = links_in(mail, "/book/confirm")[0].split("#", 1)[1]
        answer = await family_http.post("/api/book/confirm", json={"token": token})
        confirmed = await answer.json()

    family = await open_page(SIZES["phone"], name="family")
    await family.goto(confirmed["manage_url"])
    manage = family.locator(".manage")
    await expect(manage).to_have_attribute("data-state", "past_cutoff")
    notice = manage.locator(".past-cutoff")
    await expect(notice).to_contain_text(service["name"])
    await expect(notice).to_contain_text(BOOKING_STAFF[1].split()[0])
    assert await family.locator("[data-action=move], [data-action=cancel-booking]").count() == 0
    await expect(family.locator("#manage-title")).to_have_text(
        texts["book.manage.past_cutoff.title"])
    await check_page(family, "booking-past-cutoff-fi", ("phone", "tablet-portrait"))

    # Its professional cancels it instead, as the page tells the family to ask.
    liisa = await staff_api(BOOKING_STAFF[0])
    appointment = await appointment_of(staff_api, first, "Aila Näkkäläjärvi")
    await liisa.call("POST", f"/api/appointments/{appointment}/cancel")
    await family.reload()
    await expect(manage).to_have_attribute("data-state", "cancelled")


async def test_free_times_in_every_language(open_page: OpenPage, staff_api: StaffLogin) -> None:
    """The week of free times in each language, changed in place from the header: day
    names and times from the locale files, no browser fallback, axe-clean."""
    service = await booking_service(await staff_api("admin"), "kielet")
    family = await open_page(SIZES["tablet-portrait"], name="family")
    await family.goto(f"/book/{service['slug']}")
    first = family.locator(".free-day .time-button").first
    await first.wait_for()
    starts_at = await first.get_attribute("data-starts-at")
    assert starts_at
    moment = datetime.fromisoformat(starts_at)
    for code in LANGUAGES:
        await choose_language(family, code)
        texts = load(code)
        await expect(family.locator(".booking .lead")).to_have_text(
            texts["book.lead"].replace("{minutes}", "30"))
        day = family.locator(".free-day", has=family.locator(".time-button")).first.locator(
            ".day-title")
        await expect(day).to_have_text(date_text(code, moment))
        await expect(first).to_have_text(time_text(code, moment))
        await assert_no_date_fallback(family, code, "the free times")
        await assert_accessible(family, f"the free times in {code}")


async def test_a_hold_confirmed_too_late_says_so_and_leads_back(
    open_page: OpenPage, staff_api: StaffLogin, kota_server: KotaProcess,
    mail_inbox: MailInbox,
) -> None:
    """A one-minute hold runs out and another family takes the time; the first family's
    confirm link then explains, and links back to the booking page (on any device)."""
    texts = load("fi")
    admin = await staff_api("admin")
    service = await booking_service(admin, "myohassa")
    await admin.call("PATCH", f"/api/services/{service['id']}", {"hold_minutes": 1})
    late = f"myohassa-{service['id']}@example.fi"
    async with aiohttp.ClientSession(base_url=kota_server.base) as http:
        times = await (await http.get(f"/api/book/{service['slug']}/times")).json()
        first = next(t["starts_at"] for d in times["days"] for t in d["times"])

        async def hold(contact: str, name: str) -> int:
            resp = await http.post(f"/api/book/{service['slug']}/holds", json={
                "starts_at": first, "display_name": name, "contact": contact,
                "language": "fi"})
            return resp.status

        assert await hold(late, "Hanna Magga") == 201
        mail = await wait_for_mail(mail_inbox, late, "the confirmation e-mail",
                                   lambda m: bool(links_in(m, "/book/confirm")))
        # The hold runs out (its time is free again at once); then another family takes
        # the time. A real minute is not waited for: the hold's end is moved into the
        # past in the database file, as if its minute had passed.
        db_path = kota_server.data_dir / "kota.sqlite3"

        def run_out() -> None:
            with sqlite3.connect(db_path, timeout=30) as conn:
                conn.execute("UPDATE bookings SET hold_expires_at = '2000-01-01T00:00:00Z'"
                             " WHERE contact = ? AND state = 'held'", (late,))

        await asyncio.to_thread(run_out)

        async def free_again() -> bool:
            week = await (await http.get(f"/api/book/{service['slug']}/times")).json()
            return any(t["starts_at"] == first for d in week["days"] for t in d["times"])

        await wait_until(free_again, timeout=10, what="the held time to be free again")
        assert await hold(f"ehti-{service['id']}@example.fi", "Ehti Ensin") == 201

    family = await open_page(SIZES["phone"], name="family")
    await family.goto(links_in(mail, "/book/confirm")[0])
    await expect(family.locator("#problem-title")).to_have_text(texts["book.expired_title"])
    back = family.locator("[data-action=book-again]")
    assert await back.get_attribute("href") == f"/book/{service['slug']}"
    await check_page(family, "booking-expired-fi", ("phone", "tablet-portrait"))


_FOCUS = """() => {
  const el = document.activeElement;
  const style = getComputedStyle(el);
  return { id: el.id, action: el.dataset.action || null,
           time: el.classList.contains("time-button"),
           ring: style.outlineStyle !== "none" && parseFloat(style.outlineWidth) >= 2 };
}"""


async def tab_until(page: Page, wanted: Callable[[dict[str, Any]], bool], what: str) -> None:
    """Tab until ``wanted`` holds for the focused element; every stop shows the ring."""
    for _ in range(20):
        await page.keyboard.press("Tab")
        focused: dict[str, Any] = await page.evaluate(_FOCUS)
        assert focused["ring"], f"no visible focus on the way to {what}: {focused}"
        if wanted(focused):
            return
    raise AssertionError(f"{what} is not reachable with Tab")


async def test_a_family_books_with_the_keyboard_only(
    open_page: OpenPage, staff_api: StaffLogin
) -> None:
    texts = load("fi")
    service = await booking_service(await staff_api("admin"), "nappaimisto")
    family = await open_page(SIZES["tablet-portrait"], name="family")
    await family.goto(f"/book/{service['slug']}")
    await family.locator(".free-day .time-button").first.wait_for()
    await tab_until(family, lambda f: bool(f["time"]), "a time")
    await family.keyboard.press("Enter")
    # The details step takes the focus to its heading, so reading starts there.
    await expect(family.locator("#details-title")).to_be_focused()
    await tab_until(family, lambda f: f["id"] == "b-name", "the name")
    await family.keyboard.type("Niila Aikio")
    await tab_until(family, lambda f: f["id"] == "b-contact", "the contact")
    await family.keyboard.type(f"nappaimisto-{service['id']}@example.fi")
    await tab_until(family, lambda f: f["action"] == "book", "Book this time")
    await family.keyboard.press("Enter")
    await expect(family.locator(".booking-sent h1")).to_have_text(texts["book.sent_email_title"])

"""A family books a time from the public page (North Sámi on a phone, Finnish on a
tablet), confirms it from the link in the e-mail it gets, joins the call from the
invitation's link and is let in, then moves the booking and cancels it from the manage
link; each change sends its e-mail. Real SMTP (the session's inbox), real Chromium."""

from __future__ import annotations

from datetime import datetime

import aiohttp
import pytest
from playwright.async_api import Page, expect

from tests.e2e.booking_steps import (
    BOOKING_STAFF,
    StaffLogin,
    booking_service,
    calendar_method,
    calendar_start,
    check_page,
    links_in,
    wait_for_mail,
)
from tests.e2e.date_texts import assert_no_date_fallback
from tests.e2e.flows import OpenPage, admit, family_to_waiting_room
from tests.e2e.kota_server import KotaProcess
from tests.e2e.page_checks import SIZES, TABLET_LANDSCAPE, assert_remote_videos_play
from tests.mail_inbox import MailInbox
from tests.test_locales import load

pytestmark = pytest.mark.asyncio(loop_scope="session")

FAMILY = {"se": "Máret Somby", "fi": "Maija Virtanen"}


async def choose_language(page: Page, code: str) -> None:
    if await page.evaluate("() => document.documentElement.lang") != code:
        await page.select_option("#language-select", code)
    await page.wait_for_function(f"() => document.documentElement.lang === '{code}'")


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

    # The booking page: the service, its free times by day, big buttons.
    family = await open_page(SIZES[size], name="family")
    await family.goto(f"/book/{service['slug']}")
    await choose_language(family, code)
    await expect(family.locator("#service-title")).to_have_text(service["name"])
    first = family.locator(".free-day .time-button").first
    await first.wait_for()
    starts_at = await first.get_attribute("data-starts-at")
    assert starts_at
    await assert_no_date_fallback(family, code, "the free times")
    await check_page(family, f"booking-times-{code}")

    # Who is booking.
    await first.click()
    await expect(family.locator("#details-title")).to_have_text(texts["book.details_title"])
    await family.locator("#b-name").fill(name)
    await family.locator("#b-contact").fill(address)
    await family.locator("#b-topic").fill("Nukkumaanmeno ja ruutuaika")
    await check_page(family, f"booking-details-{code}")
    await family.locator("[data-action=book]").click()

    # Held until confirmed: the page names where the link went and until when.
    sent = family.locator(".booking-sent")
    await expect(sent.locator("h1")).to_have_text(texts["book.sent_email_title"])
    hint = f"{address[0]}…@example.fi"
    await expect(sent.locator(".lead")).to_have_text(texts["book.sent_email"].replace(
        "{contact}", hint))
    assert address not in await sent.inner_text()
    await check_page(family, f"booking-sent-{code}")

    # The confirmation e-mail, and the page at its link.
    confirm = await wait_for_mail(mail_inbox, address, "the confirmation e-mail",
                                  lambda m: bool(links_in(m, "/book/confirm")))
    await family.goto(links_in(confirm, "/book/confirm")[0])
    await expect(family.locator("#booked-title")).to_have_text(texts["book.booked_title"])
    assert family.url.endswith("/book/confirm"), "the token stays in the address bar"
    assert await family.locator('meta[name="referrer"]').get_attribute("content") == "no-referrer"
    await assert_no_date_fallback(family, code, "the booked page")
    manage_url = await family.locator("[data-action=manage]").get_attribute("href")
    assert manage_url and "/book/manage#" in manage_url
    await check_page(family, f"booking-confirmed-{code}")

    # The invitation with the join link; the family joins and is let in.
    invitation = await wait_for_mail(mail_inbox, address, "the invitation",
                                     lambda m: bool(links_in(m, "/join")))
    assert calendar_method(invitation) == "REQUEST"
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
    await check_page(family, f"booking-manage-{code}")
    await family.locator("[data-action=move]").click()
    later = family.locator(".move-times .free-day .time-button").first
    await later.wait_for()
    moved_to = await later.get_attribute("data-starts-at")
    assert moved_to and moved_to != starts_at
    await later.click()
    await family.locator("dialog .button.primary").click()
    await expect(manage.locator(".notice.success")).to_have_text(texts["book.manage.moved"])
    await check_page(family, f"booking-moved-{code}")
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
    await check_page(family, f"booking-cancelled-{code}")
    await wait_for_mail(mail_inbox, address, "the cancellation e-mail",
                        lambda m: calendar_method(m) == "CANCEL")


async def test_a_time_taken_meanwhile_offers_the_next_free_times(
    open_page: OpenPage, staff_api: StaffLogin, kota_server: KotaProcess
) -> None:
    texts = load("fi")
    service = await booking_service(await staff_api("admin"), "kiire")
    family = await open_page(SIZES["tablet-portrait"], name="family")
    await family.goto(f"/book/{service['slug']}")
    first = family.locator(".free-day .time-button").first
    await first.wait_for()
    starts_at = await first.get_attribute("data-starts-at")
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
    await check_page(family, "booking-not-found-fi")

    await family.goto("/book/confirm")
    await expect(family.locator("#problem-title")).to_have_text(texts["book.no_token_title"])

    await family.goto("/book/manage#not.a.token")
    await expect(family.locator("#problem-title")).to_have_text(
        texts["book.manage.failed_title"])
    assert family.url.endswith("/book/manage")
    await check_page(family, "booking-manage-broken-fi")

"""The staff pages for messages, bookings and calendars, in Chromium against a real Kota
that sends its e-mail to a real SMTP server on loopback (``mail_inbox``): choosing e-mail
for a person, the status line once it is sent, a refused address and the resend button;
text messages through a real signed-webhook adapter (a Kota of its own); the family's
booking topic; and the calendar address page whose URL returns the feed."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import aiohttp
import pytest
from icalendar import Calendar
from playwright.async_api import Locator, Page, expect

from tests.conftest import wait_until
from tests.e2e.booking_steps import BOOKING_STAFF, booking_service, links_in
from tests.e2e.flows import OpenPage
from tests.e2e.kota_server import KotaProcess, StaffApi
from tests.e2e.page_checks import PHONE, ROOT, TABLET_PORTRAIT, assert_accessible, screenshots
from tests.mail_inbox import MailInbox
from tests.server.messaging import SmsReceiver

pytestmark = pytest.mark.asyncio(loop_scope="session")

HELSINKI = ZoneInfo("Europe/Helsinki")
SIZES = ("tablet-portrait", "phone")
SIZE_OF = {"tablet-portrait": TABLET_PORTRAIT, "phone": PHONE}
SignIn = Callable[[str], Awaitable[StaffApi]]


async def check_both_sizes(page: Page, what: str) -> None:
    """axe finds nothing serious at tablet-portrait and at phone size."""
    await assert_accessible(page, f"{what} (tablet)")
    await page.set_viewport_size(PHONE)
    await assert_accessible(page, f"{what} (phone)")
    await page.set_viewport_size(TABLET_PORTRAIT)


async def shots(page: Page, name: str, subject: Locator) -> None:
    """Screenshots at tablet-portrait and phone size, each scrolled to ``subject``."""
    for size in SIZES:
        await page.set_viewport_size(SIZE_OF[size])
        await subject.scroll_into_view_if_needed()
        await screenshots(page, name, (size,))
    await page.set_viewport_size(TABLET_PORTRAIT)



def form_start(kota: KotaProcess) -> datetime:
    """A free start (Helsinki time) whose half hour ends the same day: the form takes one
    date, and late in the evening the next free slot would end after midnight."""
    while True:
        start = kota.next_start().astimezone(HELSINKI)
        if (start + timedelta(minutes=30)).date() == start.date():
            return start

async def test_staff_send_the_link_by_email_and_see_it_sent(
    open_page: OpenPage, kota_server: KotaProcess, mail_inbox: MailInbox
) -> None:
    page = await open_page(TABLET_PORTRAIT, staff="marja", name="staff")
    start = form_start(kota_server)
    await page.goto(f"/staff#/new?date={start.date().isoformat()}")
    await page.locator("#p-name-1").fill("Maija Virtanen")
    # Only the channels the server sends on, and by hand.
    choices = page.locator(".participant-row .delivery-choice input[type=radio]")
    await expect(choices).to_have_count(2)
    await expect(page.locator("#p-1-delivery-manual")).to_be_checked()
    await expect(page.locator("label[for=p-1-contact]")).to_have_text(
        "Yhteystieto (vapaaehtoinen, vain työntekijöille)")
    await page.locator("label[for=p-1-delivery-email]").click()
    await expect(page.locator("label[for=p-1-contact]")).to_have_text("Sähköpostiosoite")
    await expect(page.locator("#p-1-contact")).to_have_attribute("type", "email")
    await page.locator("#f-date").fill(start.date().isoformat())
    await page.locator("#f-start").fill(start.strftime("%H:%M"))
    await page.locator("#f-end").fill((start + timedelta(minutes=30)).strftime("%H:%M"))

    # The server's refusal of the contact shows next to the field.
    await page.locator(".form button[type=submit]").click()
    error = page.locator("#p-1-contact-error")
    await expect(error).to_be_visible()
    await expect(error).to_have_text("Anna sähköpostiosoite tai puhelinnumero, johon linkki "
                                     "lähetetään.")
    await page.locator("#p-1-contact").fill("maija.virtanen@perhe.test")
    await expect(error).to_be_hidden()
    await check_both_sizes(page, "the appointment form with e-mail chosen")
    await shots(page, "33-staff-send-by-email", page.locator(".participant-row .delivery"))
    await page.locator(".form button[type=submit]").click()

    mail = await mail_inbox.wait_for(
        lambda m: "maija.virtanen@perhe.test" in m.recipients, what="Maija's invitation")
    assert "/join#" in mail.text
    maija = page.locator(".participants .person", has_text="Maija Virtanen")
    sent = maija.locator(".message-line.sent")
    await expect(sent.first).to_contain_text("Kutsu lähetetty sähköpostilla", timeout=30_000)
    await expect(sent.first).to_contain_text(" klo ")
    await expect(maija.locator(".resend-message")).to_have_count(0)
    await check_both_sizes(page, "the appointment with an e-mail sent")
    await shots(page, "34-staff-invitation-sent", maija)


async def test_a_refused_address_shows_and_the_resend_button_sends_again(
    open_page: OpenPage, staff_api: SignIn, mail_inbox: MailInbox
) -> None:
    marja = await staff_api("marja")
    appointment = await marja.appointment(("Opettaja Outi", "school_staff"))
    page = await open_page(TABLET_PORTRAIT, staff="marja", name="staff")
    await page.goto(f"/staff#/appointment/{appointment.id}")
    address = "ville.virtanen@perhe.test"
    mail_inbox.handler.refuse_with = "550 5.1.1 no such user"
    try:
        await page.locator("#new-name").fill("Ville Virtanen")
        await page.locator("label[for=new-delivery-email]").click()
        await page.locator("#new-contact").fill(address)
        await page.locator(".add-participant button[type=submit]").click()
        ville = page.locator(".participants .person", has_text="Ville Virtanen")
        failed = ville.locator(".message-line.problem")
        await expect(failed).to_have_text(
            "Sähköpostia henkilölle Ville Virtanen ei saatu perille", timeout=30_000)
        resend = ville.locator(".resend-message")
        await expect(resend).to_be_visible()
        await check_both_sizes(page, "the appointment with a refused e-mail")
        await shots(page, "35-staff-email-not-delivered", resend)
    finally:
        mail_inbox.handler.refuse_with = None
    before = len(mail_inbox.to(address))
    # A double click sends once. Both clicks land on the button itself: Playwright's dblclick
    # aims at a point, and once the first click's reload has redrawn the list, its second click
    # would land on whatever is drawn there now.
    await resend.evaluate("button => { button.click(); button.click(); }")
    await mail_inbox.wait_for(lambda m: address in m.recipients, what="the resent invitation")
    ville = page.locator(".participants .person", has_text="Ville Virtanen")
    await expect(ville.locator(".message-line.sent")).to_contain_text(
        "Kutsu lähetetty sähköpostilla", timeout=30_000)
    await expect(ville.locator(".resend-message")).to_have_count(0)
    await expect(page.locator(".card > .notice")).to_contain_text("Ville Virtanen")
    assert len(mail_inbox.to(address)) == before + 1


async def test_the_calendar_page_makes_an_address_that_returns_the_feed(
    open_page: OpenPage, staff_api: SignIn, kota_server: KotaProcess
) -> None:
    sanna = await staff_api("sanna")
    appointment = await sanna.appointment(("Maija Virtanen", "guardian"))
    page = await open_page(TABLET_PORTRAIT, staff="sanna", name="staff",
                           permissions=["clipboard-read", "clipboard-write"])
    await page.goto("/staff")
    await page.locator(".staff-nav a[href='#/calendar']").click()
    await expect(page.locator("#feed-title")).to_be_visible()
    await expect(page.locator(".feed-status")).to_have_text(
        "Sinulla ei ole vielä kalenteriosoitetta.")
    await check_both_sizes(page, "the calendar page")
    await page.locator(".make-feed").click()
    url_field = page.locator("#feed-url")
    await expect(url_field).to_be_visible()
    webcal = await url_field.input_value()
    https_url = await page.locator("#feed-https-url").input_value()
    assert webcal.startswith("webcal://") and webcal.endswith(".ics")
    assert https_url == f"{kota_server.base}/calendar/{webcal.rsplit('/', 1)[1]}"
    await expect(page.locator(".feed-status")).to_contain_text("käytössä")
    await page.locator(".copy-feed").first.click()
    assert await page.evaluate("() => navigator.clipboard.readText()") == webcal
    await check_both_sizes(page, "the calendar page with a new address")
    await shots(page, "36-staff-calendar-address", page.locator(".feed-fresh"))

    # The address is the feed, with no cookie: that professional's appointment is in it.
    async with aiohttp.ClientSession() as anyone:
        async with anyone.get(https_url) as resp:
            assert resp.status == 200
            assert resp.headers["Content-Type"] == "text/calendar; charset=utf-8"
            calendar = Calendar.from_ical(await resp.read())
        urls = [str(e["url"]) for e in calendar.walk("VEVENT")]
        assert f"{kota_server.base}/staff#/appointment/{appointment.id}" in urls
        assert "Maija" not in (await (await anyone.get(https_url)).text())

        # Stopping it: the same URL answers 404.
        await page.locator(".revoke-feed").click()
        await page.locator("dialog button[value=ok]").click()
        await expect(page.locator(".feed-status")).to_have_text(
            "Sinulla ei ole vielä kalenteriosoitetta.")
        await expect(page.locator("#feed-url")).to_have_count(0)
        async with anyone.get(https_url) as gone:
            assert gone.status == 404


async def test_a_text_message_choice_checks_the_number_and_sends(
    open_page: OpenPage, sms_kota: tuple[KotaProcess, SmsReceiver]
) -> None:
    kota, receiver = sms_kota
    page = await open_page(TABLET_PORTRAIT, staff="sanna", name="staff", server=kota)
    start = form_start(kota)
    await page.goto(f"/staff#/new?date={start.date().isoformat()}")
    await page.locator("#p-name-1").fill("Maija Virtanen")
    await expect(page.locator(".participant-row .delivery-choice input[type=radio]")) \
        .to_have_count(3)
    await page.locator("label[for=p-1-delivery-sms]").click()
    contact = page.locator("#p-1-contact")
    await expect(page.locator("label[for=p-1-contact]")).to_have_text("Puhelinnumero")
    await expect(contact).to_have_attribute("type", "tel")
    await page.locator("#f-date").fill(start.date().isoformat())
    await page.locator("#f-start").fill(start.strftime("%H:%M"))
    await page.locator("#f-end").fill((start + timedelta(minutes=30)).strftime("%H:%M"))
    await contact.fill("12")
    await page.locator(".form button[type=submit]").click()
    error = page.locator("#p-1-contact-error")
    await expect(error).to_contain_text("Tämä ei ole puhelinnumero")
    await expect(contact).to_have_attribute("aria-invalid", "true")
    await expect(contact).to_be_focused()

    # The same form in North Sámi: every new text changes.
    se = json.loads((ROOT / "web" / "locales" / "se.json").read_text("utf-8"))
    await page.locator("#language-select").select_option("se")
    await expect(page.locator(".delivery-choice legend")).to_have_text(se["delivery.legend"])
    await expect(page.locator("label[for=p-1-delivery-sms]")).to_have_text(se["delivery.sms"])
    await expect(page.locator("label[for=p-1-contact]")).to_have_text(se["delivery.sms_label"])
    await check_both_sizes(page, "the form with a text message chosen, in North Sámi")
    await shots(page, "37-staff-send-by-sms-north-sami", page.locator(".participant-row .delivery"))
    await page.locator("#language-select").select_option("fi")

    await contact.fill("040 123 4567")
    await expect(error).to_be_hidden()
    await page.locator(".form button[type=submit]").click()
    await wait_until(lambda: any(r.body["to"] == "+358401234567" for r in receiver.accepted),
                     timeout=30, what="the text message at the adapter")
    maija = page.locator(".participants .person", has_text="Maija Virtanen")
    await expect(maija.locator(".message-line.sent").first).to_contain_text(
        "Kutsu lähetetty tekstiviestinä", timeout=30_000)
    await expect(maija.locator(".person-meta")).to_contain_text("+358401234567")


async def test_staff_see_the_service_and_the_topic_the_family_gave(
    open_page: OpenPage, staff_api: SignIn, mail_inbox: MailInbox
) -> None:
    service = await booking_service(await staff_api("admin"), "aihe")
    address = f"aihe-{service['id']}@perhe.test"
    topic = "Nukkumaanmeno ja ruutuaika"
    base = (await staff_api(BOOKING_STAFF[0])).kota.base
    async with aiohttp.ClientSession(base_url=base) as family:
        times = await (await family.get(f"/api/book/{service['slug']}/times")).json()
        starts_at = next(t["starts_at"] for d in times["days"] for t in d["times"])
        held = await family.post(f"/api/book/{service['slug']}/holds", json={
            "starts_at": starts_at, "display_name": "Perhe Aihe", "contact": address,
            "language": "fi", "topic": topic})
        assert held.status == 201, await held.text()
        confirm = await mail_inbox.wait_for(
            lambda m: address in m.recipients and bool(links_in(m, "/book/confirm")),
            timeout=60, what="the confirmation e-mail")
        token = links_in(confirm, "/book/confirm")[0].split("#", 1)[1]
        confirmed = await family.post("/api/book/confirm", json={"token": token})
        assert confirmed.status == 200, await confirmed.text()
    liisa = await staff_api(BOOKING_STAFF[0])
    listed = await liisa.call("GET", f"/api/appointments?date={starts_at[:10]}")
    appointment_id = next(a["id"] for a in listed["appointments"]
                          if any(p["display_name"] == "Perhe Aihe" for p in a["participants"]))

    page = await open_page(TABLET_PORTRAIT, staff=BOOKING_STAFF[0], name="staff")
    await page.goto(f"/staff#/appointment/{appointment_id}")
    booking = page.locator(".booking-info")
    await expect(booking.locator("h2")).to_have_text("Perhe varasi ajan itse")
    await expect(booking.locator("dd").first).to_have_text(service["name"])
    await expect(booking.locator(".booking-topic")).to_have_text(topic)
    await check_both_sizes(page, "an appointment the family booked")
    await shots(page, "38-staff-family-booked-topic", booking)

    # A colleague outside the appointment sees none of it.
    other = await open_page(TABLET_PORTRAIT, staff="pekka", name="colleague")
    await other.goto(f"/staff#/appointment/{appointment_id}")
    await expect(other.locator(".card .notice.error")).to_be_visible()
    assert topic not in await other.content()


async def test_staff_change_a_person_from_by_hand_to_email_and_the_invitation_goes(
    open_page: OpenPage, staff_api: SignIn, mail_inbox: MailInbox
) -> None:
    marja = await staff_api("marja")
    appointment = await marja.appointment(("Liisa Laine", "guardian"))
    page = await open_page(TABLET_PORTRAIT, staff="marja", name="staff")
    await page.goto(f"/staff#/appointment/{appointment.id}")
    liisa = page.locator(".participants .person", has_text="Liisa Laine")
    change = liisa.locator(".change-delivery")
    await expect(change).to_have_text("Muuta, miten linkki menee")
    await change.click()
    await expect(change).to_have_attribute("aria-expanded", "true")
    form = liisa.locator(".delivery-edit")
    pid = appointment.participant_id("Liisa Laine")
    await expect(form.locator(f"#p{pid}-delivery-manual")).to_be_checked()
    await form.locator(f"label[for=p{pid}-delivery-email]").click()
    await form.locator(f"#p{pid}-contact").fill("ei osoite")
    await form.locator("button[type=submit]").click()
    await expect(form.locator(f"#p{pid}-contact-error")).to_be_visible()
    address = "liisa.laine@perhe.test"
    await form.locator(f"#p{pid}-contact").fill(address)
    await check_both_sizes(page, "changing how a person's link goes")
    await shots(page, "39-staff-change-delivery", form)
    await form.locator("button[type=submit]").dblclick()  # a double click changes once
    mail = await mail_inbox.wait_for(lambda m: address in m.recipients, what="the invitation")
    assert "/join#" in mail.text
    liisa = page.locator(".participants .person", has_text="Liisa Laine")
    await expect(liisa.locator(".message-line.sent")).to_contain_text(
        "Kutsu lähetetty sähköpostilla", timeout=30_000)
    await expect(liisa.locator(".delivery-edit")).to_have_count(0)
    await expect(page.locator(".card > .notice")).to_contain_text("Liisa Laine")
    assert len(mail_inbox.to(address)) == 1

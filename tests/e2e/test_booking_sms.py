"""A family books with a phone number (North Sámi, on a phone): the confirm link comes as
a text message to a real HTTP adapter that checks Kota's signature, the family opens the
link from that message's body, and the invitation's text message, with its short join
link, takes the family into the waiting room. Real Chromium, real ``kota run``."""

from __future__ import annotations

import re

import pytest
from playwright.async_api import Page, expect

from server.sms_segments import SmsEncoding, sms_size
from tests.conftest import wait_until
from tests.e2e.booking_steps import a_free_time, booking_service, check_page, choose_language
from tests.e2e.flows import OpenPage, family_to_waiting_room
from tests.e2e.kota_server import KotaProcess, StaffApi
from tests.e2e.page_checks import PHONE
from tests.server.messaging import SmsReceiver, SmsRequest
from tests.test_locales import load

pytestmark = pytest.mark.asyncio(loop_scope="session")

NAME = "Máret Ánne Sara"
NUMBER = "+358407654321"
SMS_MAX_SEGMENTS = 3


async def text_message(receiver: SmsReceiver, path: str, what: str) -> tuple[SmsRequest, str]:
    """The first text message to NUMBER with a link to ``path``, and that link, as the
    adapter received it (its signature checked)."""
    pattern = re.compile(rf"https?://\S+{re.escape(path)}#[A-Za-z0-9_-]+")

    def found() -> SmsRequest | None:
        return next((sms for sms in receiver.accepted if sms.body["to"] == NUMBER
                     and pattern.search(sms.body["text"])), None)
    await wait_until(lambda: found() is not None, timeout=60, what=what)
    sms = found()
    assert sms is not None
    match = pattern.search(sms.body["text"])
    assert match is not None
    return sms, match.group(0)


def assert_fits(sms: SmsRequest) -> None:
    size = sms_size(sms.body["text"])
    assert size.encoding is SmsEncoding.UCS2, sms.body["text"]  # North Sámi letters
    assert size.segments <= SMS_MAX_SEGMENTS, (size, sms.body["text"])


async def test_a_family_books_with_a_phone_number_and_confirms_from_the_text_message(
    open_page: OpenPage, sms_kota: tuple[KotaProcess, SmsReceiver]
) -> None:
    kota, receiver = sms_kota
    texts = load("se")
    async with StaffApi(kota, "admin") as admin:
        service = await booking_service(admin, "perhe-sms")

    family: Page = await open_page(PHONE, name="family", server=kota)
    await family.goto(f"/book/{service['slug']}")
    await choose_language(family, "se")
    first = await a_free_time(family)
    await first.click()
    await family.locator("#b-name").fill(NAME)
    # Kota here sends both e-mail and text messages: the field takes either.
    await expect(family.locator("label[for=b-contact]")).to_have_text(texts["book.contact"])
    await family.locator("#b-contact").fill("040 765 4321")
    await family.locator("[data-action=book]").click()

    sent = family.locator(".booking-sent")
    await expect(sent.locator("h1")).to_have_text(texts["book.sent_sms_title"])
    await expect(sent.locator(".lead")).to_have_text(
        texts["book.sent_sms"].replace("{contact}", "…321"))
    assert NUMBER not in await sent.inner_text()
    await check_page(family, "booking-sent-sms-se", ("phone", "tablet-portrait"))

    # The confirm link, from the text message's body as the adapter got it.
    confirm, confirm_link = await text_message(receiver, "/book/confirm", "the confirm SMS")
    assert confirm.body["language"] == "se"
    assert receiver.bad_signatures == 0
    assert_fits(confirm)
    await family.goto(confirm_link)
    await expect(family.locator("#booked-title")).to_have_text(texts["book.booked_title"])
    assert family.url.endswith("/book/confirm"), "the token leaves the address bar"
    await check_page(family, "booking-confirmed-sms-se", ("phone", "tablet-portrait"))

    # The invitation follows by text message too; its short join link opens the call.
    invitation, join_link = await text_message(receiver, "/join", "the invitation SMS")
    assert_fits(invitation)
    assert NAME in invitation.body["text"]
    # The short token opens the page (POST /api/join) and the call socket's hello.
    await family_to_waiting_room(family, join_link)
    assert family.url.endswith("/join"), "the token leaves the address bar"
    assert receiver.bad_signatures == 0

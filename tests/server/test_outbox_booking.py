"""A family's own booking by e-mail through the real SMTP inbox: the confirm message
carries the confirm link and the service, the invitation after confirming carries the
join and manage links, and a hold that ran out is never confirmed by a late message."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import aiohttp
import pytest
from aiohttp.test_utils import TestServer

from server.app_keys import DB, OUTBOX
from server.settings import Settings
from tests.conftest import Accounts, wait_until
from tests.mail_inbox import MailInbox
from tests.server.booking_helpers import hold, local, open_service
from tests.server.conftest import Clock, SignIn
from tests.server.messaging import KIND_WORDS, MAIJA_EMAIL, everything_in, messaging_settings


@pytest.fixture
def inbox() -> Iterator[MailInbox]:
    with MailInbox() as box:
        yield box


@pytest.fixture
def settings(tmp_path: Path, inbox: MailInbox) -> Settings:
    return messaging_settings(tmp_path, inbox, KOTA_REMINDER_OFFSETS="")


def fragment_link(text: str, path: str) -> str:
    start = text.index(path)
    return text[start:].split()[0].split('"')[0]


async def test_confirm_then_invitation_with_the_service_and_the_manage_link(
    kota: TestServer, staff_client: SignIn, accounts: Accounts, clock: Clock,
    family: aiohttp.ClientSession, inbox: MailInbox,
) -> None:
    await open_service(staff_client, accounts, clock)
    status, body = await hold(family, local(5, 10), kind="family_counselling")
    assert status == 201, body
    await wait_until(lambda: bool(inbox.to(MAIJA_EMAIL)), 15, "the confirm message")
    [confirm] = inbox.to(MAIJA_EMAIL)
    assert confirm.attachment("text/calendar") is None
    text = confirm.text
    assert "Perheneuvola, Inari" in text
    confirm_url = fragment_link(text, "/book/confirm#")
    token = confirm_url.split("#", 1)[1]
    resp = await family.post("/api/book/confirm", json={"token": token})
    assert resp.status == 200, await resp.text()
    await wait_until(lambda: len(inbox.to(MAIJA_EMAIL)) == 2, 15, "the invitation")
    invitation = inbox.to(MAIJA_EMAIL)[1]
    assert invitation.attachment("text/calendar") is not None
    assert "/join#" in invitation.text and "/book/manage#" in invitation.text
    assert "Perheneuvola, Inari" in invitation.text
    for mail in (confirm, invitation):
        everything = everything_in(mail)
        for word in (*KIND_WORDS, "family_counselling", "perheneuvonta"):
            assert word not in everything, word


async def test_a_confirm_message_found_after_the_hold_ran_out_is_withdrawn(
    kota: TestServer, staff_client: SignIn, accounts: Accounts, clock: Clock,
    family: aiohttp.ClientSession, inbox: MailInbox,
) -> None:
    await open_service(staff_client, accounts, clock)
    inbox.handler.refuse_with = "451 4.3.0 try later"
    status, _ = await hold(family, local(5, 10), kind="family_counselling")
    assert status == 201
    await wait_until(lambda: inbox.handler.data_started.is_set(), 15, "the first attempt")
    inbox.handler.refuse_with = None
    outbox = kota.app[OUTBOX]
    await outbox.run_once(clock() + timedelta(minutes=11))  # the 10-minute hold is over
    assert inbox.to(MAIJA_EMAIL) == []
    [message] = await kota.app[DB].list_messages(booking_id=1)
    assert (message.state.value, message.last_error) == ("withdrawn", "hold_expired")

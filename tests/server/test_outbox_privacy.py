"""Sending messages logs ids and codes only: no address, number, name, text or link,
even at DEBUG (aiosmtplib and aiohttp's client included)."""

from __future__ import annotations

import io
import json
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from aiohttp.test_utils import TestServer

from server.settings import Settings
from tests.conftest import StaffClient, wait_until
from tests.mail_inbox import MailInbox
from tests.server.conftest import SignIn, book
from tests.server.messaging import MAIJA_EMAIL, SmsReceiver, messaging_settings


@pytest.fixture
def inbox() -> Iterator[MailInbox]:
    with MailInbox() as box:
        yield box


@pytest.fixture
async def adapter() -> AsyncIterator[SmsReceiver]:
    receiver = SmsReceiver()
    await receiver.start()
    yield receiver
    await receiver.stop()


@pytest.fixture
def settings(tmp_path: Path, inbox: MailInbox, adapter: SmsReceiver) -> Settings:
    return messaging_settings(tmp_path, inbox, adapter)


async def test_sending_logs_no_address_number_name_or_link(
    server_log: io.StringIO, kota: TestServer, staff_client: SignIn,
    inbox: MailInbox, adapter: SmsReceiver,
) -> None:
    sanna: StaffClient = await staff_client("sanna")
    inbox.handler.refuse_with = "550 5.1.1 no such user"
    await book(sanna, participants=[
        {"display_name": "Maija Virtanen", "role": "guardian", "contact": MAIJA_EMAIL,
         "delivery": "email"},
        {"display_name": "Matti Virtanen", "role": "child", "contact": "040 765 4321",
         "delivery": "sms"}])
    await wait_until(lambda: bool(adapter.accepted), 15, "the text message")
    await wait_until(lambda: '"outbox.failed"' in server_log.getvalue(), 15, "the failure")
    text = adapter.accepted[0].body["text"]
    # Kota's lines only: the test's own SMTP server (aiosmtpd, "mail.log") runs in this
    # process and logs its side of the conversation.
    logged = "\n".join(line for line in server_log.getvalue().splitlines()
                       if json.loads(line)["logger"] != "mail.log")
    events = [json.loads(line)["event"] for line in logged.splitlines()]
    assert "outbox.sent" in events and "outbox.failed" in events
    link = text[text.index("http"):].split()[0]
    for secret in (MAIJA_EMAIL, "maija", "Virtanen", "+358407654321", "407654321",
                   link, link.split("#")[1], text):
        assert secret not in logged, secret

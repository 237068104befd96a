"""MailSender against real SMTP servers on loopback (aiosmtpd): which answers fail a
message at once and which are tried again."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from email.message import EmailMessage
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session

from server.mail_sender import MailSender
from server.send_failure import SendFailure
from tests.conftest import free_port
from tests.server.messaging import messaging_settings


class RefusingRecipient:
    def __init__(self, answer: str) -> None:
        self.answer = answer

    async def handle_RCPT(self, server: SMTP, session: Session, envelope: Envelope,
                          address: str, options: list[str]) -> str:
        return self.answer


@pytest.fixture
def refusing(request: pytest.FixtureRequest) -> Iterator[int]:
    port = free_port()
    controller = Controller(RefusingRecipient(request.param), hostname="127.0.0.1", port=port)
    controller.start()
    yield port
    controller.stop()


def sender(tmp_path: Path, port: int, **env: str) -> MailSender:
    settings = messaging_settings(tmp_path, None, None, KOTA_SMTP_HOST="127.0.0.1",
                                  KOTA_SMTP_PORT=str(port), KOTA_SMTP_SECURITY="none",
                                  KOTA_SMTP_FROM="kota@kota.test", **env)
    return MailSender(settings)


def message() -> EmailMessage:
    mail = EmailMessage()
    mail["From"] = "kota@kota.test"
    mail["To"] = "maija@example.fi"
    mail["Subject"] = "Kota"
    mail.set_content("Hei")
    return mail


async def failure(send: MailSender) -> SendFailure:
    with pytest.raises(SendFailure) as caught:
        await send.send(message(), "maija@example.fi")
    return caught.value


@pytest.mark.parametrize("refusing", ["550 5.1.1 no such user"], indirect=True)
async def test_an_unknown_recipient_fails_at_once(tmp_path: Path, refusing: int) -> None:
    found = await failure(sender(tmp_path, refusing))
    assert (found.code, found.permanent) == ("smtp_550", True)


@pytest.mark.parametrize("refusing", ["450 4.2.1 mailbox busy"], indirect=True)
async def test_a_busy_mailbox_is_tried_again(tmp_path: Path, refusing: int) -> None:
    found = await failure(sender(tmp_path, refusing))
    assert (found.code, found.permanent) == ("smtp_450", False)


async def test_no_server_is_tried_again(tmp_path: Path) -> None:
    found = await failure(sender(tmp_path, free_port()))
    assert (found.code, found.permanent) == ("smtp_unreachable", False)


async def test_a_server_that_hangs_up_is_tried_again(tmp_path: Path) -> None:
    async def hang_up(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.close()

    server = await asyncio.start_server(hang_up, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        found = await failure(sender(tmp_path, port))
    finally:
        server.close()
        await server.wait_closed()
    assert not found.permanent and found.code.startswith("smtp_")


@pytest.mark.parametrize("refusing", ["250 OK"], indirect=True)
async def test_auth_that_the_server_does_not_offer_fails_at_once(
    tmp_path: Path, refusing: int
) -> None:
    password = tmp_path / "smtp.password"
    password.write_text("hunter2")
    password.chmod(0o600)
    send = sender(tmp_path, refusing, KOTA_SMTP_USER="kota",
                  KOTA_SMTP_PASSWORD_FILE=str(password))
    found = await failure(send)
    assert (found.code, found.permanent) == ("smtp_no_auth", True)

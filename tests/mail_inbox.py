"""A real SMTP server on loopback (aiosmtpd) that keeps every message it accepts.

Runs in its own thread (aiosmtpd's Controller), so the Kota under test, in this process
or a subprocess, talks real SMTP to it. Tests read the parsed messages.
"""

from __future__ import annotations

import asyncio
import email
import email.policy
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from email.message import EmailMessage

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session

from tests.conftest import free_port, wait_until


@dataclass
class Received:
    sender: str
    recipients: list[str]
    message: EmailMessage

    @property
    def text(self) -> str:
        part = self.message.get_body(preferencelist=("plain",))
        return "" if part is None else str(part.get_content())

    def attachment(self, content_type: str) -> bytes | None:
        for part in self.message.walk():
            if part.get_content_type() == content_type:
                payload = part.get_payload(decode=True)
                return payload if isinstance(payload, bytes) else None
        return None


@dataclass
class _Handler:
    received: list[Received] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    # A test may set this to answer the next DATA with an SMTP error, e.g. "550 no such user".
    refuse_with: str | None = None
    # A test may hold DATA here (an Event it sets later) to catch a sender mid-send.
    hold: threading.Event | None = None
    data_started: threading.Event = field(default_factory=threading.Event)

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        self.data_started.set()
        if self.hold is not None:
            await asyncio.to_thread(self.hold.wait)
        if self.refuse_with is not None:
            return self.refuse_with
        raw = envelope.original_content or envelope.content
        assert isinstance(raw, bytes)
        parsed = email.message_from_bytes(raw, policy=email.policy.default)
        assert isinstance(parsed, EmailMessage)
        with self.lock:
            self.received.append(Received(
                str(envelope.mail_from), [str(r) for r in envelope.rcpt_tos], parsed
            ))
        return "250 OK"


class MailInbox:
    """``with MailInbox() as inbox:`` then point KOTA_SMTP_HOST/PORT at ``inbox.port``."""

    def __init__(self) -> None:
        self.handler = _Handler()
        self._port = free_port()
        self._controller = Controller(self.handler, hostname="127.0.0.1", port=self._port)

    def __enter__(self) -> MailInbox:
        self._controller.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self.handler.hold is not None:
            self.handler.hold.set()
        self._controller.stop()

    @property
    def port(self) -> int:
        return self._port

    def env(self) -> dict[str, str]:
        """Settings for a Kota that sends through this inbox (no TLS on loopback)."""
        return {
            "KOTA_SMTP_HOST": "127.0.0.1",
            "KOTA_SMTP_PORT": str(self.port),
            "KOTA_SMTP_SECURITY": "none",
            "KOTA_SMTP_FROM": "Kota <kota@kota.test>",
        }

    @property
    def messages(self) -> list[Received]:
        with self.handler.lock:
            return list(self.handler.received)

    def to(self, address: str) -> list[Received]:
        return [m for m in self.messages if address in m.recipients]

    async def wait_for(
        self, predicate: Callable[[Received], bool], timeout: float = 15.0,  # noqa: ASYNC109
        what: str = "an e-mail",
    ) -> Received:
        found: list[Received] = []

        def arrived() -> bool:
            found[:] = [m for m in self.messages if predicate(m)]
            return bool(found)

        await wait_until(arrived, timeout, what)
        return found[0]

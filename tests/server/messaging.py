"""Helpers for the message tests: a real SMS adapter on loopback that checks Kota's
signature, settings that send to it and to a real SMTP inbox, and readers for what
arrived."""

from __future__ import annotations

import hashlib
import hmac
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiohttp import web

from server.settings import Settings, load_settings
from tests.conftest import free_port
from tests.mail_inbox import MailInbox, Received

SMS_SECRET = b"0123456789abcdef-kota-sms-test-key"
MAIJA_EMAIL = "maija@example.fi"
MAIJA_PHONE = "+358401234567"

# Every way the appointment's kind could be named, in the four languages and as codes.
KIND_WORDS = (
    "child_protection", "child protection", "lastensuojelu", "barnskydd",
    "mánáidsuodjalus", "manaidsuodjalus", "specialist", "school_meeting",
    "family_counselling", "protection",
)


@dataclass
class SmsRequest:
    body: dict[str, Any]
    headers: dict[str, str]


@dataclass
class SmsReceiver:
    """An SMS adapter: verifies ``X-Kota-Signature`` as docs/messages.md tells adapters to,
    answers each request with the next of ``answers`` (then 200), and keeps the bodies."""

    secret: bytes = SMS_SECRET
    answers: list[int] = field(default_factory=list)
    attempts: list[SmsRequest] = field(default_factory=list)
    accepted: list[SmsRequest] = field(default_factory=list)
    bad_signatures: int = 0
    port: int = field(default_factory=free_port)
    _runner: web.AppRunner | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/sms"

    async def _handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        timestamp = request.headers.get("X-Kota-Timestamp", "")
        given = request.headers.get("X-Kota-Signature", "")
        expected = "sha256=" + hmac.new(self.secret, timestamp.encode() + b"." + body,
                                        hashlib.sha256).hexdigest()
        if not hmac.compare_digest(given, expected):
            self.bad_signatures += 1
            return web.json_response({"error": "bad signature"}, status=401)
        sms = SmsRequest(json.loads(body), dict(request.headers))
        self.attempts.append(sms)
        status = self.answers.pop(0) if self.answers else 200
        if 200 <= status <= 299:
            self.accepted.append(sms)
        return web.json_response({}, status=status)

    async def start(self) -> None:
        app = web.Application()
        app.router.add_post("/sms", self._handle)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", self.port).start()

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()


def secret_file(tmp_path: Path, value: bytes = SMS_SECRET) -> Path:
    path = tmp_path / "sms.secret"
    path.write_bytes(value)
    path.chmod(0o600)
    return path


def messaging_env(tmp_path: Path, inbox: MailInbox | None = None,
                  sms: SmsReceiver | None = None) -> dict[str, str]:
    env: dict[str, str] = {}
    if inbox is not None:
        env |= inbox.env()
    if sms is not None:
        env |= {"KOTA_SMS_WEBHOOK_URL": sms.url,
                "KOTA_SMS_SECRET_FILE": str(secret_file(tmp_path, sms.secret))}
    return env


def messaging_settings(tmp_path: Path, inbox: MailInbox | None = None,
                       sms: SmsReceiver | None = None, **extra: str) -> Settings:
    port = free_port()
    return load_settings({
        "KOTA_DATA_DIR": str(tmp_path / "data"),
        "KOTA_PORT": str(port),
        "KOTA_PUBLIC_URL": f"http://127.0.0.1:{port}",
        **messaging_env(tmp_path, inbox, sms),
        **extra,
    })


_MESSAGE_ID = re.compile(r"<kota-outbox-(\d+)@[^>]+>")


def outbox_id(mail: Received) -> int:
    """The outbox row an e-mail came from, read from its Message-ID."""
    match = _MESSAGE_ID.fullmatch(str(mail.message["Message-ID"]).strip())
    assert match, mail.message["Message-ID"]
    return int(match.group(1))


def everything_in(mail: Received) -> str:
    """Every header and text part, the HTML and the decoded .ics, lower-cased."""
    parts = [str(value) for value in mail.message.values()]
    for part in mail.message.walk():
        if part.is_multipart():
            continue
        payload = part.get_payload(decode=True)
        if isinstance(payload, bytes):
            parts.append(payload.decode("utf-8", errors="replace"))
    return "\n".join(parts).lower()


def messages_of(appointment: dict[str, Any], index: int = 0) -> list[dict[str, Any]]:
    messages: list[dict[str, Any]] = appointment["participants"][index]["messages"]
    return messages

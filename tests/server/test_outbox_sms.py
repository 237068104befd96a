"""Text messages through a real HTTP adapter on loopback that checks Kota's signature:
the JSON body and headers, retries with back-off, permanent refusals."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestServer

from server.app_keys import DB, OUTBOX
from server.settings import Settings
from server.sms_gateway import SmsGateway, signature
from server.sms_segments import SmsEncoding, sms_size
from tests.conftest import StaffClient, wait_until
from tests.server.conftest import Clock, SignIn, book, copy_link, link_path
from tests.server.messaging import (
    KIND_WORDS,
    MAIJA_PHONE,
    SmsReceiver,
    messages_of,
    messaging_settings,
)


@pytest.fixture
async def adapter() -> AsyncIterator[SmsReceiver]:
    receiver = SmsReceiver()
    await receiver.start()
    yield receiver
    await receiver.stop()


@pytest.fixture
def settings(tmp_path: Path, adapter: SmsReceiver) -> Settings:
    return messaging_settings(tmp_path, sms=adapter, KOTA_OUTBOX_RETRY_SECONDS="30",
                              KOTA_OUTBOX_MAX_ATTEMPTS="3", KOTA_REMINDER_OFFSETS="")


@pytest.fixture
async def sanna(staff_client: SignIn) -> StaffClient:
    return await staff_client("sanna")


def by_sms(**fields: Any) -> dict[str, Any]:
    return {"display_name": "Maija Virtanen", "role": "guardian", "contact": "040 123 4567",
            "delivery": "sms", "language": "sv", **fields}


async def message(client: StaffClient, appointment_id: int) -> dict[str, Any]:
    resp = await client.get(f"/api/appointments/{appointment_id}")
    found: dict[str, Any] = messages_of(await resp.json())[0]
    return found


async def test_the_invitation_is_a_signed_json_post(
    kota: TestServer, sanna: StaffClient, adapter: SmsReceiver
) -> None:
    made = await book(sanna, kind="child_protection", participants=[by_sms()])
    assert made["participants"][0]["contact"] == MAIJA_PHONE
    await wait_until(lambda: bool(adapter.accepted), 15, "the text message")
    [sms] = adapter.accepted
    row_id = messages_of(made)[0]["id"]
    assert set(sms.body) == {"id", "to", "text", "language"}
    assert sms.body["id"] == f"kota-outbox-{row_id}"
    assert sms.body["to"] == MAIJA_PHONE and sms.body["language"] == "sv"
    assert sms.headers["Idempotency-Key"] == f"kota-outbox-{row_id}"
    assert sms.headers["X-Kota-Timestamp"].isdigit()
    assert "/join#" in sms.body["text"]
    for word in KIND_WORDS:
        assert word not in sms.body["text"].lower(), word
    assert adapter.bad_signatures == 0

    async def sent() -> bool:
        return bool((await message(sanna, made["id"]))["state"] == "sent")
    await wait_until(sent, 10, "the state to be sent")


async def test_the_north_sami_sms_carries_a_short_link_that_opens_the_appointment(
    kota: TestServer, sanna: StaffClient, adapter: SmsReceiver,
    family: aiohttp.ClientSession
) -> None:
    """The SMS carries the join link's short form (docs/messages.md, "Short links"): the
    North Sámi text (UCS-2) fits in three segments, and the link opens the call like the
    long one, until it is renewed; an altered one opens nothing."""
    made = await book(sanna, participants=[by_sms(display_name="Máret Ánne Sara",
                                                  language="se")])
    await wait_until(lambda: bool(adapter.accepted), 15, "the text message")
    text = adapter.accepted[0].body["text"]
    size = sms_size(text)
    assert size.encoding is SmsEncoding.UCS2 and size.segments <= 3, (size, text)
    [token] = re.findall(r"/join#([A-Za-z0-9_-]+)", text)
    assert len(token) == 38 and token != await copy_link(sanna, made)

    async def join(token: str) -> tuple[int, dict[str, Any]]:
        async with family.post("/api/join", json={"token": token}) as resp:
            return resp.status, await resp.json()
    status, body = await join(token)
    assert status == 200, body
    assert body["participant"]["display_name"] == "Máret Ánne Sara"
    altered = token[:-1] + ("A" if token[-1] != "A" else "B")
    assert (await join(altered))[1]["error"]["code"] == "token_invalid"
    other_id = ("A" if token[0] != "A" else "B") + token[1:]
    assert (await join(other_id))[1]["error"]["code"] == "token_invalid"
    # A new link for the participant stops the old short one, as it stops the long one.
    resp = await sanna.post(link_path(made))
    assert resp.status in (200, 201), await resp.text()
    status, body = await join(token)
    assert status == 401 and body["error"]["code"] == "link_revoked", body


async def test_503_then_200_is_retried_after_the_back_off(
    kota: TestServer, sanna: StaffClient, adapter: SmsReceiver, clock: Clock
) -> None:
    adapter.answers = [503]
    made = await book(sanna, participants=[by_sms()])

    async def refused_once() -> bool:
        found = await message(sanna, made["id"])
        return bool(found["state"] == "pending" and found["attempts"] == 1)
    await wait_until(refused_once, 15, "the first attempt to be refused")
    first = await message(sanna, made["id"])
    assert first["last_error"] == "gateway_503"
    outbox = kota.app[OUTBOX]
    now = clock()
    assert await outbox.run_once(now + timedelta(seconds=25)) == 0
    assert len(adapter.attempts) == 1
    assert await outbox.run_once(now + timedelta(seconds=31)) == 1
    found = await message(sanna, made["id"])
    assert found["state"] == "sent" and found["attempts"] == 2
    assert len(adapter.accepted) == 1
    # The same request both times: an adapter can drop a repeat by its key.
    assert adapter.attempts[0].body == adapter.attempts[1].body


async def test_the_back_off_doubles_and_the_last_attempt_fails(
    kota: TestServer, sanna: StaffClient, adapter: SmsReceiver, clock: Clock
) -> None:
    adapter.answers = [429, 500, 502]  # three attempts (KOTA_OUTBOX_MAX_ATTEMPTS=3)
    made = await book(sanna, participants=[by_sms()])
    outbox = kota.app[OUTBOX]

    async def attempts(n: int) -> bool:
        return bool((await message(sanna, made["id"]))["attempts"] == n)
    await wait_until(lambda: attempts(1), 15, "the first attempt")
    now = clock()
    assert await outbox.run_once(now + timedelta(seconds=31)) == 1  # after 30 s
    assert (await message(sanna, made["id"]))["last_error"] == "gateway_500"
    assert await outbox.run_once(now + timedelta(seconds=31 + 59)) == 0  # 60 s not over
    assert await outbox.run_once(now + timedelta(seconds=31 + 61)) == 1
    found = await message(sanna, made["id"])
    assert found["state"] == "failed" and found["last_error"] == "gateway_502"
    assert found["attempts"] == 3 and adapter.accepted == []
    rows = await kota.app[DB].list_audit_rows_for_appointment(made["id"], ["message.failed"])
    assert len(rows) == 1 and '"error":"gateway_502"' in rows[0].detail


@pytest.mark.parametrize("status", [400, 404, 410, 422])
async def test_a_4xx_fails_at_once(
    kota: TestServer, sanna: StaffClient, adapter: SmsReceiver, status: int
) -> None:
    adapter.answers = [status]
    made = await book(sanna, participants=[by_sms()])

    async def failed() -> bool:
        return bool((await message(sanna, made["id"]))["state"] == "failed")
    await wait_until(failed, 15, "the message to fail")
    found = await message(sanna, made["id"])
    assert found["last_error"] == f"gateway_{status}" and found["attempts"] == 1


async def test_an_unreachable_adapter_is_retried(
    kota: TestServer, sanna: StaffClient, adapter: SmsReceiver
) -> None:
    await adapter.stop()
    made = await book(sanna, participants=[by_sms()])

    async def refused() -> bool:
        # ``attempts`` counts from the claim, while the row is still ``sending``: wait for
        # the attempt's end (the next one is 30 s later).
        found = await message(sanna, made["id"])
        return bool(found["attempts"] == 1 and found["state"] != "sending")
    await wait_until(refused, 15, "the first attempt to end")
    found = await message(sanna, made["id"])
    assert found["state"] == "pending" and found["last_error"] == "gateway_unreachable"
    assert found["attempts"] == 1


def test_signature_is_hmac_sha256_over_timestamp_dot_body() -> None:
    gateway = SmsGateway("https://sms.example.fi/kota", b"k" * 32)
    body, headers = gateway.request(7, "+358401234567", "Hei", "fi",
                                    datetime(2026, 12, 1, 8, 0, tzinfo=UTC))
    assert headers["X-Kota-Timestamp"] == "1796112000"
    assert headers["X-Kota-Signature"] == signature(b"k" * 32, "1796112000", body)
    assert body == (b'{"id":"kota-outbox-7","to":"+358401234567","text":"Hei",'
                    b'"language":"fi"}')

"""``kota run`` killed with SIGKILL while an e-mail is mid-send: the SMTP server holds the
message's DATA, Kota is killed, and after the restart the row is ``unconfirmed``, staff
see it, nothing is sent again by itself, and a resend goes out exactly once."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from server.settings import Settings
from tests.conftest import Accounts, StaffClient, wait_until
from tests.mail_inbox import MailInbox
from tests.server.conftest import appointment_body, hours_ahead
from tests.server.kota_run import kota_run
from tests.server.messaging import MAIJA_EMAIL, messaging_env, messaging_settings, outbox_id

OTHER = "other@example.fi"


@pytest.fixture
def inbox() -> Iterator[MailInbox]:
    with MailInbox() as box:
        yield box


@pytest.fixture
def settings(tmp_path: Path, inbox: MailInbox) -> Settings:
    return messaging_settings(tmp_path, inbox)


def by_email(contact: str) -> dict[str, Any]:
    return {"display_name": "Maija", "role": "guardian", "contact": contact,
            "delivery": "email"}


async def create(client: StaffClient, contact: str, hours: float) -> dict[str, Any]:
    resp = await client.post("/api/appointments", json=appointment_body(
        hours_ahead(hours), participants=[by_email(contact)]))
    body: dict[str, Any] = await resp.json()
    assert resp.status == 201, body
    return body


async def messages(client: StaffClient, appointment_id: int) -> list[dict[str, Any]]:
    body = await (await client.get(f"/api/appointments/{appointment_id}")).json()
    found: list[dict[str, Any]] = body["participants"][0]["messages"]
    return found


def usage_log(settings: Settings, action: str) -> list[str]:
    with sqlite3.connect(settings.db_path) as conn:
        rows = conn.execute("SELECT detail FROM audit_log WHERE action = ?", (action,))
        return [row[0] for row in rows]


async def test_a_message_cut_by_sigkill_is_unconfirmed_and_resent_only_by_staff(
    settings: Settings, accounts: Accounts, inbox: MailInbox, tmp_path: Path
) -> None:
    env = messaging_env(tmp_path, inbox) | {"KOTA_REMINDER_OFFSETS": ""}
    inbox.handler.hold = threading.Event()
    client = StaffClient(settings.public_url)
    try:
        async with kota_run(settings, tmp_path, None, **env) as first:
            assert (await client.login("sanna")).status == 201
            made = await create(client, MAIJA_EMAIL, 3)
            await wait_until(inbox.handler.data_started.is_set, 20, "Kota to send DATA")
            first.process.kill()  # SIGKILL: no shutdown code runs
            await first.process.wait()
        inbox.handler.hold.set()  # the SMTP server may or may not have kept it
        inbox.handler.hold = None

        async with kota_run(settings, tmp_path, None, **env):
            [cut] = await messages(client, made["id"])
            assert cut["state"] == "unconfirmed" and cut["last_error"] == "interrupted"
            assert cut["attempts"] == 1
            unconfirmed = usage_log(settings, "message.unconfirmed")
            assert len(unconfirmed) == 1 and f'"message":{cut["id"]}' in unconfirmed[0]
            # The worker runs (a new invitation goes out) and leaves the cut one alone.
            other = await create(client, OTHER, 5)
            await wait_until(lambda: bool(inbox.to(OTHER)), 20, "the next invitation")
            before = len(inbox.to(MAIJA_EMAIL))
            assert before <= 1
            assert [m["state"] for m in await messages(client, made["id"])] == ["unconfirmed"]

            pid = made["participants"][0]["id"]
            resp = await client.post(
                f"/api/appointments/{made['id']}/participants/{pid}/messages")
            assert resp.status == 201, await resp.text()
            resent = (await resp.json())["message"]
            await wait_until(lambda: len(inbox.to(MAIJA_EMAIL)) == before + 1, 20,
                             "the resent invitation")
            assert outbox_id(inbox.to(MAIJA_EMAIL)[-1]) == resent["id"]

            async def settled() -> bool:
                states = [m["state"] for m in await messages(client, made["id"])]
                return states == ["unconfirmed", "sent"]
            await wait_until(settled, 20, "the resend to be sent")
            assert len(usage_log(settings, "message.resent")) == 1
            assert len(inbox.to(OTHER)) == 1 and other["id"]
        assert len(inbox.to(MAIJA_EMAIL)) == before + 1
    finally:
        await client.close()

"""What the worker decides at send time, from the appointment as it is then."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestServer

from server.app_keys import DB, OUTBOX
from server.settings import Settings
from tests.conftest import StaffClient, assert_error, wait_until
from tests.mail_inbox import MailInbox
from tests.server.conftest import Clock, SignIn, book, hours_ahead
from tests.server.messaging import MAIJA_EMAIL, messages_of, messaging_settings


@pytest.fixture
def inbox() -> Iterator[MailInbox]:
    with MailInbox() as box:
        yield box


@pytest.fixture
def settings(tmp_path: Path, inbox: MailInbox) -> Settings:
    return messaging_settings(tmp_path, inbox, KOTA_REMINDER_OFFSETS="2h")


@pytest.fixture
async def sanna(staff_client: SignIn) -> StaffClient:
    return await staff_client("sanna")


MAIJA = {"display_name": "Maija", "role": "guardian", "contact": MAIJA_EMAIL,
         "delivery": "email"}


async def states(client: StaffClient, appointment_id: int) -> list[tuple[str, str, Any]]:
    body = await (await client.get(f"/api/appointments/{appointment_id}")).json()
    return [(m["purpose"], m["state"], m["last_error"]) for m in messages_of(body)]


async def sent_invitation(client: StaffClient, inbox: MailInbox) -> dict[str, Any]:
    made = await book(client, start=hours_ahead(5), participants=[MAIJA])
    await wait_until(lambda: bool(inbox.to(MAIJA_EMAIL)), 15, "the invitation")
    return made


async def test_a_reminder_without_an_active_link_fails_and_resend_asks_for_a_link(
    kota: TestServer, sanna: StaffClient, inbox: MailInbox, clock: Clock
) -> None:
    made = await sent_invitation(sanna, inbox)
    pid = made["participants"][0]["id"]
    assert (await sanna.delete(f"/api/appointments/{made['id']}/participants/{pid}/link"
                               )).status == 204
    await kota.app[OUTBOX].run_once(clock() + timedelta(hours=3, minutes=1))
    assert (await states(sanna, made["id"]))[-1] == ("reminder", "failed", "link_not_active")
    resp = await sanna.post(f"/api/appointments/{made['id']}/participants/{pid}/messages")
    await assert_error(resp, 409, "link_not_active")
    # A new link, then the resend goes.
    assert (await sanna.post(f"/api/appointments/{made['id']}/participants/{pid}/link"
                             )).status in (200, 201)
    clock.advance(minutes=1)
    resp = await sanna.post(f"/api/appointments/{made['id']}/participants/{pid}/messages")
    assert resp.status == 201
    await wait_until(lambda: len(inbox.to(MAIJA_EMAIL)) == 2, 15, "the resent invitation")


async def test_a_reminder_is_withdrawn_if_the_appointment_was_cancelled_meanwhile(
    kota: TestServer, sanna: StaffClient, inbox: MailInbox, clock: Clock
) -> None:
    """The cancel and the claim can cross: the worker checks again before it sends."""
    made = await sent_invitation(sanna, inbox)
    async with kota.app[DB].transaction() as tx:  # a cancel the plan did not see
        await tx.cancel_appointment(made["id"], clock())
    assert await kota.app[OUTBOX].run_once(clock() + timedelta(hours=3, minutes=1)) == 1
    assert (await states(sanna, made["id"]))[-1] == (
        "reminder", "withdrawn", "appointment_cancelled")
    assert len(inbox.to(MAIJA_EMAIL)) == 1


async def test_a_reminder_is_withdrawn_if_the_person_was_removed_meanwhile(
    kota: TestServer, sanna: StaffClient, inbox: MailInbox, clock: Clock
) -> None:
    made = await sent_invitation(sanna, inbox)
    pid = made["participants"][0]["id"]
    async with kota.app[DB].transaction() as tx:
        await tx.remove_participant(pid, clock())
    assert await kota.app[OUTBOX].run_once(clock() + timedelta(hours=3, minutes=1)) == 1
    rows = await kota.app[DB].list_messages(participant_id=pid)
    assert [m.state.value for m in rows] == ["sent", "withdrawn"]
    assert len(inbox.to(MAIJA_EMAIL)) == 1


async def test_the_login_answer_says_which_deliveries_are_on(
    kota: TestServer, staff_client: SignIn
) -> None:
    client = StaffClient(str(kota.make_url("")).rstrip("/"))
    try:
        resp = await client.login("sanna")
        assert (await resp.json())["messaging"] == {"email": True, "sms": False}
    finally:
        await client.close()

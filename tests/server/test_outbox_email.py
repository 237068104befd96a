"""E-mail through a real SMTP server on loopback (aiosmtpd): the invitation, its updates
and its cancellation, parsed back (MIME and the .ics with icalendar); failures that
staff see; the resend button; many appointments made at once."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from aiohttp.test_utils import TestServer
from icalendar import Calendar

from server.app import create_app
from server.app_keys import DB, OUTBOX
from server.settings import Settings
from tests.conftest import Accounts, StaffClient, assert_error, wait_until
from tests.mail_inbox import MailInbox, Received
from tests.server.conftest import Clock, SignIn, appointment_body, book, hours_ahead
from tests.server.messaging import (
    KIND_WORDS,
    MAIJA_EMAIL,
    everything_in,
    messages_of,
    messaging_settings,
    outbox_id,
)

HELSINKI = ZoneInfo("Europe/Helsinki")


@pytest.fixture
def inbox() -> Iterator[MailInbox]:
    with MailInbox() as box:
        yield box


@pytest.fixture
def settings(tmp_path: Path, inbox: MailInbox) -> Settings:
    return messaging_settings(tmp_path, inbox, KOTA_OUTBOX_RETRY_SECONDS="30",
                              KOTA_REMINDER_OFFSETS="")


@pytest.fixture
async def sanna(staff_client: SignIn) -> StaffClient:
    return await staff_client("sanna")


def by_email(contact: str = MAIJA_EMAIL, **fields: Any) -> dict[str, Any]:
    return {"display_name": "Maija Virtanen", "role": "guardian", "contact": contact,
            "delivery": "email", "language": "fi", **fields}


async def get(client: StaffClient, appointment_id: int) -> dict[str, Any]:
    resp = await client.get(f"/api/appointments/{appointment_id}")
    body: dict[str, Any] = await resp.json()
    assert resp.status == 200, body
    return body


def calendar_of(mail: Received) -> Calendar:
    raw = mail.attachment("text/calendar")
    assert raw is not None, "no text/calendar part"
    return Calendar.from_ical(raw)


def event_of(mail: Received) -> Any:
    events = calendar_of(mail).walk("VEVENT")
    assert len(events) == 1
    return events[0]


async def arrived(inbox: MailInbox, count: int, address: str = MAIJA_EMAIL) -> list[Received]:
    await wait_until(lambda: len(inbox.to(address)) >= count, 15, f"{count} e-mails")
    return inbox.to(address)


async def test_invitation_arrives_with_a_calendar_file_that_never_names_the_kind(
    kota: TestServer, sanna: StaffClient, inbox: MailInbox, accounts: Accounts
) -> None:
    start = hours_ahead(30).replace(minute=0)
    made = await book(sanna, start=start, kind="child_protection", participants=[by_email()])
    [mail] = await arrived(inbox, 1)
    assert mail.recipients == [MAIJA_EMAIL]
    assert str(mail.message["From"]) == "Kota <kota@kota.test>"
    assert outbox_id(mail) == messages_of(made)[0]["id"]
    calendar = calendar_of(mail)
    assert str(calendar["METHOD"]) == "REQUEST"
    event = event_of(mail)
    pid = made["participants"][0]["id"]
    assert str(event["UID"]) == f"appointment-{made['id']}-participant-{pid}@127.0.0.1"
    assert int(event["SEQUENCE"]) == 0
    assert event.decoded("DTSTART") == start
    assert event.decoded("DTSTART").tzinfo.key == "Europe/Helsinki"
    assert event.decoded("DTEND") == start + timedelta(minutes=45)
    zones = [str(z["TZID"]) for z in calendar.walk("VTIMEZONE")]
    assert zones == ["Europe/Helsinki"]
    text = everything_in(mail)
    for word in KIND_WORDS:
        assert word not in text, word
    # The state staff see, and the usage log: codes and ids only.
    async def sent() -> bool:
        return bool(messages_of(await get(sanna, made["id"]))[0]["state"] == "sent")
    await wait_until(sent, 10, "the invitation's state to be sent")
    message = messages_of(await get(sanna, made["id"]))[0]
    assert message["purpose"] == "invitation" and message["channel"] == "email"
    assert message["attempts"] == 1 and message["last_error"] is None
    assert message["sent_at"] is not None
    rows = await kota.app[DB].list_audit_rows_for_appointment(made["id"], ["message.sent"])
    assert len(rows) == 1 and rows[0].actor_kind == "system" and rows[0].subject_id == pid
    assert MAIJA_EMAIL not in rows[0].detail and "invitation" in rows[0].detail


async def test_after_k_moves_the_update_has_sequence_k_and_the_same_uid(
    kota: TestServer, sanna: StaffClient, inbox: MailInbox
) -> None:
    start = hours_ahead(30).replace(minute=0)
    made = await book(sanna, start=start, participants=[by_email()])
    await arrived(inbox, 1)
    for k in range(1, 4):
        new_start = start + timedelta(hours=k)
        resp = await sanna.patch(f"/api/appointments/{made['id']}", json={
            "starts_at": new_start.isoformat(),
            "ends_at": (new_start + timedelta(minutes=45)).isoformat()})
        assert resp.status == 200, await resp.text()
        mails = await arrived(inbox, k + 1)
        update = max(mails, key=outbox_id)
        event = event_of(update)
        assert int(event["SEQUENCE"]) == k
        assert str(calendar_of(update)["METHOD"]) == "REQUEST"
        assert event.decoded("DTSTART") == new_start
    uids = {str(event_of(m)["UID"]) for m in inbox.to(MAIJA_EMAIL)}
    assert len(uids) == 1
    purposes = [m["purpose"] for m in messages_of(await get(sanna, made["id"]))]
    assert purposes == ["invitation", "update", "update", "update"]


async def test_cancel_sends_method_cancel_with_the_next_sequence(
    kota: TestServer, sanna: StaffClient, inbox: MailInbox
) -> None:
    made = await book(sanna, participants=[by_email()])
    [invitation] = await arrived(inbox, 1)
    resp = await sanna.post(f"/api/appointments/{made['id']}/cancel")
    assert resp.status == 200
    mails = await arrived(inbox, 2)
    cancel = max(mails, key=outbox_id)
    assert str(calendar_of(cancel)["METHOD"]) == "CANCEL"
    assert str(event_of(cancel)["UID"]) == str(event_of(invitation)["UID"])
    assert int(event_of(cancel)["SEQUENCE"]) == 1
    assert str(event_of(cancel)["STATUS"]) == "CANCELLED"


async def test_removal_sends_a_cancellation_and_nothing_else(
    kota: TestServer, sanna: StaffClient, inbox: MailInbox
) -> None:
    made = await book(sanna, participants=[by_email(), by_email("matti@example.fi",
                                                                display_name="Matti")])
    await arrived(inbox, 1)
    await arrived(inbox, 1, "matti@example.fi")
    pid = made["participants"][0]["id"]
    resp = await sanna.delete(f"/api/appointments/{made['id']}/participants/{pid}")
    assert resp.status == 204
    mails = await arrived(inbox, 2)
    assert str(calendar_of(max(mails, key=outbox_id))["METHOD"]) == "CANCEL"
    assert len(inbox.to("matti@example.fi")) == 1


async def test_a_refused_address_fails_at_once_and_staff_see_it(
    kota: TestServer, sanna: StaffClient, inbox: MailInbox
) -> None:
    inbox.handler.refuse_with = "550 5.1.1 no such user"
    made = await book(sanna, participants=[by_email()])

    async def failed() -> bool:
        return bool(messages_of(await get(sanna, made["id"]))[0]["state"] == "failed")
    await wait_until(failed, 15, "the invitation to fail")
    message = messages_of(await get(sanna, made["id"]))[0]
    assert message["last_error"] == "smtp_550" and message["attempts"] == 1
    rows = await kota.app[DB].list_audit_rows_for_appointment(made["id"], ["message.failed"])
    assert len(rows) == 1 and '"error":"smtp_550"' in rows[0].detail


async def test_a_temporary_refusal_is_retried_after_the_back_off(
    kota: TestServer, sanna: StaffClient, inbox: MailInbox, clock: Clock
) -> None:
    inbox.handler.refuse_with = "451 4.3.0 try later"
    made = await book(sanna, participants=[by_email()])

    async def waiting() -> bool:
        message = messages_of(await get(sanna, made["id"]))[0]
        return bool(message["state"] == "pending" and message["attempts"] == 1)
    await wait_until(waiting, 15, "the first attempt to be refused")
    message = messages_of(await get(sanna, made["id"]))[0]
    assert message["last_error"] == "smtp_451"
    outbox = kota.app[OUTBOX]
    now = clock()
    assert await outbox.run_once(now + timedelta(seconds=20)) == 0  # not yet: 30 s back-off
    inbox.handler.refuse_with = None
    assert await outbox.run_once(now + timedelta(seconds=31)) == 1
    [mail] = await arrived(inbox, 1)
    message = messages_of(await get(sanna, made["id"]))[0]
    assert message["state"] == "sent" and message["attempts"] == 2
    assert outbox_id(mail) == message["id"]


async def test_resend_goes_once_and_a_double_click_gets_the_same_message(
    kota: TestServer, sanna: StaffClient, inbox: MailInbox, clock: Clock
) -> None:
    inbox.handler.refuse_with = "550 5.1.1 no such user"
    made = await book(sanna, participants=[by_email()])
    path = (f"/api/appointments/{made['id']}/participants/"
            f"{made['participants'][0]['id']}/messages")

    async def failed() -> bool:
        return bool(messages_of(await get(sanna, made["id"]))[0]["state"] == "failed")
    await wait_until(failed, 15, "the invitation to fail")
    inbox.handler.refuse_with = None
    first, second = await asyncio.gather(sanna.post(path), sanna.post(path))
    statuses = sorted([first.status, second.status])
    assert statuses == [200, 201], statuses
    one, two = (await first.json())["message"], (await second.json())["message"]
    assert one["id"] == two["id"] and one["purpose"] == "invitation"
    [mail] = await arrived(inbox, 1)
    assert outbox_id(mail) == one["id"]
    rows = await kota.app[DB].list_audit_rows_for_appointment(made["id"], ["message.resent"])
    assert len(rows) == 1
    # Later, once that one is sent (the mail server has it a moment before the row says
    # so, and a click while a message is under way gets that one), a new click is a new
    # message.
    async def sent() -> bool:
        return any(m["id"] == one["id"] and m["state"] == "sent"
                   for m in messages_of(await get(sanna, made["id"])))
    await wait_until(sent, 15, "the resent invitation to be marked sent")
    clock.advance(minutes=1)
    resp = await sanna.post(path)
    assert resp.status == 201
    await arrived(inbox, 2)
    await kota.app[OUTBOX].run_once(clock())
    assert len(inbox.to(MAIJA_EMAIL)) == 2


async def test_resend_refuses_a_link_given_by_hand(kota: TestServer, sanna: StaffClient) -> None:
    made = await book(sanna, participants=[{"display_name": "Maija", "role": "guardian"}])
    pid = made["participants"][0]["id"]
    resp = await sanna.post(f"/api/appointments/{made['id']}/participants/{pid}/messages")
    await assert_error(resp, 409, "no_delivery")
    assert messages_of(made) == []


async def test_resend_for_a_cancelled_appointment_is_refused(
    kota: TestServer, sanna: StaffClient, inbox: MailInbox
) -> None:
    made = await book(sanna, participants=[by_email()])
    await sanna.post(f"/api/appointments/{made['id']}/cancel")
    pid = made["participants"][0]["id"]
    resp = await sanna.post(f"/api/appointments/{made['id']}/participants/{pid}/messages")
    await assert_error(resp, 409, "appointment_cancelled")


async def test_resend_by_an_outsider_is_not_found(
    kota: TestServer, sanna: StaffClient, staff_client: SignIn
) -> None:
    made = await book(sanna, participants=[by_email()])
    olli = await staff_client("olli")
    pid = made["participants"][0]["id"]
    resp = await olli.post(f"/api/appointments/{made['id']}/participants/{pid}/messages")
    await assert_error(resp, 404, "appointment_not_found")


async def test_sms_delivery_is_refused_when_no_gateway_is_set(
    kota: TestServer, sanna: StaffClient
) -> None:
    resp = await sanna.post("/api/appointments", json=appointment_body(participants=[
        {"display_name": "Maija", "role": "guardian", "contact": "040 123 4567",
         "delivery": "sms"}]))
    await assert_error(resp, 422, "sms_not_configured")
    session = await (await sanna.get("/api/session")).json()
    assert session["messaging"] == {"email": True, "sms": False}


async def test_bad_contacts_are_refused(kota: TestServer, sanna: StaffClient) -> None:
    for contact, code in (("", "contact_required"), ("maija@", "invalid_email"),
                          ("maija@example", "invalid_email")):
        resp = await sanna.post("/api/appointments", json=appointment_body(
            participants=[by_email(contact)]))
        await assert_error(resp, 422, code)


async def test_twenty_concurrent_creates_send_twenty_invitations_once_each(
    kota: TestServer, sanna: StaffClient, inbox: MailInbox, clock: Clock
) -> None:
    base = hours_ahead(48).replace(minute=0)

    async def create(i: int) -> dict[str, Any]:
        return await book(sanna, start=base + timedelta(hours=i),
                          participants=[by_email(f"family{i}@example.fi")])

    made = await asyncio.gather(*(create(i) for i in range(20)))
    await wait_until(lambda: len(inbox.messages) >= 20, 60, "20 invitations")
    await kota.app[OUTBOX].run_once(clock())
    mails = inbox.messages
    assert len(mails) == 20
    assert sorted(m.recipients[0] for m in mails) == sorted(
        f"family{i}@example.fi" for i in range(20))
    expected = {messages_of(a)[0]["id"] for a in made}
    assert {outbox_id(m) for m in mails} == expected


async def test_starttls_is_never_skipped(tmp_path: Path, accounts: Accounts) -> None:
    """With KOTA_SMTP_SECURITY=starttls a server that does not offer it gets nothing.
    (Same data directory as ``settings``, where ``accounts`` made the staff.)"""
    with MailInbox() as plain:  # aiosmtpd without TLS: no STARTTLS in its EHLO
        settings = messaging_settings(
            tmp_path, plain, KOTA_SMTP_SECURITY="starttls", KOTA_REMINDER_OFFSETS="")
        server = TestServer(create_app(settings), host="127.0.0.1", port=settings.port)
        await server.start_server()
        client = StaffClient(str(server.make_url("")).rstrip("/"))
        try:
            assert (await client.login("sanna")).status == 201
            made = await book(client, participants=[by_email()])

            async def failed() -> bool:
                return bool(messages_of(await get(client, made["id"]))[0]["state"] == "failed")
            await wait_until(failed, 15, "the invitation to fail")
            assert messages_of(await get(client, made["id"]))[0]["last_error"] == (
                "smtp_no_starttls")
            assert plain.messages == []
        finally:
            await client.close()
            await server.close()

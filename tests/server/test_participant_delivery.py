"""Changing how an existing participant's link goes (PUT …/participants/{pid}/delivery):
by hand to e-mail sends the invitation at once through a real SMTP inbox; a new address
withdraws what was still pending to the old one; the same choice twice is one change."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestServer

from server.app_keys import DB
from server.settings import Settings
from tests.conftest import StaffClient, assert_error, wait_until
from tests.mail_inbox import MailInbox
from tests.server.conftest import SignIn, book, hours_ahead
from tests.server.messaging import MAIJA_EMAIL, messages_of, messaging_settings

OTHER_EMAIL = "maija.toinen@example.fi"


@pytest.fixture
def inbox() -> Iterator[MailInbox]:
    with MailInbox() as box:
        yield box


@pytest.fixture
def settings(tmp_path: Path, inbox: MailInbox) -> Settings:
    # Reminders 24 h before: planned, still pending while the tests look.
    return messaging_settings(tmp_path, inbox, KOTA_REMINDER_OFFSETS="24h")


@pytest.fixture
async def sanna(staff_client: SignIn) -> StaffClient:
    return await staff_client("sanna")


def by_hand() -> dict[str, Any]:
    return {"display_name": "Maija Virtanen", "role": "guardian", "language": "sv"}


def path(made: dict[str, Any]) -> str:
    return f"/api/appointments/{made['id']}/participants/{made['participants'][0]['id']}/delivery"


async def current(client: StaffClient, made: dict[str, Any]) -> dict[str, Any]:
    resp = await client.get(f"/api/appointments/{made['id']}")
    body: dict[str, Any] = await resp.json()
    return body


async def test_by_hand_to_email_sends_the_invitation_and_plans_the_reminder(
    kota: TestServer, sanna: StaffClient, inbox: MailInbox
) -> None:
    made = await book(sanna, start=hours_ahead(48), participants=[by_hand()])
    assert made["participants"][0]["delivery"] == "manual"
    resp = await sanna.put(path(made), json={"delivery": "email", "contact": " maija@Example.FI "})
    person = await resp.json()
    assert resp.status == 200, person
    assert person["delivery"] == "email" and person["contact"] == MAIJA_EMAIL
    assert [m["purpose"] for m in person["messages"]] == ["invitation", "reminder"]
    mail = await inbox.wait_for(lambda m: MAIJA_EMAIL in m.recipients)
    assert "Maija" in mail.text
    rows = await kota.app[DB].list_audit_rows_for_appointment(
        made["id"], ["participant.delivery_changed"])
    assert len(rows) == 1 and '"delivery":"email"' in rows[0].detail
    assert MAIJA_EMAIL not in rows[0].detail


async def test_a_new_address_withdraws_what_was_pending_to_the_old_one(
    sanna: StaffClient, inbox: MailInbox
) -> None:
    made = await book(sanna, start=hours_ahead(48), participants=[by_hand()])
    resp = await sanna.put(path(made), json={"delivery": "email", "contact": MAIJA_EMAIL})
    assert resp.status == 200
    await inbox.wait_for(lambda m: MAIJA_EMAIL in m.recipients)
    resp = await sanna.put(path(made), json={"delivery": "email", "contact": OTHER_EMAIL})
    assert resp.status == 200
    await inbox.wait_for(lambda m: OTHER_EMAIL in m.recipients)
    messages = messages_of(await current(sanna, made))
    states = [(m["purpose"], m["state"]) for m in messages]
    # The first reminder (to the old address) is withdrawn; the new address has its own.
    assert states[1] == ("reminder", "withdrawn"), states
    assert [p for p, s in states if s != "withdrawn"] == ["invitation", "invitation", "reminder"]


async def test_back_to_by_hand_withdraws_the_reminders_and_sends_nothing(
    sanna: StaffClient, inbox: MailInbox
) -> None:
    made = await book(sanna, start=hours_ahead(48), participants=[by_hand()])
    await sanna.put(path(made), json={"delivery": "email", "contact": MAIJA_EMAIL})
    await inbox.wait_for(lambda m: MAIJA_EMAIL in m.recipients)
    resp = await sanna.put(path(made), json={"delivery": "manual", "contact": "puhelin"})
    person = await resp.json()
    assert resp.status == 200 and person["delivery"] == "manual"
    assert [m["state"] for m in person["messages"]][1:] == ["withdrawn"]
    assert len(inbox.to(MAIJA_EMAIL)) == 1


async def test_the_same_choice_twice_at_once_is_one_change(
    kota: TestServer, sanna: StaffClient, inbox: MailInbox
) -> None:
    made = await book(sanna, start=hours_ahead(48), participants=[by_hand()])
    answers = await asyncio.gather(*(
        sanna.put(path(made), json={"delivery": "email", "contact": MAIJA_EMAIL})
        for _ in range(5)))
    assert [a.status for a in answers] == [200] * 5
    await inbox.wait_for(lambda m: MAIJA_EMAIL in m.recipients)
    messages = messages_of(await current(sanna, made))
    assert [m["purpose"] for m in messages] == ["invitation", "reminder"]
    rows = await kota.app[DB].list_audit_rows_for_appointment(
        made["id"], ["participant.delivery_changed"])
    assert len(rows) == 1

    async def one_mail() -> bool:
        return len(inbox.to(MAIJA_EMAIL)) == 1 and messages_of(
            await current(sanna, made))[0]["state"] == "sent"
    await wait_until(one_mail, 10, "the one invitation sent")


async def test_bad_input_is_refused_and_changes_nothing(sanna: StaffClient) -> None:
    made = await book(sanna, start=hours_ahead(48), participants=[by_hand()])
    url = path(made)
    await assert_error(await sanna.put(url, json={"delivery": "email"}), 422,
                       "contact_required")
    await assert_error(await sanna.put(url, json={"delivery": "email", "contact": "ei osoite"}),
                       422, "invalid_email")
    await assert_error(await sanna.put(url, json={"delivery": "sms", "contact": "+358401234567"}),
                       422, "sms_not_configured")
    await assert_error(await sanna.put(url, json={"delivery": "fax", "contact": "x"}), 422,
                       "invalid_field")
    await assert_error(await sanna.put(url, json={"delivery": "email", "contact": MAIJA_EMAIL,
                                                  "extra": 1}), 422, "invalid_field")
    resp = await sanna.put(url, data=b"{not json", headers={"Content-Type": "application/json"})
    assert resp.status == 400
    other = f"/api/appointments/{made['id']}/participants/999999/delivery"
    await assert_error(await sanna.put(other, json={"delivery": "manual"}), 404,
                       "participant_not_found")
    person = (await current(sanna, made))["participants"][0]
    assert person["delivery"] == "manual" and person["messages"] == []


async def test_a_revoked_link_must_be_renewed_first(sanna: StaffClient) -> None:
    made = await book(sanna, start=hours_ahead(48), participants=[by_hand()])
    pid = made["participants"][0]["id"]
    resp = await sanna.delete(f"/api/appointments/{made['id']}/participants/{pid}/link")
    assert resp.status == 204
    await assert_error(
        await sanna.put(path(made), json={"delivery": "email", "contact": MAIJA_EMAIL}),
        409, "link_not_active")


async def test_a_colleague_who_cannot_see_it_gets_404(
    sanna: StaffClient, staff_client: SignIn
) -> None:
    made = await book(sanna, start=hours_ahead(48), participants=[by_hand()])
    pekka = await staff_client("pekka")
    await assert_error(
        await pekka.put(path(made), json={"delivery": "email", "contact": MAIJA_EMAIL}),
        404, "appointment_not_found")

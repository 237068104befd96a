"""Reminders with an injected clock: each goes exactly once at its time, never after a
cancel, a move or a removal, and at real durations across the nights the clocks change
in Helsinki (2026-10-25 back, 2027-03-28 forward). The worker is driven with
``Outbox.run_once(now)``; the server's own worker runs on the test's clock, days before."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestServer

from server.app_keys import OUTBOX
from server.outbox import Outbox
from server.settings import Settings
from tests.conftest import StaffClient, wait_until
from tests.mail_inbox import MailInbox
from tests.server.conftest import Clock, SignIn
from tests.server.messaging import MAIJA_EMAIL, messages_of, messaging_settings, outbox_id

SECOND = timedelta(seconds=1)


@pytest.fixture
def inbox() -> Iterator[MailInbox]:
    with MailInbox() as box:
        yield box


@pytest.fixture
def settings(tmp_path: Path, inbox: MailInbox) -> Settings:
    return messaging_settings(tmp_path, inbox, KOTA_REMINDER_OFFSETS="24h,1h")


def utc(year: int, month: int, day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


class Day:
    """One test's server, signed-in worker and inbox, with the clock set first."""

    def __init__(self, kota: TestServer, sanna: StaffClient, inbox: MailInbox) -> None:
        self.kota = kota
        self.sanna = sanna
        self.inbox = inbox

    @property
    def outbox(self) -> Outbox:
        return self.kota.app[OUTBOX]

    async def book(self, starts_local: str, **participant: Any) -> dict[str, Any]:
        person = {"display_name": "Maija", "role": "guardian", "contact": MAIJA_EMAIL,
                  "delivery": "email", "language": "fi", **participant}
        resp = await self.sanna.post("/api/appointments", json={
            "starts_local": starts_local, "duration_minutes": 45, "kind": "child_protection",
            "participants": [person]})
        body: dict[str, Any] = await resp.json()
        assert resp.status == 201, body
        await wait_until(lambda: bool(self.inbox.to(person["contact"])), 15, "the invitation")
        return body

    async def get(self, appointment_id: int) -> dict[str, Any]:
        body: dict[str, Any] = await (await self.sanna.get(
            f"/api/appointments/{appointment_id}")).json()
        return body

    async def purposes_sent(self, appointment_id: int) -> list[str]:
        """What arrived for this appointment, by purpose, in the order sent."""
        rows = {m["id"]: m["purpose"]
                for p in (await self.get(appointment_id))["participants"]
                for m in p["messages"]}
        return [rows[outbox_id(m)] for m in self.inbox.messages if outbox_id(m) in rows]

    async def reminders(self, appointment_id: int) -> list[dict[str, Any]]:
        return [m for m in messages_of(await self.get(appointment_id))
                if m["purpose"] == "reminder"]


@pytest.fixture
async def day(kota: TestServer, staff_client: SignIn, inbox: MailInbox,
              request: pytest.FixtureRequest, clock: Clock) -> Day:
    clock.set(request.param)
    return Day(kota, await staff_client("sanna"), inbox)


AUTUMN = utc(2026, 10, 20, 9, 0)
SPRING = utc(2027, 3, 20, 9, 0)


@pytest.mark.parametrize("day", [AUTUMN], indirect=True)
async def test_autumn_night_reminders_are_24_and_1_real_hours_before(day: Day) -> None:
    made = await day.book("2026-10-25T10:00")  # after the clocks went back: +02:00
    assert made["starts_at"] == "2026-10-25T10:00:00+02:00"
    due = [m["due_at"] for m in await day.reminders(made["id"])]
    # 24 hours before 10.00 EET is 11.00 summer time the day before.
    assert due == ["2026-10-24T11:00:00+03:00", "2026-10-25T09:00:00+02:00"]
    assert await day.outbox.run_once(utc(2026, 10, 24, 8, 0) - SECOND) == 0
    assert await day.outbox.run_once(utc(2026, 10, 24, 8, 0)) == 1
    assert await day.outbox.run_once(utc(2026, 10, 24, 8, 30)) == 0  # exactly once
    assert await day.purposes_sent(made["id"]) == ["invitation", "reminder"]
    assert await day.outbox.run_once(utc(2026, 10, 25, 7, 0) - SECOND) == 0
    assert await day.outbox.run_once(utc(2026, 10, 25, 7, 0)) == 1
    assert await day.outbox.run_once(utc(2026, 10, 25, 7, 40)) == 0
    assert await day.purposes_sent(made["id"]) == ["invitation", "reminder", "reminder"]
    assert [m["state"] for m in await day.reminders(made["id"])] == ["sent", "sent"]
    last = day.inbox.messages[-1]
    assert last.attachment("text/calendar") is None  # a reminder changes no calendar


@pytest.mark.parametrize("day", [SPRING], indirect=True)
async def test_spring_night_reminders_are_24_and_1_real_hours_before(day: Day) -> None:
    made = await day.book("2027-03-28T10:00")  # after the clocks went forward: +03:00
    due = [m["due_at"] for m in await day.reminders(made["id"])]
    # 24 hours before 10.00 summer time is 09.00 winter time the day before.
    assert due == ["2027-03-27T09:00:00+02:00", "2027-03-28T09:00:00+03:00"]
    assert await day.outbox.run_once(utc(2027, 3, 27, 7, 0) - SECOND) == 0
    assert await day.outbox.run_once(utc(2027, 3, 27, 7, 0)) == 1
    assert await day.outbox.run_once(utc(2027, 3, 28, 6, 0) - SECOND) == 0
    assert await day.outbox.run_once(utc(2027, 3, 28, 6, 0)) == 1
    assert await day.outbox.run_once(utc(2027, 3, 28, 7, 0)) == 0
    assert await day.purposes_sent(made["id"]) == ["invitation", "reminder", "reminder"]


@pytest.mark.parametrize("day", [AUTUMN], indirect=True)
async def test_an_appointment_in_the_repeated_hour_gets_its_reminders(day: Day) -> None:
    """03.30 on the autumn night happens twice; fold 1 is the second (+02:00)."""
    resp = await day.sanna.post("/api/appointments", json={
        "starts_local": "2026-10-25T03:30", "fold": 1, "duration_minutes": 45,
        "kind": "other", "participants": [{"display_name": "Maija", "role": "guardian",
                                           "contact": MAIJA_EMAIL, "delivery": "email"}]})
    made = await resp.json()
    assert made["starts_at"] == "2026-10-25T03:30:00+02:00"
    due = [m["due_at"] for m in await day.reminders(made["id"])]
    # 1 h before the second 03.30 is the second 02.30... which is the first 03.30.
    assert due == ["2026-10-24T04:30:00+03:00", "2026-10-25T03:30:00+03:00"]


@pytest.mark.parametrize("day", [AUTUMN], indirect=True)
async def test_no_reminder_after_a_cancel(day: Day) -> None:
    made = await day.book("2026-10-23T10:00")
    resp = await day.sanna.post(f"/api/appointments/{made['id']}/cancel")
    assert resp.status == 200
    await wait_until(lambda: len(day.inbox.messages) == 2, 15, "the cancellation")
    assert [m["state"] for m in await day.reminders(made["id"])] == ["withdrawn", "withdrawn"]
    assert await day.outbox.run_once(utc(2026, 10, 23, 9, 0)) == 0
    assert await day.purposes_sent(made["id"]) == ["invitation", "cancellation"]


@pytest.mark.parametrize("day", [AUTUMN], indirect=True)
async def test_a_move_withdraws_the_old_reminders_and_plans_new_ones(day: Day) -> None:
    made = await day.book("2026-10-23T10:00")
    resp = await day.sanna.patch(f"/api/appointments/{made['id']}", json={
        "starts_local": "2026-10-27T14:00", "duration_minutes": 45})
    assert resp.status == 200, await resp.text()
    await wait_until(lambda: len(day.inbox.messages) == 2, 15, "the update")
    reminders = await day.reminders(made["id"])
    assert [(m["state"], m["due_at"]) for m in reminders] == [
        ("withdrawn", "2026-10-22T10:00:00+03:00"), ("withdrawn", "2026-10-23T09:00:00+03:00"),
        ("pending", "2026-10-26T14:00:00+02:00"), ("pending", "2026-10-27T13:00:00+02:00")]
    # The old times pass: nothing goes.
    assert await day.outbox.run_once(utc(2026, 10, 23, 7, 0)) == 0
    assert await day.outbox.run_once(utc(2026, 10, 26, 12, 0)) == 1
    assert await day.outbox.run_once(utc(2026, 10, 27, 11, 0)) == 1
    assert await day.outbox.run_once(utc(2026, 10, 27, 11, 30)) == 0
    assert await day.purposes_sent(made["id"]) == ["invitation", "update", "reminder",
                                                   "reminder"]


@pytest.mark.parametrize("day", [AUTUMN], indirect=True)
async def test_a_removal_withdraws_that_persons_reminders_only(day: Day) -> None:
    made = await day.book("2026-10-23T10:00")
    resp = await day.sanna.post(f"/api/appointments/{made['id']}/participants", json={
        "display_name": "Matti", "role": "child", "contact": "matti@example.fi",
        "delivery": "email"})
    assert resp.status == 201
    await wait_until(lambda: len(day.inbox.to("matti@example.fi")) == 1, 15, "Matti's")
    pid = made["participants"][0]["id"]
    resp = await day.sanna.delete(f"/api/appointments/{made['id']}/participants/{pid}")
    assert resp.status == 204
    await wait_until(lambda: len(day.inbox.to(MAIJA_EMAIL)) == 2, 15, "the cancellation")
    assert await day.outbox.run_once(utc(2026, 10, 22, 7, 0)) == 1
    assert await day.outbox.run_once(utc(2026, 10, 23, 6, 0)) == 1
    assert len(day.inbox.to(MAIJA_EMAIL)) == 2  # invitation and cancellation only
    assert len(day.inbox.to("matti@example.fi")) == 3  # invitation and two reminders


@pytest.mark.parametrize("day", [AUTUMN], indirect=True)
async def test_a_reminder_found_after_the_start_is_withdrawn(day: Day) -> None:
    """A server that was down through both reminder times does not send them late."""
    made = await day.book("2026-10-23T10:00")
    assert await day.outbox.run_once(utc(2026, 10, 23, 7, 5)) == 2
    states = [m["state"] for m in await day.reminders(made["id"])]
    assert states == ["withdrawn", "withdrawn"]
    assert await day.purposes_sent(made["id"]) == ["invitation"]


@pytest.mark.parametrize("day", [AUTUMN], indirect=True)
async def test_only_reminders_still_ahead_are_planned(day: Day) -> None:
    made = await day.book("2026-10-20T19:00")  # 7 h ahead: the 24 h one is already past
    due = [m["due_at"] for m in await day.reminders(made["id"])]
    assert due == ["2026-10-20T18:00:00+03:00"]

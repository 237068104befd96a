"""MessagePlan against a real database file: which rows each change writes, withdraws
and keeps (no server, no sending)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from server.db import Database, NewParticipant, Tx
from server.errors import Conflict, Unprocessable
from server.message_plan import MessagePlan
from server.records import (
    Appointment,
    AppointmentKind,
    Delivery,
    Language,
    MessagePurpose,
    MessageState,
    OutboxMessage,
    ParticipantRole,
    StaffRole,
)

NOW = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)
START = NOW + timedelta(days=3)
HOUR = timedelta(hours=1)
PLAN = MessagePlan((timedelta(hours=24), HOUR), (Delivery.EMAIL, Delivery.SMS))


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[Database]:
    database = Database(tmp_path / "kota.sqlite3")
    await database.open()
    await database.migrate()
    async with database.transaction() as tx:
        await tx.create_staff("sanna", "Sanna Aikio", StaffRole.PROFESSIONAL, "x", NOW)
    yield database
    await database.close()


EMAIL = NewParticipant("Maija", ParticipantRole.GUARDIAN, "maija@example.fi", Language.SV,
                       Delivery.EMAIL)
SMS = NewParticipant("Matti", ParticipantRole.CHILD, "+358401234567", None, Delivery.SMS)
BY_HAND = NewParticipant("Liisa", ParticipantRole.GUARDIAN, "liisa@example.fi")


async def make(tx: Tx, *people: NewParticipant, start: datetime = START) -> Appointment:
    appointment_id, ids = await tx.create_appointment(
        starts_at=start, ends_at=start + HOUR, kind=AppointmentKind.CHILD_PROTECTION,
        host_id=1, staff_ids=set(), participants=list(people), created_by=1, now=NOW)
    made = await tx.get_appointment(appointment_id)
    assert made is not None
    for participant_id in ids:
        await PLAN.participant_added(tx, made, participant_id, NOW)
    return made


def table(messages: list[OutboxMessage]) -> list[tuple[str, str, int, datetime]]:
    return [(m.purpose.value, m.state.value, m.sequence, m.due_at) for m in messages]


async def set_state(db: Database, message_id: int, state: MessageState) -> None:
    async with db.transaction() as tx:
        claimed = await tx.claim_due_message(NOW + timedelta(days=30))
        assert claimed is not None and claimed.id == message_id
        if state is not MessageState.SENDING:
            await tx.finish_message(message_id, state, NOW)


async def test_adding_plans_the_invitation_and_the_reminders(db: Database) -> None:
    async with db.transaction() as tx:
        made = await make(tx, EMAIL, SMS, BY_HAND)
        maija, matti, liisa = made.participants
        found = await tx.list_messages(participant_id=maija.id)
        assert table(found) == [("invitation", "pending", 0, NOW),
                                ("reminder", "pending", 0, START - timedelta(hours=24)),
                                ("reminder", "pending", 0, START - HOUR)]
        assert found[0].recipient == "maija@example.fi" and found[0].language is Language.SV
        sms = await tx.list_messages(participant_id=matti.id)
        assert sms[0].channel is Delivery.SMS and sms[0].language is Language.FI
        assert await tx.list_messages(participant_id=liisa.id) == []


async def test_reminders_already_past_are_not_planned(db: Database) -> None:
    async with db.transaction() as tx:
        made = await make(tx, EMAIL, start=NOW + 2 * HOUR)
        found = await tx.list_messages(participant_id=made.participants[0].id)
        assert [m.purpose for m in found] == [MessagePurpose.INVITATION, MessagePurpose.REMINDER]


async def test_a_move_before_anything_went_sends_a_fresh_invitation(db: Database) -> None:
    async with db.transaction() as tx:
        made = await make(tx, EMAIL)
        await tx.update_appointment(made.id, starts_at=START + HOUR, ends_at=START + 2 * HOUR,
                                    kind=made.kind, host_id=1, staff_ids=None, now=NOW)
        moved = await tx.get_appointment(made.id)
        assert moved is not None
        await PLAN.appointment_moved(tx, moved, NOW)
        found = await tx.list_messages(participant_id=made.participants[0].id)
        assert [(m.purpose.value, m.state.value, m.sequence) for m in found] == [
            ("invitation", "withdrawn", 0), ("reminder", "withdrawn", 0),
            ("reminder", "withdrawn", 0),
            ("invitation", "pending", 1), ("reminder", "pending", 1), ("reminder", "pending", 1)]
        assert found[3].starts_at == START + HOUR


async def test_a_move_after_the_invitation_went_sends_an_update(db: Database) -> None:
    async with db.transaction() as tx:
        made = await make(tx, EMAIL)
    await set_state(db, (await db.list_messages(appointment_id=made.id))[0].id,
                    MessageState.SENT)
    for k in (1, 2):
        async with db.transaction() as tx:
            await tx.update_appointment(made.id, starts_at=START + k * HOUR,
                                        ends_at=START + (k + 1) * HOUR, kind=made.kind,
                                        host_id=1, staff_ids=None, now=NOW)
            moved = await tx.get_appointment(made.id)
            assert moved is not None
            await PLAN.appointment_moved(tx, moved, NOW)
    found = await db.list_messages(appointment_id=made.id)
    pending = [(m.purpose.value, m.sequence) for m in found if m.state is MessageState.PENDING]
    # The first update is still pending when the second move comes: it is withdrawn.
    assert pending == [("update", 2), ("reminder", 2), ("reminder", 2)]


async def test_a_move_keeps_a_removed_persons_cancellation(db: Database) -> None:
    async with db.transaction() as tx:
        made = await make(tx, EMAIL, SMS)
    await set_state(db, (await db.list_messages(appointment_id=made.id))[0].id,
                    MessageState.SENT)
    maija = made.participants[0]
    async with db.transaction() as tx:
        await tx.remove_participant(maija.id, NOW)
        await PLAN.participant_removed(tx, made, maija.id, NOW)
        await tx.update_appointment(made.id, starts_at=START + HOUR, ends_at=START + 2 * HOUR,
                                    kind=made.kind, host_id=1, staff_ids=None, now=NOW)
        moved = await tx.get_appointment(made.id)
        assert moved is not None
        await PLAN.appointment_moved(tx, moved, NOW)
        found = await tx.list_messages(participant_id=maija.id)
    assert [(m.purpose.value, m.state.value, m.sequence) for m in found][-1] == (
        "cancellation", "pending", 1)


async def test_cancel_withdraws_and_cancels_only_those_reached(db: Database) -> None:
    async with db.transaction() as tx:
        made = await make(tx, EMAIL, SMS)
    maija_invitation = (await db.list_messages(participant_id=made.participants[0].id))[0]
    await set_state(db, maija_invitation.id, MessageState.UNCONFIRMED)
    async with db.transaction() as tx:
        await tx.cancel_appointment(made.id, NOW)
        await PLAN.appointment_cancelled(tx, made, NOW)
    maija = await db.list_messages(participant_id=made.participants[0].id)
    matti = await db.list_messages(participant_id=made.participants[1].id)
    assert [(m.purpose.value, m.state.value) for m in maija] == [
        ("invitation", "unconfirmed"), ("reminder", "withdrawn"), ("reminder", "withdrawn"),
        ("cancellation", "pending")]
    assert maija[-1].sequence == 1
    assert {m.state for m in matti} == {MessageState.WITHDRAWN}
    assert all(m.purpose is not MessagePurpose.CANCELLATION for m in matti)


async def test_a_reminder_alone_does_not_count_as_reached(db: Database) -> None:
    """Only an invitation or update puts the event in a calendar; a reminder does not."""
    async with db.transaction() as tx:
        made = await make(tx, EMAIL)
        maija = made.participants[0]
        await tx.withdraw_messages(NOW, appointment_id=made.id)
    async with db.transaction() as tx:
        await tx.remove_participant(maija.id, NOW)
        await PLAN.participant_removed(tx, made, maija.id, NOW)
        found = await tx.list_messages(participant_id=maija.id)
    assert all(m.purpose is not MessagePurpose.CANCELLATION for m in found)


async def test_resend_is_one_message_per_click(db: Database) -> None:
    async with db.transaction() as tx:
        made = await make(tx, EMAIL)
    maija = made.participants[0]
    async with db.transaction() as tx:
        message, created = await PLAN.resend(tx, made, maija, NOW)
    assert not created and message.purpose is MessagePurpose.INVITATION  # still pending
    await set_state(db, message.id, MessageState.FAILED)
    async with db.transaction() as tx:
        again, created = await PLAN.resend(tx, made, maija, NOW + timedelta(minutes=5))
    assert created and again.id != message.id and again.state is MessageState.PENDING
    assert again.sequence == maija.invite_sequence


async def test_resend_refuses_a_link_given_by_hand(db: Database) -> None:
    async with db.transaction() as tx:
        made = await make(tx, BY_HAND)
        with pytest.raises(Conflict) as caught:
            await PLAN.resend(tx, made, made.participants[0], NOW)
    assert caught.value.code == "no_delivery"


def test_a_channel_that_is_off_is_refused() -> None:
    plan = MessagePlan((), (Delivery.EMAIL,))
    plan.check_delivery(Delivery.MANUAL)
    plan.check_delivery(Delivery.EMAIL)
    with pytest.raises(Unprocessable) as caught:
        plan.check_delivery(Delivery.SMS)
    assert caught.value.code == "sms_not_configured"
    with pytest.raises(Unprocessable) as caught:
        MessagePlan(()).check_delivery(Delivery.EMAIL)
    assert caught.value.code == "email_not_configured"


async def test_planned_messages_wake_the_sender_once_after_the_commit(db: Database) -> None:
    """The sender can only see the rows once committed: woken then, once per change."""
    woken: list[int] = []
    plan = MessagePlan((HOUR,), (Delivery.EMAIL,))
    plan.on_planned = lambda: woken.append(1)
    async with db.transaction() as tx:
        appointment_id, ids = await tx.create_appointment(
            starts_at=START, ends_at=START + HOUR, kind=AppointmentKind.OTHER, host_id=1,
            staff_ids=set(), participants=[EMAIL], created_by=1, now=NOW)
        made = await tx.get_appointment(appointment_id)
        assert made is not None
        await plan.participant_added(tx, made, ids[0], NOW)  # an invitation, a reminder
        assert woken == []
    assert woken == [1]



@pytest.mark.parametrize(("outcome", "ends"), [
    (MessageState.PENDING, MessageState.WITHDRAWN),   # to be retried: never again
    (MessageState.FAILED, MessageState.WITHDRAWN),    # no failure shown for a stale message
    (MessageState.SENT, MessageState.SENT),           # it went: that is what happened
], ids=["retry", "failed", "sent"])
async def test_a_message_withdrawn_while_it_is_being_sent(
    db: Database, outcome: MessageState, ends: MessageState
) -> None:
    """The worker has claimed the invitation when the person's address changes: the
    change cannot stop the send, but the send ends withdrawn unless it succeeded."""
    async with db.transaction() as tx:
        made = await make(tx, EMAIL)
    invitation = (await db.list_messages(participant_id=made.participants[0].id))[0]
    await set_state(db, invitation.id, MessageState.SENDING)
    async with db.transaction() as tx:
        assert await tx.withdraw_messages(NOW, appointment_id=made.id) == 2  # the reminders
        written = await tx.finish_message(invitation.id, outcome, NOW,
                                          retry_at=NOW + HOUR, error="smtp_451")
    assert written is ends
    found = await db.get_message(invitation.id)
    assert found is not None and found.state is ends


async def test_a_withdrawn_send_cut_off_by_a_crash_is_not_offered_again(db: Database) -> None:
    """After a restart, an interrupted send of a message a change had withdrawn is
    withdrawn, not unconfirmed (staff would be asked to send a stale message again)."""
    async with db.transaction() as tx:
        made = await make(tx, EMAIL, SMS)
    maija, matti = made.participants
    first = (await db.list_messages(participant_id=maija.id))[0]
    await set_state(db, first.id, MessageState.SENDING)
    second = (await db.list_messages(participant_id=matti.id))[0]
    await set_state(db, second.id, MessageState.SENDING)
    async with db.transaction() as tx:
        await tx.withdraw_messages(NOW, appointment_id=made.id, participant_id=maija.id)
        unconfirmed = await tx.mark_sending_unconfirmed(NOW)
    assert [m.id for m in unconfirmed] == [second.id]
    found = await db.get_message(first.id)
    assert found is not None and found.state is MessageState.WITHDRAWN

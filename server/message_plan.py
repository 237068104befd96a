"""MessagePlan: which outgoing messages a change causes, written in the change's transaction.

Every method takes the caller's ``Tx``, so a message exists exactly when its change
committed. The plan writes rows only; ``server.outbox`` sends them. A move or a removal
withdraws what is still pending (an old reminder never goes out) and plans what the new
state needs; a message already sent is answered by an update or a cancellation.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from dataclasses import replace
from datetime import datetime, timedelta

from server.db import NewMessage, Tx
from server.errors import Conflict, Unprocessable
from server.records import (
    Appointment,
    Delivery,
    Language,
    MessagePurpose,
    MessageState,
    OutboxMessage,
    Participant,
)
from server.settings import Settings

# Sent or being sent: the person may already hold the invitation in a calendar.
_REACHED = frozenset({MessageState.SENDING, MessageState.SENT, MessageState.UNCONFIRMED,
                      MessageState.FAILED})
# A participant whose language is left to the browser gets messages in Finnish.
DEFAULT_LANGUAGE = Language.FI
# Waiting or on its way: a second resend click answers with this one instead.
_UNDER_WAY = frozenset({MessageState.PENDING, MessageState.SENDING})
# An invitation resent this recently counts as the same click, even if it has gone.
RESEND_WINDOW = timedelta(seconds=10)


def _nothing() -> None:
    return None


def _reachable(participant: Participant) -> bool:
    return participant.delivery is not Delivery.MANUAL and bool(participant.contact)


class MessagePlan:
    def __init__(self, reminder_offsets: Sequence[timedelta],
                 channels: Collection[Delivery] = ()) -> None:
        self.reminder_offsets = tuple(reminder_offsets)
        # E-mail and SMS only when configured (KOTA_SMTP_HOST, KOTA_SMS_WEBHOOK_URL).
        self.channels = frozenset(channels) | {Delivery.MANUAL}
        # Called after a message is written; the outbox sets it to wake its worker,
        # which then waits for the write lock and so sees the committed row.
        self.on_planned: Callable[[], None] = _nothing

    @classmethod
    def from_settings(cls, settings: Settings) -> MessagePlan:
        channels = [channel for channel, on in ((Delivery.EMAIL, settings.email_enabled),
                                                (Delivery.SMS, settings.sms_enabled)) if on]
        return cls(settings.reminder_offsets, channels)

    def check_delivery(self, delivery: Delivery) -> None:
        """A channel Kota cannot send through is refused when chosen, not failed later."""
        if delivery in self.channels:
            return
        if delivery is Delivery.EMAIL:
            raise Unprocessable("email_not_configured",
                                "Kota has no e-mail server set up. Send the link by hand.")
        raise Unprocessable("sms_not_configured",
                            "Kota has no text-message service set up. Send the link by hand.")

    async def _add(self, tx: Tx, message: NewMessage, now: datetime) -> int:
        message_id = await tx.add_message(message, now)
        tx.after_commit(self.on_planned)
        return message_id

    def _message(
        self,
        purpose: MessagePurpose,
        appointment: Appointment,
        participant: Participant,
        due_at: datetime,
    ) -> NewMessage:
        assert participant.contact is not None
        return NewMessage(
            purpose=purpose,
            channel=participant.delivery,
            recipient=participant.contact,
            language=participant.language or DEFAULT_LANGUAGE,
            starts_at=appointment.starts_at,
            ends_at=appointment.ends_at,
            due_at=due_at,
            appointment_id=appointment.id,
            participant_id=participant.id,
            sequence=participant.invite_sequence,
        )

    async def _reminders(
        self, tx: Tx, appointment: Appointment, participant: Participant, now: datetime
    ) -> None:
        """One per offset still ahead; an offset already passed is skipped, not sent late."""
        for offset in self.reminder_offsets:
            due = appointment.starts_at - offset
            if due > now:
                await self._add(
                    tx, self._message(MessagePurpose.REMINDER, appointment, participant, due),
                    now,
                )

    async def _reached(self, tx: Tx, participant: Participant) -> bool:
        sent = await tx.list_messages(participant_id=participant.id)
        return any(
            m.state in _REACHED and m.purpose is not MessagePurpose.REMINDER for m in sent
        )

    async def participant_added(
        self, tx: Tx, appointment: Appointment, participant_id: int, now: datetime
    ) -> None:
        """The invitation now, and the reminders."""
        participant = appointment.participant(participant_id)
        if participant is None or not _reachable(participant):
            return
        await self._add(
            tx, self._message(MessagePurpose.INVITATION, appointment, participant, now), now
        )
        await self._reminders(tx, appointment, participant, now)

    async def appointment_moved(self, tx: Tx, moved: Appointment, now: datetime) -> None:
        """``moved`` as it is after the change (re-read from ``tx``): SEQUENCE goes up by
        one for everyone, pending messages for the old time are withdrawn, and each
        person gets an update (or, if nothing had reached them yet, the invitation)."""
        await tx.bump_invite_sequence(moved.id)
        # A removed person's cancellation still goes: it is about them, not the time.
        await tx.withdraw_messages(now, appointment_id=moved.id, keep_cancellations=True)
        after = await tx.get_appointment(moved.id)
        assert after is not None
        for participant in after.participants:
            if not _reachable(participant):
                continue
            purpose = (MessagePurpose.UPDATE if await self._reached(tx, participant)
                       else MessagePurpose.INVITATION)
            await self._add(tx, self._message(purpose, after, participant, now), now)
            await self._reminders(tx, after, participant, now)

    async def appointment_cancelled(
        self, tx: Tx, appointment: Appointment, now: datetime
    ) -> None:
        """``appointment`` as it was before the cancel, with its people."""
        for participant in appointment.participants:
            await self._withdraw(tx, appointment, participant, now)

    async def participant_removed(
        self, tx: Tx, appointment: Appointment, participant_id: int, now: datetime
    ) -> None:
        """``appointment`` as it was before the removal."""
        participant = appointment.participant(participant_id)
        if participant is not None:
            await self._withdraw(tx, appointment, participant, now)

    async def _withdraw(
        self, tx: Tx, appointment: Appointment, participant: Participant, now: datetime
    ) -> None:
        await tx.withdraw_messages(now, appointment_id=appointment.id,
                                   participant_id=participant.id)
        if not _reachable(participant) or not await self._reached(tx, participant):
            return
        await tx.bump_invite_sequence(appointment.id, participant.id)
        cancelled = replace(participant, invite_sequence=participant.invite_sequence + 1)
        await self._add(
            tx, self._message(MessagePurpose.CANCELLATION, appointment, cancelled, now), now
        )

    async def resend(
        self, tx: Tx, appointment: Appointment, participant: Participant, now: datetime
    ) -> tuple[OutboxMessage, bool]:
        """The invitation again, at the current time and SEQUENCE; ``(message, created)``.
        One still under way (or resent moments ago) is returned instead: a double click
        sends one message."""
        if not _reachable(participant):
            raise Conflict("no_delivery", "This person's link goes by hand; copy the link.")
        self.check_delivery(participant.delivery)
        for message in reversed(await tx.list_messages(participant_id=participant.id)):
            if message.purpose not in (MessagePurpose.INVITATION, MessagePurpose.UPDATE):
                continue
            if message.state in _UNDER_WAY or (
                message.state is MessageState.SENT and now - message.created_at < RESEND_WINDOW
            ):
                return message, False
        message_id = await self._add(
            tx, self._message(MessagePurpose.INVITATION, appointment, participant, now), now
        )
        made = await tx.get_message(message_id)
        assert made is not None
        return made, True

    async def booking_held(
        self,
        tx: Tx,
        *,
        booking_id: int,
        channel: Delivery,
        recipient: str,
        language: Language,
        starts_at: datetime,
        ends_at: datetime,
        now: datetime,
    ) -> None:
        """The confirm link for a held booking, to the contact the family gave."""
        await self._add(
            tx,
            NewMessage(
                purpose=MessagePurpose.BOOKING_CONFIRM,
                channel=channel,
                recipient=recipient,
                language=language,
                starts_at=starts_at,
                ends_at=ends_at,
                due_at=now,
                booking_id=booking_id,
            ),
            now,
        )

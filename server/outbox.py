"""Outbox: the worker that sends the messages ``MessagePlan`` wrote, each exactly once.

A row goes ``pending -> sending -> sent | failed``, or back to ``pending`` with a doubled
wait after a failure that may pass. The claim (``sending``, one more attempt) commits in
its own transaction before any network I/O, so a server killed mid-send leaves a
``sending`` row; the next start turns it ``unconfirmed`` and never sends it again by
itself: staff see it and may resend. The text is built at send time from the current
state (a cancelled appointment or removed person gets no invitation or reminder) and in
the recipient's language; no text, address or link is ever stored or logged.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from server.audit import SYSTEM, Action, AuditLog, Detail
from server.booking_links import BookingLinks
from server.db import Database, StorageError
from server.email_message import build_email
from server.join_links import JoinLinks
from server.mail_sender import MailSender
from server.message_texts import MessageFacts, render
from server.records import (
    Appointment,
    AppointmentStatus,
    BookingState,
    Delivery,
    MessagePurpose,
    MessageState,
    OutboxMessage,
    Participant,
)
from server.send_failure import SendFailure
from server.settings import Settings
from server.sms_gateway import SmsGateway

logger = logging.getLogger(__name__)

# Messages sent at the same time: one slow SMTP server does not hold up the SMS.
CONCURRENCY = 4
# The worker looks for due messages at least this often, even when nothing woke it.
IDLE_SECONDS = 5.0
# At shutdown, sends under way get this long to finish before they are cut.
STOP_GRACE_SECONDS = 5.0
# Purposes that carry the join link; a cancellation needs none.
_WITH_LINK = frozenset({MessagePurpose.INVITATION, MessagePurpose.UPDATE,
                        MessagePurpose.REMINDER})


@dataclass(frozen=True)
class Withdraw:
    """The message is no longer right (cancelled, removed, too late): not sent."""

    reason: str


class Outbox:
    def __init__(
        self,
        db: Database,
        audit: AuditLog,
        links: JoinLinks,
        booking_links: BookingLinks,
        settings: Settings,
        clock: Callable[[], datetime],
        mail: MailSender | None = None,
        sms: SmsGateway | None = None,
    ) -> None:
        self.db = db
        self.audit = audit
        self.links = links
        self.booking_links = booking_links
        self.clock = clock
        self.mail = mail
        self.sms = sms
        self.zone: ZoneInfo = settings.timezone
        self.sender = settings.smtp_from
        self.domain = urlsplit(settings.public_url).hostname or "kota.invalid"
        self.max_attempts = settings.outbox_max_attempts
        self.retry = settings.outbox_retry
        self._wake = asyncio.Event()
        self._running = asyncio.Lock()
        self._stopping = False
        self._task: asyncio.Task[None] | None = None

    @classmethod
    def from_settings(cls, db: Database, audit: AuditLog, links: JoinLinks,
                      booking_links: BookingLinks, settings: Settings,
                      clock: Callable[[], datetime]) -> Outbox:
        mail = MailSender(settings) if settings.email_enabled else None
        secret = settings.sms_secret_file
        sms = (SmsGateway(settings.sms_webhook_url, secret.value)
               if settings.sms_enabled and secret is not None else None)
        return cls(db, audit, links, booking_links, settings, clock, mail, sms)

    # -- lifecycle ---------------------------------------------------------------

    async def start(self) -> None:
        """Settle what a stopped server left mid-send, then start the worker."""
        await self.recover(self.clock())
        if self.sms is not None:
            await self.sms.start()
        self._stopping = False
        self._task = asyncio.create_task(self._run(), name="outbox")

    async def stop(self) -> None:
        self._stopping = True
        self._wake.set()
        if self._task is not None:
            try:
                await asyncio.wait_for(asyncio.shield(self._task), STOP_GRACE_SECONDS)
            except TimeoutError:
                self._task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await self._task
            self._task = None
        if self.sms is not None:
            await self.sms.close()

    def wake(self) -> None:
        """Look for due messages now: a change has just committed new ones."""
        self._wake.set()

    async def recover(self, now: datetime) -> list[OutboxMessage]:
        """``sending`` rows are from a server that stopped mid-send: the message may or
        may not have arrived, so it becomes ``unconfirmed`` and is never sent again."""
        async with self.db.transaction() as tx:
            found = await tx.mark_sending_unconfirmed(now)
            for message in found:
                await self.audit.record(SYSTEM, Action.MESSAGE_UNCONFIRMED,
                                        message.appointment_id, message.participant_id,
                                        _detail(message, "interrupted"), tx=tx)
        for message in found:
            logger.warning("outbox.unconfirmed", extra={"outbox_id": message.id})
        return found

    async def _run(self) -> None:
        while not self._stopping:
            self._wake.clear()
            try:
                await self.run_once(self.clock())
                wait = await self._idle_seconds()
            except StorageError:
                wait = IDLE_SECONDS  # the database logged it; try again later
            except Exception:
                logger.exception("outbox.error")
                wait = IDLE_SECONDS
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), wait)

    async def _idle_seconds(self) -> float:
        due = await self.db.next_message_due()
        if due is None:
            return IDLE_SECONDS
        return min(max((due - self.clock()).total_seconds(), 0.0), IDLE_SECONDS)

    # -- sending -----------------------------------------------------------------

    async def run_once(self, now: datetime) -> int:
        """Send every message due at ``now`` (up to CONCURRENCY at a time); returns how
        many were handled. Tests call this with the time they choose."""
        handled = 0
        claiming = True
        async with self._running:
            in_flight: set[asyncio.Task[None]] = set()
            try:
                while True:
                    while claiming and len(in_flight) < CONCURRENCY and not self._stopping:
                        try:
                            claimed = await self._claim(now)
                        except StorageError:
                            claimed = None  # the database logged it; next run tries again
                        if claimed is None:
                            claiming = False
                            break
                        in_flight.add(asyncio.create_task(self._deliver(claimed, now)))
                    if not in_flight:
                        return handled
                    done, in_flight = await asyncio.wait(
                        in_flight, return_when=asyncio.FIRST_COMPLETED)
                    handled += len(done)
                    claiming = True  # a slot is free: more may be due
            finally:
                for task in in_flight:
                    task.cancel()
                if in_flight:
                    await asyncio.wait(in_flight)

    async def _claim(self, now: datetime) -> OutboxMessage | None:
        # A look on the read connection first: an idle worker takes no write lock.
        due = await self.db.next_message_due()
        if due is None or due > now:
            return None
        async with self.db.transaction() as tx:
            return await tx.claim_due_message(now)

    async def _deliver(self, message: OutboxMessage, now: datetime) -> None:
        """One message, start to end; a fault here never stops the others in flight.
        If its outcome cannot be stored (say, a full disk), it stays ``sending`` and the
        next start makes it ``unconfirmed``: it may have gone."""
        try:
            await self._deliver_one(message, now)
        except Exception:
            logger.exception("outbox.error", extra={"outbox_id": message.id})

    async def _deliver_one(self, message: OutboxMessage, now: datetime) -> None:
        try:
            prepared = await self._prepare(message, now)
        except Exception:
            logger.exception("outbox.prepare_failed", extra={"outbox_id": message.id})
            prepared = SendFailure("internal", permanent=True)
        if isinstance(prepared, Withdraw):
            await self._finish(message, MessageState.WITHDRAWN, now, prepared.reason)
            return
        if isinstance(prepared, SendFailure):
            await self._failed(message, prepared, now)
            return
        try:
            await self._send(message, prepared, now)
        except SendFailure as failure:
            await self._failed(message, failure, now)
            return
        await self._finish(message, MessageState.SENT, now)

    async def _send(self, message: OutboxMessage, facts: MessageFacts, now: datetime) -> None:
        try:
            rendered = render(facts, now)
        except ValueError:
            # A missing link or a naive time: trying again would fail the same way.
            logger.exception("outbox.render_failed", extra={"outbox_id": message.id})
            raise SendFailure("render_failed", permanent=True) from None
        if message.channel is Delivery.EMAIL:
            if self.mail is None:
                raise SendFailure("email_not_configured", permanent=True)
            try:
                email = build_email(rendered, sender=self.sender, recipient=message.recipient,
                                    message_id=self.message_id(message.id), sent_at=now)
            except ValueError:
                raise SendFailure("invalid_address", permanent=True) from None
            await self.mail.send(email, message.recipient)
        elif message.channel is Delivery.SMS:
            if self.sms is None:
                raise SendFailure("sms_not_configured", permanent=True)
            await self.sms.send(message.id, message.recipient, rendered.sms,
                                message.language.value, now)
        else:
            raise SendFailure("no_delivery", permanent=True)

    def message_id(self, outbox_id: int) -> str:
        """The e-mail's Message-ID: the same for every attempt of one row."""
        return f"<kota-outbox-{outbox_id}@{self.domain}>"

    async def _failed(self, message: OutboxMessage, failure: SendFailure,
                      now: datetime) -> None:
        if failure.permanent or message.attempts >= self.max_attempts:
            await self._finish(message, MessageState.FAILED, now, failure.code)
            return
        wait = self.retry * (2 ** (message.attempts - 1))
        at = self._done_at(now)
        async with self.db.transaction() as tx:
            await tx.finish_message(message.id, MessageState.PENDING, at, error=failure.code,
                                    retry_at=at + wait)
        logger.info("outbox.retry", extra={"outbox_id": message.id, "error": failure.code,
                                           "attempt": message.attempts,
                                           "wait_seconds": wait.total_seconds()})

    async def _finish(self, message: OutboxMessage, state: MessageState, now: datetime,
                      error: str | None = None) -> None:
        """The outcome and its usage-log row in one transaction."""
        action = {MessageState.SENT: Action.MESSAGE_SENT,
                  MessageState.FAILED: Action.MESSAGE_FAILED}.get(state)
        async with self.db.transaction() as tx:
            written = await tx.finish_message(message.id, state, self._done_at(now),
                                              error=error)
            if written is not state:
                state, action = written or state, None
            if action is not None:
                await self.audit.record(SYSTEM, action, message.appointment_id,
                                        message.participant_id, _detail(message, error),
                                        tx=tx)
        logger.info(f"outbox.{state.value}",
                    extra={"outbox_id": message.id, "channel": message.channel.value,
                           "purpose": message.purpose.value, "attempt": message.attempts,
                           "error": error})

    def _done_at(self, now: datetime) -> datetime:
        """``now``, or later if the send took a while on the real clock."""
        return max(now, self.clock())

    # -- what the message says, from the state at send time -----------------------

    async def _prepare(self, message: OutboxMessage,
                       now: datetime) -> MessageFacts | Withdraw | SendFailure:
        if message.purpose is MessagePurpose.BOOKING_CONFIRM:
            return await self._booking_facts(message, now)
        if message.appointment_id is None or message.participant_id is None:
            return SendFailure("internal", permanent=True)
        appointment = await self.db.get_appointment(message.appointment_id)
        if appointment is None:
            return Withdraw("appointment_gone")
        participant = appointment.participant(message.participant_id)
        cancellation = message.purpose is MessagePurpose.CANCELLATION
        if not cancellation:
            if appointment.status is AppointmentStatus.CANCELLED:
                return Withdraw("appointment_cancelled")
            if participant is None:
                return Withdraw("participant_removed")
            if message.purpose is MessagePurpose.REMINDER and appointment.starts_at <= now:
                return Withdraw("too_late")
        if participant is None:
            participant = await self.db.get_participant(message.participant_id)
            if participant is None:
                return Withdraw("participant_removed")
        join_url = None
        if message.purpose in _WITH_LINK:
            link = participant.link
            if link is None or link.revoked or link.expires_at <= now:
                return SendFailure("link_not_active", permanent=True)
            join_url = (self.links.short_url(link) if message.channel is Delivery.SMS
                        else self.links.url(link))
        manage_url = service_name = None
        booking = await self.db.get_booking_for_participant(participant.id)
        if booking is not None:
            service_name = await self._service_name(booking.service_id)
            if booking.state is BookingState.CONFIRMED and not cancellation:
                manage_url = self.booking_links.manage_url(booking)
        return self._facts(message, appointment, participant, join_url=join_url,
                           manage_url=manage_url, service_name=service_name)

    async def _service_name(self, service_id: int) -> str | None:
        service = await self.db.get_service(service_id)
        return None if service is None else service.name

    def _facts(self, message: OutboxMessage, appointment: Appointment,
               participant: Participant, *, join_url: str | None,
               manage_url: str | None, service_name: str | None) -> MessageFacts:
        return MessageFacts(
            purpose=message.purpose,
            channel=message.channel,
            language=message.language,
            recipient_name=participant.display_name,
            starts_at=message.starts_at,
            ends_at=message.ends_at,
            zone=self.zone,
            host_first_name=appointment.host.first_name,
            service_name=service_name,
            join_url=join_url,
            manage_url=manage_url,
            confirm_url=None,
            hold_expires_at=None,
            appointment_id=appointment.id,
            participant_id=participant.id,
            sequence=message.sequence,
            domain=self.domain,
        )

    async def _booking_facts(self, message: OutboxMessage,
                             now: datetime) -> MessageFacts | Withdraw | SendFailure:
        if message.booking_id is None:
            return SendFailure("internal", permanent=True)
        booking = await self.db.get_booking(message.booking_id)
        if booking is None or booking.state is not BookingState.HELD:
            return Withdraw("booking_not_held")
        if booking.hold_expires_at <= now:
            return Withdraw("hold_expired")
        hosts = await self.db.list_staff_by_ids([booking.staff_id])
        return MessageFacts(
            purpose=message.purpose,
            channel=message.channel,
            language=message.language,
            recipient_name=booking.display_name,
            starts_at=booking.starts_at,
            ends_at=booking.ends_at,
            zone=self.zone,
            host_first_name=hosts[0].first_name if hosts else "",
            service_name=await self._service_name(booking.service_id),
            join_url=None,
            manage_url=None,
            confirm_url=(self.booking_links.short_confirm_url(booking)
                         if message.channel is Delivery.SMS
                         else self.booking_links.confirm_url(booking)),
            hold_expires_at=booking.hold_expires_at,
            appointment_id=None,
            participant_id=None,
            sequence=0,
            domain=self.domain,
        )


def _detail(message: OutboxMessage, error: str | None = None) -> Detail:
    """Codes and ids only: never the address or the text."""
    detail: dict[str, int | str] = {"message": message.id, "channel": message.channel.value,
                                    "purpose": message.purpose.value}
    if message.booking_id is not None:
        detail["booking"] = message.booking_id
    if error is not None:
        detail["error"] = error
    return detail


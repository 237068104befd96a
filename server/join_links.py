"""JoinLinks: issuing, copying, revoking and opening a participant's private join link."""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from server.audit import SYSTEM, Action, Actor, AuditLog
from server.db import Database, Tx
from server.errors import ApiError, Forbidden, Unauthorized
from server.join_tokens import (
    JoinClaims,
    SigningKey,
    TokenError,
    decode_token,
    encode_token,
    new_link,
    short_token,
    short_token_jti,
)
from server.records import Appointment, AppointmentStatus, JoinLink, Participant
from server.refusal_tally import RefusalKey, RefusalTally


class LinkRefused(Unauthorized):
    """A join token that was checked and refused; ``code`` comes from TokenError codes."""


@dataclass(frozen=True)
class OpenedLink:
    appointment: Appointment
    participant: Participant
    link: JoinLink


class JoinLinks:
    def __init__(
        self,
        db: Database,
        audit: AuditLog,
        key: SigningKey,
        public_url: str,
        grace: timedelta,
    ) -> None:
        self.db = db
        self.audit = audit
        self.key = key
        self.public_url = public_url
        self.grace = grace
        self._refusals = RefusalTally()

    def url(self, link: JoinLink) -> str:
        """The token rides in the fragment, which browsers never send to a server."""
        return f"{self.public_url}/join#{encode_token(self.key, link)}"

    def short_url(self, link: JoinLink) -> str:
        """The same link in its short form (text messages); ``verify`` takes both."""
        return f"{self.public_url}/join#{short_token(self.key, link)}"

    async def issue(
        self,
        tx: Tx,
        actor: Actor,
        appointment_id: int,
        ends_at: datetime,
        participant_id: int,
        now: datetime,
    ) -> JoinLink:
        """A new link for the participant; any earlier link stops working in the same step."""
        link = new_link(participant_id, appointment_id, ends_at, self.grace, now)
        await tx.replace_join_link(link)
        await self.audit.record(actor, Action.LINK_ISSUED, appointment_id, participant_id, tx=tx)
        return link

    async def revoke(
        self, tx: Tx, actor: Actor, appointment_id: int, participant_id: int, now: datetime
    ) -> None:
        await tx.revoke_join_links(participant_id, now)
        await self.audit.record(actor, Action.LINK_REVOKED, appointment_id, participant_id, tx=tx)

    async def renew_short_links(
        self, tx: Tx, actor: Actor, appointment: Appointment, now: datetime
    ) -> list[int]:
        """After a reschedule, reissue links that would expire before the new end."""
        renewed = []
        for participant in appointment.participants:
            link = participant.link
            needed = appointment.ends_at + self.grace
            if link is not None and not link.revoked and link.expires_at < needed:
                await self.issue(
                    tx, actor, appointment.id, appointment.ends_at, participant.id, now
                )
                renewed.append(participant.id)
        return renewed

    async def open(self, token: str, now: datetime) -> OpenedLink:
        """Check a token from a join link against its signature and the stored state."""
        opened = await self.verify(token, now)
        await self.audit.record(
            Actor.participant(opened.participant.id),
            Action.LINK_OPENED,
            opened.appointment.id,
            opened.participant.id,
        )
        return opened

    async def verify(
        self, token: str, now: datetime, *, allow_expired: bool = False
    ) -> OpenedLink:
        """Like ``open``, but records refusals only: the call socket checks the token on
        every hello, and the usage log already has the family entering the waiting room.

        ``allow_expired``: a validly signed link past its expiry is still accepted (the
        family's access report is wanted after the appointment too); revoked is not.
        """
        try:
            claims = await self._claims(token, now, allow_expired)
        except TokenError as exc:
            self.refused(None, None, exc.code, now)
            raise LinkRefused(exc.code, exc.message) from None
        refusal = await self._check(claims.jti, claims.participant_id, claims.appointment_id)
        if isinstance(refusal, ApiError):
            self.refused(claims.participant_id, claims.appointment_id, refusal.code, now)
            raise refusal
        return refusal

    async def _claims(self, token: str, now: datetime, allow_expired: bool) -> JoinClaims:
        jti = short_token_jti(token)
        if jti is None:
            return decode_token(self.key, token, now, allow_expired=allow_expired)
        link = await self.db.get_join_link(jti)
        if link is None or not hmac.compare_digest(short_token(self.key, link), token):
            raise TokenError("token_invalid", "This link is not valid. Ask for a new link.")
        if link.expires_at <= now and not allow_expired:
            raise TokenError("token_expired", "This link has expired. Ask for a new link.")
        return JoinClaims(jti=link.jti, participant_id=link.participant_id,
                          appointment_id=link.appointment_id, issued_at=link.issued_at,
                          expires_at=link.expires_at)

    def refused(
        self, participant_id: int | None, appointment_id: int | None, code: str, now: datetime
    ) -> None:
        """Log a refusal in aggregate: the first of its kind in a minute at once, the rest
        of that minute as one row with ``detail.count`` when the minute is over."""
        self.report_refusals(now)
        key = RefusalKey(code, participant_id, appointment_id)
        if self._refusals.add(key, now.timestamp()):
            self._post_refusal(key, 1, now)

    def report_refusals(self, now: datetime | None = None) -> None:
        """Post the windows that have closed (all of them when ``now`` is None)."""
        closed = (self._refusals.drain() if now is None
                  else self._refusals.due(now.timestamp()))
        for window in closed:
            self._post_refusal(window.key, window.count,
                               datetime.fromtimestamp(window.started, UTC))

    def _post_refusal(self, key: RefusalKey, count: int, at: datetime) -> None:
        actor = SYSTEM if key.actor_id is None else Actor.participant(key.actor_id)
        self.audit.post(actor, Action.LINK_REFUSED, key.appointment_id, key.actor_id,
                        detail={"reason": key.reason, "count": count}, at=at)

    async def _check(
        self, jti: str, participant_id: int, appointment_id: int
    ) -> OpenedLink | ApiError:
        link = await self.db.get_join_link(jti)
        if link is None:
            return LinkRefused("token_invalid", "This link is not valid. Ask for a new link.")
        if link.participant_id != participant_id or link.appointment_id != appointment_id:
            return LinkRefused(
                "token_wrong_appointment", "This link belongs to another appointment."
            )
        appointment = await self.db.get_appointment(appointment_id)
        participant = appointment.participant(participant_id) if appointment else None
        if appointment is None or participant is None:
            return LinkRefused(
                "link_revoked", "This link is no longer in use. Ask for a new link."
            )
        # Before the revoked check: cancelling also revokes every link, and the family
        # should hear that the appointment was cancelled, not that the link is old.
        if appointment.status is AppointmentStatus.CANCELLED:
            return Forbidden("appointment_cancelled", "This appointment has been cancelled.")
        if link.revoked:
            return LinkRefused(
                "link_revoked", "This link is no longer in use. Ask for a new link."
            )
        return OpenedLink(appointment, participant, link)

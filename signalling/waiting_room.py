"""WaitingRoom: the people waiting to be let into one appointment's call, in arrival order.

Admission is per person: nothing here admits anyone as a side effect of something else.
Who is waiting is shown to the staff present only; a waiting person sees nothing but
their own place in the queue and the texts staff send them. Texts go both ways: staff
write to one waiting person or, explicitly, to all of them; a waiting person may answer
the staff present. Texts are relayed, never kept, and end with the stay: leaving, being
admitted or turned away clears them on both sides. What arrives at the door — a verified
Member — and the JoinWindow that says when the door is open are in ports.py.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from enum import Enum
from typing import Final

from signalling.effects import (
    CallAction,
    CloseReason,
    Disconnect,
    Effect,
    Record,
    Revoke,
    Send,
    send,
)
from signalling.errors import SignallingError
from signalling.messages import (
    Denied,
    Knocked,
    StaffMessage,
    TextsCleared,
    Waiting,
    WaitingList,
    WaitingMessageSent,
    WaitingPerson,
    WaitingReply,
)
from signalling.ports import Member
from signalling.rate_limit import RateLimiter

logger = logging.getLogger(__name__)

STAFF_TEXT_MAX_CHARS: Final = 500
REPLY_MAX_CHARS: Final = 300
# A waiting person may send REPLY_BURST texts at once, then one every REPLY_EVERY seconds.
REPLY_BURST: Final = 3
REPLY_EVERY: Final = 10.0


class WaitingState(Enum):
    """A waiting person's state; every state but WAITING ends their stay in the queue."""

    WAITING = "waiting"
    ADMITTED = "admitted"
    DENIED = "denied"
    LEFT = "left"


@dataclass(frozen=True, slots=True)
class _Entry:
    member: Member
    since: datetime
    returned: bool = False  # left the call by themselves before this knock


class WaitingRoom:
    """The queue of one appointment. ``staff`` arguments name who to keep informed."""

    def __init__(self, appointment_id: str) -> None:
        self.appointment_id = appointment_id
        self._entries: dict[str, _Entry] = {}  # insertion order is arrival order
        self._talked: set[str] = set()  # waiting people with texts to clear when they go
        # Kept across stays, so leaving and knocking again does not refill the bucket.
        self._reply_limits: dict[str, RateLimiter] = {}

    def __contains__(self, participant_id: object) -> bool:
        return participant_id in self._entries

    def __len__(self) -> int:
        return len(self._entries)

    @property
    def participant_ids(self) -> tuple[str, ...]:
        return tuple(self._entries)

    def position(self, participant_id: str) -> int:
        """1-based place in the queue."""
        return self.participant_ids.index(participant_id) + 1

    def waiting_list(self) -> WaitingList:
        """The snapshot staff get whenever the queue changes."""
        return WaitingList(waiting=tuple(self._person(pid) for pid in self._entries))

    def knock(self, member: Member, now: datetime, staff: tuple[str, ...], *,
              returned: bool = False) -> list[Effect]:
        """Puts ``member`` at the end of the queue; the staff present hear the knock.

        ``returned``: they left the call by themselves before; staff see it on the knock.
        """
        pid = member.participant_id
        self._set_state(pid, WaitingState.WAITING, _Entry(member, now, returned))
        return [
            *send(staff, Knocked(participant=self._person(pid))),
            *send(staff, self.waiting_list()),
            Record(CallAction.WAITING_ENTERED, pid, now),
        ]

    def replace(self, member: Member) -> int:
        """A new connection of someone already waiting keeps their place; returns it."""
        pid = member.participant_id
        entry = self._require(pid)
        self._entries[pid] = _Entry(member, entry.since, entry.returned)
        return self.position(pid)

    def leave(
        self, participant_id: str, now: datetime, staff: tuple[str, ...], reason: CloseReason
    ) -> list[Effect]:
        """Someone left the queue by themselves, or their socket dropped."""
        effects = self._remove(participant_id, WaitingState.LEFT, staff)
        record = Record(CallAction.WAITING_LEFT, participant_id, now,
                        reason=reason)
        return [*effects, record]

    def admit(
        self, participant_id: str, by: str, now: datetime, staff: tuple[str, ...]
    ) -> tuple[Member, list[Effect]]:
        """Takes one person out of the queue for a seat; the caller seats them."""
        member = self._require(participant_id).member
        effects = self._remove(participant_id, WaitingState.ADMITTED, staff)
        record = Record(CallAction.ADMISSION_ADMITTED, participant_id, now, by=by)
        return member, [*effects, record]

    def deny(
        self, participant_id: str, by: str, now: datetime, staff: tuple[str, ...], *,
        revoke: bool = False,
    ) -> list[Effect]:
        """Turns one person away; with ``revoke`` their link stops working too."""
        self._require(participant_id)
        reason = CloseReason.REVOKED if revoke else CloseReason.DENIED
        effects: list[Effect] = [
            Send((participant_id,), Denied(revoked=revoke)),
            Disconnect(participant_id, reason),
        ]
        if revoke:
            effects.append(Revoke(participant_id, by))
        effects += self._remove(participant_id, WaitingState.DENIED, staff)
        effects.append(Record(CallAction.ADMISSION_DENIED, participant_id, now, by=by,
                              reason=reason))
        return effects

    def message(self, by: str, to: str | None, text: str, now: datetime, *,
                colleagues: tuple[str, ...] = (), by_name: str = "") -> list[Effect]:
        """Relays a staff text to one person, or with ``to`` None to all waiting (the
        caller asked for all explicitly), and a copy to the ``colleagues`` present, so
        that every professional sees the same conversation; the record keeps no text."""
        _check_text(text, STAFF_TEXT_MAX_CHARS)
        if to is None:
            recipients = self.participant_ids
        else:
            self._require(to)
            recipients = (to,)
        self._talked.update(recipients)
        copy = WaitingMessageSent(by=by, by_name=by_name, to=recipients, to_all=to is None,
                                  text=text, at=now)
        return [
            *send(recipients, StaffMessage(text=text, to_all=to is None)),
            *send(tuple(c for c in colleagues if c != by), copy),
            Record(CallAction.WAITING_MESSAGED, to, now, by=by,
                   detail={"recipients": len(recipients)}),
        ]

    def reply(self, sender: str, text: str, now: datetime, staff: tuple[str, ...],
              ) -> list[Effect]:
        """Relays a waiting person's text to the staff present, with who sent it."""
        entry = self._entries.get(sender)
        if entry is None:
            raise SignallingError("not_waiting")
        _check_text(text, REPLY_MAX_CHARS)
        if not staff:
            raise SignallingError("no_staff_present")
        limit = self._reply_limits.get(sender)
        if limit is None:
            limit = self._reply_limits[sender] = RateLimiter(1 / REPLY_EVERY, REPLY_BURST)
        if not limit.allow(now.timestamp()):
            raise SignallingError("too_many_texts")
        self._talked.add(sender)
        reply = WaitingReply(from_=sender, display_name=entry.member.display_name, text=text,
                             at=now)
        return [Send(staff, reply),
                Record(CallAction.WAITING_REPLIED, sender, now,
                       detail={"recipients": len(staff)})]

    def clear(self, now: datetime, reason: CloseReason) -> list[Effect]:
        """Empties the queue when the session ends; the caller tells and disconnects people."""
        records: list[Effect] = []
        self._talked.clear()
        for pid in self.participant_ids:
            self._set_state(pid, WaitingState.LEFT)
            records.append(Record(CallAction.WAITING_LEFT, pid, now,
                                  reason=reason))
        return records

    def _remove(
        self, participant_id: str, new: WaitingState, staff: tuple[str, ...]
    ) -> list[Effect]:
        """Takes someone out of the queue; everyone behind moves up and is told.

        Their texts end with the stay: the staff present are told to clear them, and so
        is the person when admitted (anyone else is on the way out).
        """
        behind = self.participant_ids[self.position(participant_id):]
        self._set_state(participant_id, new)
        effects: list[Effect] = [Send((pid,), Waiting(position=self.position(pid)))
                                 for pid in behind]
        if participant_id in self._talked:
            self._talked.discard(participant_id)
            cleared = TextsCleared(participant=participant_id)
            if new is WaitingState.ADMITTED:
                effects.append(Send((participant_id,), cleared))
            effects += send(staff, cleared)
        return [*effects, *send(staff, self.waiting_list())]

    def _require(self, participant_id: str) -> _Entry:
        entry = self._entries.get(participant_id)
        if entry is None:
            raise SignallingError("unknown_participant", f"{participant_id} is not waiting.")
        return entry

    def _person(self, participant_id: str) -> WaitingPerson:
        entry = self._entries[participant_id]
        return WaitingPerson(participant=participant_id,
                             display_name=entry.member.display_name, role=entry.member.role,
                             since=entry.since, position=self.position(participant_id),
                             returned=entry.returned)

    def _set_state(self, participant_id: str, new: WaitingState, entry: _Entry | None = None,
                   ) -> None:
        """The one place a waiting person's state changes, so every move is logged."""
        old = WaitingState.WAITING if participant_id in self._entries else None
        if new is WaitingState.WAITING:
            assert entry is not None
            self._entries[participant_id] = entry
        else:
            del self._entries[participant_id]
        logger.info("waiting.state", extra={
            "appointment": self.appointment_id, "participant": participant_id,
            "old": old.value if old else None, "new": new.value,
        })


def _check_text(text: str, max_chars: int) -> None:
    """A waiting-room text says something and is short enough, or gets a clear error."""
    if not text.strip():
        raise SignallingError("text_empty")
    if len(text) > max_chars:
        raise SignallingError("text_too_long",
                              f"The text is {len(text)} characters; at most {max_chars} fit.")

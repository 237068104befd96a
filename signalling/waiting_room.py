"""WaitingRoom: the people waiting to be let into one appointment's call, in arrival order.

Admission is per person: nothing here admits anyone as a side effect of something else.
Who is waiting is shown to the staff present only; a waiting person sees nothing but
their own place in the queue and the texts staff send them. What arrives at the door — a
verified Member — and the JoinWindow that says when the door is open live here too.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from enum import Enum

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
    PARTICIPANT_ID_RE,
    Denied,
    Knocked,
    StaffMessage,
    Waiting,
    WaitingList,
    WaitingPerson,
)

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Member:
    """An identity the server has already verified; signalling never sees tokens or cookies."""

    participant_id: str
    display_name: str
    role: str
    is_staff: bool

    def __post_init__(self) -> None:
        if not PARTICIPANT_ID_RE.match(self.participant_id):
            raise ValueError("participant_id must match messages.PARTICIPANT_ID_PATTERN")


@dataclass(frozen=True, slots=True)
class JoinWindow:
    """When the appointment may be entered. Resume ignores it, so a call may run past it."""

    opens_at: datetime
    closes_at: datetime

    def __post_init__(self) -> None:
        if self.opens_at.tzinfo is None or self.closes_at.tzinfo is None:
            raise ValueError("join window times must be timezone-aware")
        if self.opens_at > self.closes_at:
            raise ValueError("join window opens after it closes")

    def contains(self, now: datetime) -> bool:
        return self.opens_at <= now <= self.closes_at


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

    def message(self, by: str, to: str | None, text: str, now: datetime) -> list[Effect]:
        """Relays a staff text to one person or to all waiting; the record keeps no text."""
        if to is None:
            recipients = self.participant_ids
        else:
            self._require(to)
            recipients = (to,)
        return [
            *send(recipients, StaffMessage(text=text, to_all=to is None)),
            Record(CallAction.WAITING_MESSAGED, to, now, by=by,
                   detail={"recipients": len(recipients)}),
        ]

    def clear(self, now: datetime, reason: CloseReason) -> list[Effect]:
        """Empties the queue when the session ends; the caller tells and disconnects people."""
        records: list[Effect] = []
        for pid in self.participant_ids:
            self._set_state(pid, WaitingState.LEFT)
            records.append(Record(CallAction.WAITING_LEFT, pid, now,
                                  reason=reason))
        return records

    def _remove(
        self, participant_id: str, new: WaitingState, staff: tuple[str, ...]
    ) -> list[Effect]:
        """Takes someone out of the queue; everyone behind moves up and is told."""
        behind = self.participant_ids[self.position(participant_id):]
        self._set_state(participant_id, new)
        effects: list[Effect] = [Send((pid,), Waiting(position=self.position(pid)))
                                 for pid in behind]
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

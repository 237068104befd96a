"""The contract between ``server/`` and ``signalling/``: everything that crosses the seam.

Signalling never imports the server. It receives what it needs through the types here,
as LiveKit keeps its routing contract in ``pkg/routing/interfaces.go``:

- in at the door: ``Identify`` turns a hello into an ``Entry``, a verified ``Member``
  (signalling never sees tokens or cookies);
- in when a room is made: ``RoomStore.load`` gives the appointment's ``RoomFacts`` (its
  ``JoinWindow``, staff, saved ``CallSnapshot``), and ``RoomRules`` with the server's
  ``IceServerSource`` apply to every room;
- out of a room: usage-log rows, link revocations and snapshots go to the ``RoomStore``;
  messages go to each participant's ``Outbox``.

A reader learns the seam here without opening the live layer.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Protocol

from signalling import messages as wire
from signalling.effects import CloseReason, Record, Revoke

# --- who: identities the server has verified ----------------------------------------------------


@dataclass(frozen=True, slots=True)
class Member:
    """An identity the server has already verified; signalling never sees tokens or cookies."""

    participant_id: str
    display_name: str
    role: str
    is_staff: bool

    def __post_init__(self) -> None:
        if not wire.PARTICIPANT_ID_RE.match(self.participant_id):
            raise ValueError("participant_id must match messages.PARTICIPANT_ID_PATTERN")


@dataclass(frozen=True)
class Entry:
    """A hello the server has verified: which call, and who (None for a resume ticket)."""

    appointment_id: str
    member: Member | None


# Checks a hello's token or the staff session, without reading the socket; raises
# SignallingError to refuse.
Identify = Callable[[wire.Hello], Awaitable[Entry]]


# --- when and how: what the server knows of an appointment --------------------------------------


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


# The ICE servers a seated participant gets, TURN credentials made for it at ``now``;
# none (omitted on the wire) means host candidates only.
IceServerSource = Callable[[str, datetime], tuple[wire.IceServer, ...]]


def no_ice_servers(participant_id: str, now: datetime) -> tuple[wire.IceServer, ...]:
    return ()


@dataclass(frozen=True, slots=True)
class SeatSnapshot:
    """A seat as saved: ``held_until`` None means its socket was connected."""

    participant_id: str
    number: int
    secret_hash: str
    held_until: datetime | None


@dataclass(frozen=True, slots=True)
class CallSnapshot:
    """What a restarted server needs to give admitted people their seats back.

    The waiting room is not part of it: whoever was waiting knocks again.
    """

    appointment_id: str
    ended: bool
    seats_taken: int
    seats: tuple[SeatSnapshot, ...]


@dataclass(frozen=True)
class RoomFacts:
    """What the server knows of an appointment when its room is made.

    ``saved`` is the call as the previous server left it; ``members`` are the identities
    of its seats (the snapshot holds ids only).
    """

    window: JoinWindow
    staff_ids: frozenset[str]
    host_id: str
    saved: CallSnapshot | None = None
    members: Mapping[str, Member] = field(default_factory=dict)


@dataclass(frozen=True)
class RoomRules:
    reconnect_grace: timedelta
    max_participants: int
    ice_servers: IceServerSource = no_ice_servers  # the server's STUN/TURN, per participant
    ice_transport_policy: wire.IceTransportPolicy = "all"  # "relay": TURN routes only


# --- out: what a room hands back -----------------------------------------------------------------


class Outbox(Protocol):
    """A participant's connection as a room sees it; see signalling/connection.py."""

    def send(self, data: bytes) -> None:
        """Queue one encoded message; never waits."""

    def close(self, reason: CloseReason) -> None:
        """Close after the queued messages; never waits."""


class RoomStore(Protocol):
    """The server's side of every room: facts in; usage-log rows, revocations and saves out.

    Only ``load`` may wait. The others must return at once (queue their work), so that
    performing a room's effects never waits on storage.
    """

    async def load(self, appointment_id: str) -> RoomFacts:
        """The facts for a new room; SignallingError("unknown_appointment") if none,
        ("appointment_cancelled") if it was cancelled."""

    def record(self, appointment_id: str, record: Record) -> None:
        """Append a usage-log row."""

    def revoke(self, appointment_id: str, revoke: Revoke) -> None:
        """Revoke the participant's join link."""

    def save(self, snapshot: CallSnapshot) -> None:
        """Keep the call's seats for a restart; the latest snapshot wins."""


# --- counted: what a metrics collector hears of the live calls ----------------------------------


class CallObserver(Protocol):
    """Counts events as they happen (docs/metrics.md); never waits, never sees content.

    ``relayed`` gets a client message's wire type (``signal``, ``chat``, …), ``refused``
    a SignallingError code sent to a client.
    """

    def relayed(self, message_type: str) -> None: ...

    def admitted(self) -> None: ...

    def refused(self, code: str) -> None: ...


class NoObserver:
    """Counts nothing: rooms made without a metrics collector."""

    def relayed(self, message_type: str) -> None:
        pass

    def admitted(self) -> None:
        pass

    def refused(self, code: str) -> None:
        pass

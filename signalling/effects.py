"""What the call logic asks the connection layer to do, as plain data.

Room and WaitingRoom never touch a socket, a clock or the usage log: they return these
values and signalling/connection.py performs them in list order. Keeping effects as data
is what lets tests assert a whole scenario without a server.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import KW_ONLY, dataclass, field
from datetime import datetime
from enum import StrEnum
from types import MappingProxyType
from typing import TYPE_CHECKING, TypeAlias

if TYPE_CHECKING:
    from signalling.messages import ServerMessage


class CallAction(StrEnum):
    """Usage-log actions of a call: who, what and when, never content.

    A waiting spell starts with WAITING_ENTERED and ends with exactly one of
    ADMISSION_ADMITTED, ADMISSION_DENIED or WAITING_LEFT. A call spell starts with
    CALL_JOINED and ends with exactly one CALL_LEFT; in between, CALL_DISCONNECTED and
    CALL_RECONNECTED alternate. That is enough to derive attendance.
    """

    WAITING_ENTERED = "waiting.entered"
    WAITING_LEFT = "waiting.left"
    WAITING_MESSAGED = "waiting.messaged"
    WAITING_REPLIED = "waiting.replied"
    ADMISSION_ADMITTED = "admission.admitted"
    ADMISSION_DENIED = "admission.denied"
    PARTICIPANT_REMOVED = "participant.removed"
    CALL_JOINED = "call.joined"
    CALL_LEFT = "call.left"
    CALL_DISCONNECTED = "call.disconnected"
    CALL_RECONNECTED = "call.reconnected"
    CHAT_SENT = "chat.sent"
    CALL_SOUND_ONLY = "call.sound_only"  # detail.on, detail.weak
    SIGNAL_REFUSED = "signal.refused"
    REQUEST_REFUSED = "request.refused"
    SESSION_ENDED = "session.ended"


class CloseReason(StrEnum):
    """Why a participant's connection ended; goes to the usage log and picks the close code."""

    LEFT = "left"
    SERVER_SHUTDOWN = "server_shutdown"
    POLICY = "policy"
    TOO_BIG = "too_big"
    INTERNAL = "internal"
    DENIED = "denied"
    REMOVED = "removed"
    REVOKED = "revoked"
    ENDED = "ended"
    REPLACED = "replaced"
    TOO_SLOW = "too_slow"
    FLOODING = "flooding"
    TIMEOUT = "timeout"
    OUTSIDE_WINDOW = "outside_window"
    CONNECTION_LOST = "connection_lost"
    RECONNECT_EXPIRED = "reconnect_expired"

    @property
    def close_code(self) -> int:
        """The WebSocket close code sent for this reason (see docs/protocol.md)."""
        return _CLOSE_CODES[self]


_CLOSE_CODES: Mapping[CloseReason, int] = MappingProxyType(
    {
        CloseReason.LEFT: 1000,
        CloseReason.SERVER_SHUTDOWN: 1001,
        CloseReason.POLICY: 1008,
        CloseReason.TOO_BIG: 1009,
        CloseReason.INTERNAL: 1011,
        CloseReason.DENIED: 4001,
        CloseReason.REMOVED: 4002,
        CloseReason.REVOKED: 4003,
        CloseReason.ENDED: 4004,
        CloseReason.REPLACED: 4005,
        CloseReason.TOO_SLOW: 4006,
        CloseReason.FLOODING: 4007,
        CloseReason.TIMEOUT: 4008,
        CloseReason.OUTSIDE_WINDOW: 4009,
        # The socket is already gone for these two; the codes exist only for the log.
        CloseReason.CONNECTION_LOST: 4010,
        CloseReason.RECONNECT_EXPIRED: 4011,
    }
)


@dataclass(frozen=True, slots=True)
class Send:
    """Queue ``message`` on the socket of each participant in ``to``, in that order."""

    to: tuple[str, ...]
    message: ServerMessage


@dataclass(frozen=True, slots=True)
class Record:
    """Append one usage-log row. ``detail`` holds counts and protocol codes, never text or names."""

    action: CallAction
    participant_id: str | None
    at: datetime
    _: KW_ONLY
    by: str | None = None
    reason: CloseReason | None = None
    detail: Mapping[str, int | str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Disconnect:
    """Close the participant's socket with ``reason.close_code`` after its queued messages."""

    participant_id: str
    reason: CloseReason


@dataclass(frozen=True, slots=True)
class Revoke:
    """Revoke the participant's join link, so its token no longer admits anyone."""

    participant_id: str
    by: str


Effect: TypeAlias = Send | Record | Disconnect | Revoke


def send(to: Iterable[str], message: ServerMessage) -> list[Effect]:
    """A Send to ``to``, or nothing when nobody is listening."""
    recipients = tuple(to)
    return [Send(recipients, message)] if recipients else []

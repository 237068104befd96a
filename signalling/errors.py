"""SignallingError and the stable codes a client may receive on the call WebSocket.

The web client translates by code, so each code is listed once here with what it does
to the connection: a recoverable error is sent as an ``error`` message and the socket
stays open; a fatal one is sent and then the socket closes with its reason's code.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from types import MappingProxyType
from typing import TYPE_CHECKING

from signalling.effects import CloseReason

if TYPE_CHECKING:
    from signalling.effects import Record


@dataclass(frozen=True, slots=True)
class ErrorCode:
    """One row of the error table: what closing (if anything) follows, and plain text."""

    close_reason: CloseReason | None
    text: str


ERROR_CODES: Mapping[str, ErrorCode] = MappingProxyType(
    {
        # Recoverable: the socket stays open.
        "bad_message": ErrorCode(None, "The message is not valid for this protocol."),
        "resume_failed": ErrorCode(None, "The seat cannot be resumed; join again."),
        "room_full": ErrorCode(None, "The call is full."),
        "not_admitted": ErrorCode(None, "Only admitted participants may do this."),
        "unknown_participant": ErrorCode(None, "No such participant in the needed state."),
        "unknown_peer": ErrorCode(None, "No such connected peer in this call."),
        "staff_cannot_be_removed": ErrorCode(None, "Staff of the appointment cannot be removed."),
        "not_waiting": ErrorCode(None, "Only people in the waiting room may do this."),
        "no_staff_present": ErrorCode(None, "No staff member is in the call to read this yet."),
        "text_empty": ErrorCode(None, "The text is empty."),
        "text_too_long": ErrorCode(None, "The text is too long."),
        "too_many_texts": ErrorCode(None, "Too many texts in a short time; wait a moment."),
        # Fatal: sent, then the socket closes.
        "message_too_big": ErrorCode(CloseReason.TOO_BIG, "The message is larger than 64 KiB."),
        "rate_limited": ErrorCode(CloseReason.FLOODING, "Too many messages."),
        "unsupported_version": ErrorCode(CloseReason.POLICY, "No common protocol version."),
        "unauthenticated": ErrorCode(CloseReason.POLICY, "No join token and no staff session."),
        "unknown_appointment": ErrorCode(CloseReason.POLICY, "No such appointment to join."),
        "appointment_cancelled": ErrorCode(CloseReason.POLICY, "The appointment was cancelled."),
        "token_invalid": ErrorCode(CloseReason.POLICY, "The join link is not valid."),
        "token_expired": ErrorCode(CloseReason.POLICY, "The join link has expired."),
        "link_revoked": ErrorCode(CloseReason.REVOKED, "The join link has been revoked."),
        "not_staff": ErrorCode(CloseReason.POLICY, "Only staff of the appointment may do this."),
        "already_joined": ErrorCode(CloseReason.POLICY, "This connection has already joined."),
        "not_joined": ErrorCode(CloseReason.POLICY, "Send hello first."),
        "outside_join_window": ErrorCode(
            CloseReason.OUTSIDE_WINDOW, "The appointment cannot be joined now."
        ),
        "session_ended": ErrorCode(CloseReason.ENDED, "The session has ended."),
        "internal": ErrorCode(CloseReason.INTERNAL, "Internal error."),
    }
)


class SignallingError(Exception):
    """A refusal the client is told about; ``code`` is one of ERROR_CODES.

    ``records`` are usage-log rows the refusal itself must leave (e.g. a refused
    signal); the connection layer performs them like any other effect.
    """

    def __init__(
        self,
        code: str,
        message: str | None = None,
        *,
        opens_at: datetime | None = None,
        closes_at: datetime | None = None,
        records: Sequence[Record] = (),
    ) -> None:
        if code not in ERROR_CODES:
            raise ValueError(f"unknown signalling error code {code!r}")
        self.code = code
        self.message = message if message is not None else ERROR_CODES[code].text
        self.opens_at = opens_at
        self.closes_at = closes_at
        self.records = tuple(records)
        super().__init__(code, self.message)

    def __str__(self) -> str:
        return f"{self.code}: {self.message}"

    @property
    def close_reason(self) -> CloseReason | None:
        """None when the socket stays open after the ``error`` message."""
        return ERROR_CODES[self.code].close_reason

    @property
    def fatal(self) -> bool:
        return self.close_reason is not None

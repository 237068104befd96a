"""Seat: one participant's place in a call, and the snapshot that outlives a server restart.

A seat's resume secret is kept only as a hash, so neither the room nor what it saves can
hand a seat to someone who did not receive the secret in ``welcome`` or ``admitted``.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import Enum

from signalling.effects import CallAction, CloseReason, Record
from signalling.ports import CallSnapshot, Member


class SeatState(Enum):
    CONNECTED = "connected"
    HELD = "held"  # socket dropped; the seat waits for a resume until held_until
    RELEASED = "released"  # the seat is gone


def new_secret() -> str:
    return secrets.token_urlsafe(32)


def hash_secret(secret: str) -> str:
    """SHA-256 is enough: the secret is 256 random bits, not a password."""
    return hashlib.sha256(secret.encode("utf-8", "surrogatepass")).hexdigest()


@dataclass(slots=True)
class Seat:
    member: Member
    number: int
    secret_hash: str
    state: SeatState = SeatState.CONNECTED
    held_until: datetime | None = None

    def opens_with(self, secret: str) -> bool:
        return hmac.compare_digest(self.secret_hash, hash_secret(secret))


def restore_seats(
    saved: CallSnapshot, members: Mapping[str, Member], staff_ids: Collection[str],
    now: datetime, grace: timedelta,
) -> tuple[list[Seat], list[Record]]:
    """The saved seats as held seats, and the usage-log rows that closing the old run needs.

    A seat saved as connected lost its socket with the old server, so its grace period
    starts now; a seat whose participant is no longer in the appointment is let go.
    """
    seats: list[Seat] = []
    records: list[Record] = []
    for s in saved.seats:
        pid = s.participant_id
        if s.held_until is None:
            records.append(Record(CallAction.CALL_DISCONNECTED, pid, now,
                                  reason=CloseReason.CONNECTION_LOST))
        member = members.get(pid)
        if member is None or member.is_staff != (pid in staff_ids):
            records.append(Record(CallAction.CALL_LEFT, pid, now, reason=CloseReason.REMOVED))
            continue
        seats.append(Seat(member, s.number, s.secret_hash, SeatState.HELD,
                          s.held_until or now + grace))
    return seats, records

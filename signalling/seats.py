"""Seats: who holds a seat in one call and in which state; the one place a seat changes.

The Room decides *whether* someone may take, hold or lose a seat; this class only keeps
the seats, numbers them, answers "who is connected" and logs every move. Each change
bumps ``revision``, which tells the room's keeper that the seats need saving.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import datetime

from signalling.ports import Member, SeatSnapshot
from signalling.seat import Seat, SeatState

logger = logging.getLogger(__name__)


class Seats:
    """One call's seats by participant id, in the order they were taken."""

    __slots__ = ("_appointment_id", "_by_id", "revision", "taken")

    def __init__(self, appointment_id: str) -> None:
        self._appointment_id = appointment_id
        self._by_id: dict[str, Seat] = {}
        self.taken = 0  # seats ever taken: the next seat's number is one more
        self.revision = 0

    def __len__(self) -> int:
        return len(self._by_id)

    def __contains__(self, participant_id: object) -> bool:
        return participant_id in self._by_id

    def __iter__(self) -> Iterator[str]:
        return iter(tuple(self._by_id))  # a copy: callers release seats as they go

    def __getitem__(self, participant_id: str) -> Seat:
        return self._by_id[participant_id]

    def get(self, participant_id: str) -> Seat | None:
        return self._by_id.get(participant_id)

    def state(self, participant_id: str) -> SeatState | None:
        seat = self._by_id.get(participant_id)
        return seat.state if seat else None

    def is_connected(self, participant_id: str) -> bool:
        seat = self._by_id.get(participant_id)
        return seat is not None and seat.state is SeatState.CONNECTED

    def connected(self, exclude: str | None = None) -> tuple[str, ...]:
        return tuple(pid for pid, s in self._by_id.items()
                     if s.state is SeatState.CONNECTED and pid != exclude)

    def staff_present(self) -> tuple[str, ...]:
        return tuple(pid for pid, s in self._by_id.items()
                     if s.state is SeatState.CONNECTED and s.member.is_staff)

    def others(self, exclude: str) -> tuple[Seat, ...]:
        return tuple(s for pid, s in self._by_id.items() if pid != exclude)

    def next_deadline(self) -> datetime | None:
        """The earliest end of a reconnect grace period."""
        return min((s.held_until for s in self._by_id.values() if s.held_until is not None),
                   default=None)

    def due(self, now: datetime) -> tuple[str, ...]:
        """Held seats whose grace period is over."""
        return tuple(pid for pid, s in self._by_id.items()
                     if s.held_until is not None and s.held_until <= now)

    def snapshot(self) -> tuple[SeatSnapshot, ...]:
        return tuple(SeatSnapshot(pid, s.number, s.secret_hash, s.held_until)
                     for pid, s in self._by_id.items())

    def take(self, member: Member, secret_hash: str) -> Seat:
        """A new seat for ``member``, numbered after every seat taken so far, connected."""
        self.taken += 1
        seat = Seat(member, self.taken, secret_hash)
        self.set_state(member.participant_id, SeatState.CONNECTED, seat)
        return seat

    def set_state(self, participant_id: str, new: SeatState, seat: Seat | None = None) -> None:
        """The one place a seat changes state, so every move is logged (and saved)."""
        self.revision += 1
        old_seat = self._by_id.get(participant_id)
        old = old_seat.state if old_seat else None
        current = seat or old_seat
        if new is SeatState.RELEASED:
            del self._by_id[participant_id]
        else:
            assert current is not None
            current.state = new
            self._by_id[participant_id] = current
        logger.info("room.seat_state", extra={
            "appointment": self._appointment_id, "participant": participant_id,
            "old": old.value if old else None, "new": new.value,
        })

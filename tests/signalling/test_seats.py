"""Seats: numbering, states, deadlines, and the revision that says when to save."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

import pytest

from signalling.ports import Member
from signalling.seat import SeatState, hash_secret
from signalling.seats import Seats

NOW = datetime(2026, 12, 3, 9, 0, tzinfo=UTC)
HOST = Member("s:1", "Sanna", "social_worker", is_staff=True)
MOTHER = Member("l:m", "Aili", "guardian", is_staff=False)
CHILD = Member("l:c", "Niila", "child", is_staff=False)


def seated(*members: Member) -> Seats:
    seats = Seats("7")
    for member in members:
        seats.take(member, hash_secret(member.participant_id))
    return seats


def test_seats_are_numbered_in_order_and_never_reused() -> None:
    seats = seated(HOST, MOTHER)
    assert [seats[pid].number for pid in seats] == [1, 2]
    seats.set_state("l:m", SeatState.RELEASED)
    seats.take(MOTHER, hash_secret("again"))
    assert seats["l:m"].number == 3 and seats.taken == 3


def test_who_is_connected_and_who_is_staff() -> None:
    seats = seated(HOST, MOTHER, CHILD)
    seats.set_state("l:c", SeatState.HELD)
    assert seats.connected() == ("s:1", "l:m")
    assert seats.connected(exclude="s:1") == ("l:m",)
    assert seats.staff_present() == ("s:1",)
    assert seats.is_connected("l:m") and not seats.is_connected("l:c")
    assert not seats.is_connected("l:nobody") and seats.state("l:nobody") is None
    assert [s.member for s in seats.others("l:m")] == [HOST, CHILD]


def test_deadlines_come_from_held_seats_only() -> None:
    seats = seated(HOST, MOTHER, CHILD)
    assert seats.next_deadline() is None and seats.due(NOW) == ()
    for pid, minutes in (("l:m", 2), ("l:c", 1)):
        seats[pid].held_until = NOW + timedelta(minutes=minutes)
        seats.set_state(pid, SeatState.HELD)
    assert seats.next_deadline() == NOW + timedelta(minutes=1)
    assert seats.due(NOW + timedelta(minutes=1)) == ("l:c",)
    assert seats.due(NOW + timedelta(minutes=5)) == ("l:m", "l:c")


def test_every_move_bumps_the_revision_and_is_logged(caplog: pytest.LogCaptureFixture) -> None:
    seats = Seats("7")
    caplog.set_level(logging.INFO, logger="signalling.seats")
    seats.take(MOTHER, hash_secret("x"))
    seats.set_state("l:m", SeatState.HELD)
    seats.set_state("l:m", SeatState.RELEASED)
    assert seats.revision == 3 and "l:m" not in seats and len(seats) == 0
    moves = [(vars(r)["old"], vars(r)["new"]) for r in caplog.records
             if r.msg == "room.seat_state"]
    assert moves == [(None, "connected"), ("connected", "held"), ("held", "released")]


def test_releasing_while_iterating_is_safe() -> None:
    seats = seated(HOST, MOTHER, CHILD)
    for pid in seats:
        seats.set_state(pid, SeatState.RELEASED)
    assert len(seats) == 0


def test_the_snapshot_keeps_hashes_and_grace_not_secrets() -> None:
    seats = seated(MOTHER)
    seats["l:m"].held_until = NOW
    (saved,) = seats.snapshot()
    assert (saved.participant_id, saved.number, saved.held_until) == ("l:m", 1, NOW)
    assert saved.secret_hash == hash_secret("l:m")

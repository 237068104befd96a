"""Room: changes made on the staff pages while the call is live (refresh, withdraw,
reinstate, cancel), directly on the state machine."""

from __future__ import annotations

from datetime import timedelta

from signalling import messages as wire
from signalling.effects import CallAction, CloseReason, Disconnect, Revoke
from signalling.ports import JoinWindow
from signalling.room import RoomState
from signalling.seat import SeatState
from tests.signalling.test_room import (
    CHILD,
    COLLEAGUE,
    GUARDIAN,
    HOST,
    T0,
    at,
    in_call,
    records,
    refused,
    sent_to,
)


def test_withdraw_takes_a_waiting_person_out_and_keeps_them_out() -> None:
    room = in_call()
    room.join(GUARDIAN, at(1))
    effects = room.withdraw(GUARDIAN.participant_id, at(2))
    assert sent_to(effects, "l:g") == [wire.Removed(revoked=True)]
    assert Disconnect("l:g", CloseReason.REVOKED) in effects
    assert GUARDIAN.participant_id not in room.waiting
    assert not any(isinstance(e, Revoke) for e in effects)  # the staff page revoked it already
    with refused("link_revoked"):
        room.join(GUARDIAN, at(3))
    room.reinstate(GUARDIAN.participant_id)  # a new link was issued
    room.join(GUARDIAN, at(4))
    assert GUARDIAN.participant_id in room.waiting


def test_withdraw_from_the_call_tells_the_others() -> None:
    room = in_call(GUARDIAN, CHILD)
    effects = room.withdraw(CHILD.participant_id, at(5))
    assert room.seat_state("l:c") is None
    assert wire.PeerLeft(participant="l:c") in sent_to(effects, "l:g")
    assert (CallAction.CALL_LEFT, "l:c") in records(effects)
    assert room.withdraw("l:nobody", at(6)) == []


def test_refresh_moves_the_window_and_puts_out_who_is_no_longer_invited() -> None:
    room = in_call(COLLEAGUE, GUARDIAN)
    room.join(CHILD, at(3))
    later = JoinWindow(T0, T0 + timedelta(hours=3))
    members = {m.participant_id: m for m in (HOST, GUARDIAN)}
    effects = room.refresh(later, {"s:1"}, "s:1", members, at(4))
    assert room.window == later
    assert Disconnect("s:2", CloseReason.REVOKED) in effects
    assert Disconnect("l:c", CloseReason.REVOKED) in effects
    assert room.seat_state("l:g") is SeatState.CONNECTED
    with refused("not_staff"):
        room.join(COLLEAGUE, at(5))


def test_cancel_ends_the_session_for_everyone_once() -> None:
    room = in_call(GUARDIAN)
    room.join(CHILD, at(2))
    effects = room.cancel(at(3))
    assert room.state is RoomState.ENDED
    for pid in ("s:1", "l:g", "l:c"):
        assert wire.SessionEnded() in sent_to(effects, pid)
    assert (CallAction.SESSION_ENDED, None) in records(effects)
    assert room.cancel(at(4)) == []

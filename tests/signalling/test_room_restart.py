"""What survives a restart: shutdown holds seats, snapshot/restore give them back."""

import pytest

from signalling import messages as wire
from signalling.dispatch import handle
from signalling.effects import CallAction, CloseReason, Disconnect, Effect, Record, Send
from signalling.errors import SignallingError
from signalling.ports import CallSnapshot
from signalling.room import RoomState
from signalling.seat import SeatState, hash_secret
from tests.signalling.test_room import (
    CHILD,
    COLLEAGUE,
    GRACE,
    GUARDIAN,
    HOST,
    at,
    in_call,
    make_room,
    records,
    secret_of,
)

MEMBERS = {m.participant_id: m for m in (HOST, COLLEAGUE, GUARDIAN, CHILD)}


def test_shutdown_holds_the_seats_for_a_resume() -> None:
    room = in_call(GUARDIAN)
    room.join(CHILD, at(5))
    effects = room.shutdown(at(10))
    assert [e for e in effects if isinstance(e, Disconnect)] == [
        Disconnect(pid, CloseReason.SERVER_SHUTDOWN) for pid in ("s:1", "l:g", "l:c")]
    assert records(effects) == [(CallAction.CALL_DISCONNECTED, "s:1"),
                                (CallAction.CALL_DISCONNECTED, "l:g"),
                                (CallAction.WAITING_LEFT, "l:c")]
    assert room.seat_state("l:g") is SeatState.HELD
    assert room.next_deadline() == at(10) + GRACE
    assert room.shutdown(at(11)) == []  # once


def test_the_snapshot_keeps_only_a_hash_of_each_secret() -> None:
    room = make_room()
    secret = secret_of(room.join(HOST, at(0)), "s:1")
    snapshot = room.snapshot()
    assert snapshot.seats[0].secret_hash == hash_secret(secret)
    assert secret not in repr(snapshot)


def test_a_restored_room_gives_the_seats_back_on_resume() -> None:
    room = make_room()
    host_secret = secret_of(room.join(HOST, at(0)), "s:1")
    room.join(GUARDIAN, at(1))
    guest_secret = secret_of(room.admit("s:1", "l:g", at(2)), "l:g")
    room.join(CHILD, at(3))
    room.shutdown(at(10))
    saved = room.snapshot()

    again = make_room()
    assert again.restore(saved, MEMBERS, at(15)) == []  # seats were held: nothing to log
    assert "l:c" not in again.waiting  # waiting people knock again
    effects = again.resume("l:g", guest_secret, at(20))
    welcome = effects[0].message  # type: ignore[union-attr]
    assert isinstance(welcome, wire.Welcome) and welcome.resumed
    assert [(p.participant, p.connected, p.seat) for p in welcome.peers or ()] == [
        ("s:1", False, 1)]
    again.resume("s:1", host_secret, at(21))
    joined = again.join(COLLEAGUE, at(22))
    assert records(joined)[-1] == (CallAction.CALL_JOINED, "s:2")
    assert again.snapshot().seats[-1].number == 3  # numbering goes on


def test_seats_saved_while_connected_lost_their_socket_in_a_crash() -> None:
    room = in_call(GUARDIAN)
    saved = room.snapshot()  # as saved on admission; then the server died
    again = make_room()
    effects = again.restore(saved, MEMBERS, at(100))
    assert effects == [
        Record(CallAction.CALL_DISCONNECTED, "s:1", at(100), reason=CloseReason.CONNECTION_LOST),
        Record(CallAction.CALL_DISCONNECTED, "l:g", at(100), reason=CloseReason.CONNECTION_LOST),
    ]
    assert again.next_deadline() == at(100) + GRACE
    assert records(again.expire(at(100) + GRACE)) == [(CallAction.CALL_LEFT, "s:1"),
                                                     (CallAction.CALL_LEFT, "l:g")]


def test_a_seat_whose_holder_left_the_appointment_is_let_go() -> None:
    room = in_call(GUARDIAN)
    room.shutdown(at(10))
    again = make_room()
    effects = again.restore(room.snapshot(), {"s:1": HOST}, at(20))
    assert effects == [Record(CallAction.CALL_LEFT, "l:g", at(20), reason=CloseReason.REMOVED)]
    assert again.seat_state("l:g") is None


def test_an_ended_session_stays_ended() -> None:
    room = in_call(GUARDIAN)
    room.end("s:1", at(10))
    saved = room.snapshot()
    assert saved == CallSnapshot("a1", True, 2, ())
    again = make_room()
    again.restore(saved, MEMBERS, at(20))
    assert again.state is RoomState.ENDED and again.is_idle
    with pytest.raises(SignallingError) as caught:
        again.join(HOST, at(21))
    assert caught.value.code == "session_ended"
    assert again.shutdown(at(22)) == []


def test_restore_needs_a_new_room() -> None:
    room = in_call()
    with pytest.raises(ValueError):
        room.restore(room.snapshot(), MEMBERS, at(5))


def test_revision_moves_with_seats_not_with_relays() -> None:
    room = in_call(GUARDIAN, CHILD)
    before = room.revision
    handle(room, "l:g", wire.Signal(to="l:c", payload=wire.SdpOffer(sdp="v=0")), at(9))
    handle(room, "l:g", wire.Chat(text="hei"), at(9))
    assert room.revision == before
    room.disconnected("l:c", at(10))
    assert room.revision > before


@pytest.mark.parametrize(("sender", "request_", "code"), [
    ("l:c", wire.Chat(text="hei"), "not_admitted"),
    ("l:c", wire.Admit(participant="l:c"), "not_staff"),
    ("l:g", wire.EndSession(), "not_staff"),
    ("l:zz", wire.Leave(), "not_joined"),
    ("s:1", wire.Hello(version=("1",)), "already_joined"),
])
def test_refusals_the_identity_earned_are_recorded(
    sender: str, request_: wire.ClientMessage, code: str
) -> None:
    room = in_call(GUARDIAN)
    room.join(CHILD, at(5))
    with pytest.raises(SignallingError) as caught:
        handle(room, sender, request_, at(6))
    assert caught.value.code == code
    tag = str(type(request_).__struct_config__.tag)
    assert caught.value.records == (Record(CallAction.REQUEST_REFUSED, sender, at(6),
                                           detail={"request": tag, "code": code}),)


def test_a_stale_target_is_not_recorded() -> None:
    room = in_call(GUARDIAN)
    with pytest.raises(SignallingError) as caught:
        handle(room, "s:1", wire.Admit(participant="l:nobody"), at(6))
    assert caught.value.code == "unknown_participant" and caught.value.records == ()


def test_why_a_socket_ended_goes_into_the_record_and_the_snapshot_keeps_the_deadline() -> None:
    room = in_call(GUARDIAN)
    effects = room.disconnected("l:g", at(10), CloseReason.TOO_SLOW)
    assert effects[-1] == Record(CallAction.CALL_DISCONNECTED, "l:g", at(10),
                                 reason=CloseReason.TOO_SLOW)
    held = next(s for s in room.snapshot().seats if s.participant_id == "l:g")
    assert held.held_until == at(10) + GRACE


def _knock_of(effects: list[Effect], pid: str) -> wire.Knocked:
    return next(e.message for e in effects if isinstance(e, Send)
                and isinstance(e.message, wire.Knocked)
                and e.message.participant.participant == pid)


def test_the_returned_mark_outlives_the_room() -> None:
    """A person who left by themselves knocks as "returned" also in a room restored from
    the snapshot (a restart, or the idle room dropped and loaded again)."""
    room = in_call(GUARDIAN, CHILD)
    room.leave("l:g", at(10))
    room.leave("s:1", at(11))
    saved = room.snapshot()
    assert saved.left == ("l:g",)

    again = make_room()
    again.restore(saved, MEMBERS, at(20))
    again.join(HOST, at(21))
    assert _knock_of(again.join(GUARDIAN, at(22)), "l:g").participant.returned is True
    # Admitted again: the mark goes, and the next snapshot no longer carries it.
    again.admit("s:1", "l:g", at(23))
    assert again.snapshot().left == ()


def test_a_removed_person_is_not_restored_as_left() -> None:
    room = in_call(GUARDIAN)
    room.leave("l:g", at(10))
    again = make_room()
    again.restore(room.snapshot(), {"s:1": HOST}, at(20))
    assert again.snapshot().left == ()

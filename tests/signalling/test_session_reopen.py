"""Room.reopen (after "end for all") and the ``returned`` mark of a person who left the call
by themselves and knocks again: the state machines on their own, no I/O."""

from datetime import timedelta

from signalling import messages as wire
from signalling.effects import CloseReason, Effect, Send
from signalling.ports import CallSnapshot
from signalling.room import Room, RoomState
from signalling.waiting_room import WaitingRoom
from tests.signalling.test_room import (
    CHILD,
    COLLEAGUE,
    GRACE,
    GUARDIAN,
    HOST,
    at,
    in_call,
    make_room,
    refused,
    sent_to,
)

STAFF = ("s:1",)


def state(room: Room) -> RoomState:
    """Read afresh (a plain attribute read would be narrowed by the type checker)."""
    return room.state


def knocks(effects: list[Effect], pid: str = "s:1") -> list[wire.WaitingPerson]:
    return [m.participant for m in sent_to(effects, pid) if isinstance(m, wire.Knocked)]


def waiting_lists(effects: list[Effect]) -> list[wire.WaitingList]:
    return [e.message for e in effects
            if isinstance(e, Send) and isinstance(e.message, wire.WaitingList)]


# --- WaitingRoom on its own ------------------------------------------------------------------

def test_a_knock_carries_returned_in_the_knock_and_the_list() -> None:
    room = WaitingRoom("a1")
    room.knock(CHILD, at(0), STAFF)
    effects = room.knock(GUARDIAN, at(1), STAFF, returned=True)
    assert [p.returned for p in knocks(effects)] == [True]
    [listed] = waiting_lists(effects)
    assert [(p.participant, p.returned) for p in listed.waiting] == [("l:c", False),
                                                                      ("l:g", True)]


def test_a_new_connection_of_a_returned_person_keeps_the_mark_and_the_place() -> None:
    room = WaitingRoom("a1")
    room.knock(GUARDIAN, at(0), STAFF, returned=True)
    room.knock(CHILD, at(1), STAFF)
    assert room.replace(GUARDIAN) == 1
    assert [p.returned for p in room.waiting_list().waiting] == [True, False]


def test_returned_is_false_on_the_wire_by_default() -> None:
    person = wire.WaitingPerson(participant="l:g", display_name="G", role="guardian",
                                since=at(0), position=1)
    assert person.returned is False
    for sent in (person, wire.WaitingPerson(participant="l:g", display_name="G",
                                            role="guardian", since=at(0), position=1,
                                            returned=True)):
        data = wire.encode(wire.Knocked(participant=sent))
        assert (b'"returned":true' in data) is sent.returned
        assert wire.decode_server(data) == wire.Knocked(participant=sent)


# --- Room: who is "returned" --------------------------------------------------------------------

def test_leaving_the_call_by_oneself_then_knocking_shows_returned() -> None:
    room = in_call(GUARDIAN)
    room.leave("l:g", at(10))
    effects = room.join(GUARDIAN, at(20))
    assert [(p.participant, p.returned) for p in knocks(effects)] == [("l:g", True)]
    assert [p.returned for p in room.waiting.waiting_list().waiting] == [True]


def test_admitted_again_the_mark_is_gone() -> None:
    room = in_call(GUARDIAN)
    room.leave("l:g", at(10))
    room.join(GUARDIAN, at(20))
    room.admit("s:1", "l:g", at(21))
    # Dropped this time (not a choice), and knocking after the grace ran out: not returned.
    room.disconnected("l:g", at(30))
    room.expire(at(30) + GRACE)
    effects = room.join(GUARDIAN, at(100))
    assert [p.returned for p in knocks(effects)] == [False]


def test_a_first_knock_a_drop_or_a_move_back_is_not_returned() -> None:
    room = make_room()
    room.join(HOST, at(0))
    assert [p.returned for p in knocks(room.join(GUARDIAN, at(1)))] == [False]
    room.admit("s:1", "l:g", at(2))
    effects = room.remove("s:1", "l:g", at(3))  # moved back to the queue by staff
    assert [p.returned for p in knocks(effects)] == [False]
    room.admit("s:1", "l:g", at(4))
    room.disconnected("l:g", at(5))
    room.expire(at(5) + GRACE)
    assert [p.returned for p in knocks(room.join(GUARDIAN, at(60)))] == [False]


def test_leaving_the_queue_is_not_leaving_the_call() -> None:
    room = make_room()
    room.join(HOST, at(0))
    room.join(GUARDIAN, at(1))
    room.leave("l:g", at(2))
    assert [p.returned for p in knocks(room.join(GUARDIAN, at(3)))] == [False]


# --- Room.reopen ---------------------------------------------------------------------------------

def test_an_ended_room_reopened_lets_everyone_in_again() -> None:
    room = in_call(GUARDIAN, COLLEAGUE)
    room.end("s:1", at(10))
    assert room.state is RoomState.ENDED
    with refused("session_ended"):
        room.join(CHILD, at(11))
    revision = room.revision
    assert room.reopen(at(12)) == []
    assert state(room) is RoomState.OPEN and room.revision > revision
    assert room.snapshot() == CallSnapshot("a1", False, room.snapshot().seats_taken, ())
    effects = room.join(HOST, at(13))
    assert any(isinstance(m, wire.Welcome) and m.state == "admitted"
               for m in sent_to(effects, "s:1"))
    # The guardian was in the call when it ended (not a choice): a plain knock.
    assert [p.returned for p in knocks(room.join(GUARDIAN, at(14)))] == [False]
    room.admit("s:1", "l:g", at(15))
    assert room.seat_state("l:g") is not None


def test_reopening_an_open_or_closing_room_changes_nothing() -> None:
    room = in_call(GUARDIAN)
    revision = room.revision
    assert room.reopen(at(5)) == []
    assert room.state is RoomState.OPEN and room.revision == revision
    room.shutdown(at(6))
    assert room.reopen(at(7)) == []
    assert state(room) is RoomState.CLOSED


def test_a_restored_ended_room_reopens() -> None:
    ended = in_call(GUARDIAN)
    ended.end("s:1", at(5))
    room = make_room()
    room.restore(ended.snapshot(), {}, at(6))
    assert room.state is RoomState.ENDED
    room.reopen(at(7))
    welcome = sent_to(room.join(GUARDIAN, at(8)), "l:g")
    assert isinstance(welcome[0], wire.Welcome) and welcome[0].state == "waiting"


def test_end_twice_is_refused_the_second_time() -> None:
    room = in_call(GUARDIAN)
    room.end("s:1", at(5))
    with refused("not_joined"):
        room.end("s:1", at(5) + timedelta(milliseconds=1))
    assert CloseReason.ENDED.value == "ended"

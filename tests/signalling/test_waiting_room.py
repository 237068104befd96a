"""WaitingRoom and the admission rules of Room: per-person admission, order, the window."""

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta

import pytest

from signalling import messages as wire
from signalling.dispatch import handle
from signalling.effects import CallAction, CloseReason, Disconnect, Effect, Record, Revoke, Send
from signalling.errors import SignallingError
from signalling.ports import JoinWindow, Member
from signalling.room import Room
from signalling.waiting_room import WaitingRoom

T0 = datetime(2025, 3, 3, 10, 0, tzinfo=UTC)
WINDOW = JoinWindow(T0 - timedelta(minutes=15), T0 + timedelta(hours=1))
WORKER = Member("s:1", "Sari Sosiaali", "social_worker", is_staff=True)
GUARDIAN = Member("l:g", "Guardian", "guardian", is_staff=False)
CHILD = Member("l:c", "Child", "child", is_staff=False)
INTERPRETER = Member("l:i", "Interpreter", "interpreter", is_staff=False)
STAFF = ("s:1",)


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


def sent_to(effects: list[Effect], pid: str) -> list[wire.ServerMessage]:
    return [e.message for e in effects if isinstance(e, Send) and pid in e.to]


def queue(*members: Member) -> WaitingRoom:
    room = WaitingRoom("a1")
    for i, member in enumerate(members):
        room.knock(member, at(i), STAFF)
    return room


def make_room() -> Room:
    return Room("a1", WINDOW, {"s:1", "s:2"}, "s:1", reconnect_grace=timedelta(seconds=30))


@contextmanager
def refused(code: str) -> Iterator[None]:
    with pytest.raises(SignallingError) as caught:
        yield
    assert caught.value.code == code


# --- WaitingRoom on its own ------------------------------------------------------------------

def test_knock_tells_the_staff_present_and_records_entry() -> None:
    room = WaitingRoom("a1")
    effects = room.knock(GUARDIAN, at(0), STAFF)
    person = wire.WaitingPerson(participant="l:g", display_name="Guardian", role="guardian",
                                since=at(0), position=1)
    assert effects == [
        Send(STAFF, wire.Knocked(participant=person)),
        Send(STAFF, wire.WaitingList(waiting=(person,))),
        Record(CallAction.WAITING_ENTERED, "l:g", at(0)),
    ]


def test_knock_with_no_staff_present_only_records() -> None:
    effects = WaitingRoom("a1").knock(GUARDIAN, at(0), ())
    assert effects == [Record(CallAction.WAITING_ENTERED, "l:g", at(0))]


def test_positions_follow_arrival_order() -> None:
    room = queue(GUARDIAN, CHILD, INTERPRETER)
    assert [room.position(p) for p in ("l:g", "l:c", "l:i")] == [1, 2, 3]
    assert [p.position for p in room.waiting_list().waiting] == [1, 2, 3]


def test_leaving_moves_up_only_those_behind() -> None:
    room = queue(GUARDIAN, CHILD, INTERPRETER)
    effects = room.leave("l:c", at(5), STAFF, CloseReason.LEFT)
    assert sent_to(effects, "l:g") == []
    assert sent_to(effects, "l:i") == [wire.Waiting(position=2)]
    assert effects[-1] == Record(CallAction.WAITING_LEFT, "l:c", at(5), reason=CloseReason.LEFT)


def test_admitting_one_never_admits_another() -> None:
    room = queue(GUARDIAN, CHILD)
    member, effects = room.admit("l:g", "s:1", at(5), STAFF)
    assert member == GUARDIAN
    assert room.participant_ids == ("l:c",)
    assert sent_to(effects, "l:c") == [wire.Waiting(position=1)]
    assert Record(CallAction.ADMISSION_ADMITTED, "l:g", at(5), by="s:1") in effects


@pytest.mark.parametrize(("revoke", "reason"), [(False, CloseReason.DENIED),
                                                (True, CloseReason.REVOKED)])
def test_deny_tells_disconnects_and_records(revoke: bool, reason: CloseReason) -> None:
    room = queue(GUARDIAN)
    effects = room.deny("l:g", "s:1", at(5), STAFF, revoke=revoke)
    assert effects[:2] == [Send(("l:g",), wire.Denied(revoked=revoke)), Disconnect("l:g", reason)]
    assert (Revoke("l:g", "s:1") in effects) is revoke
    assert effects[-1] == Record(CallAction.ADMISSION_DENIED, "l:g", at(5), by="s:1",
                                 reason=reason)
    assert "l:g" not in room


@pytest.mark.parametrize("action", ["admit", "deny", "message"])
def test_acting_on_someone_not_waiting_is_unknown_participant(action: str) -> None:
    room = queue(GUARDIAN)
    with refused("unknown_participant"):
        if action == "admit":
            room.admit("l:x", "s:1", at(1), STAFF)
        elif action == "deny":
            room.deny("l:x", "s:1", at(1), STAFF)
        else:
            room.message("s:1", "l:x", "hi", at(1))


def test_message_to_one_reaches_only_them_and_records_no_text() -> None:
    room = queue(GUARDIAN, CHILD)
    effects = room.message("s:1", "l:c", "Odota hetki", at(3))
    assert effects == [
        Send(("l:c",), wire.StaffMessage(text="Odota hetki")),
        Record(CallAction.WAITING_MESSAGED, "l:c", at(3), by="s:1", detail={"recipients": 1}),
    ]


def test_message_to_all_waiting() -> None:
    effects = queue(GUARDIAN, CHILD).message("s:1", None, "5 min", at(3))
    assert effects[0] == Send(("l:g", "l:c"), wire.StaffMessage(text="5 min", to_all=True))
    assert effects[1] == Record(CallAction.WAITING_MESSAGED, None, at(3), by="s:1",
                                detail={"recipients": 2})


def test_replacing_a_waiting_connection_keeps_the_place() -> None:
    room = queue(GUARDIAN, CHILD)
    renamed = Member("l:g", "Guardian (phone)", "guardian", is_staff=False)
    assert room.replace(renamed) == 1
    assert room.waiting_list().waiting[0].since == at(0)
    assert room.waiting_list().waiting[0].display_name == "Guardian (phone)"


def test_state_changes_are_logged_old_to_new(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="signalling.waiting_room")
    room = queue(GUARDIAN)
    room.admit("l:g", "s:1", at(1), STAFF)
    moves = [(r.__dict__["old"], r.__dict__["new"]) for r in caplog.records
             if r.msg == "waiting.state"]
    assert moves == [(None, "waiting"), ("waiting", "admitted")]
    assert all("Guardian" not in r.getMessage() for r in caplog.records)


@pytest.mark.parametrize("pid", ["", "a/b", "a b", "x" * 65, "a\n"])
def test_member_ids_follow_the_wire_rule(pid: str) -> None:
    with pytest.raises(ValueError, match="participant_id"):
        Member(pid, "n", "guardian", is_staff=False)


def test_join_window_must_be_aware_and_ordered() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        JoinWindow(datetime(2025, 1, 1), datetime(2025, 1, 2))
    with pytest.raises(ValueError, match="opens after"):
        JoinWindow(at(10), at(0))


# --- admission through Room ------------------------------------------------------------------

@pytest.mark.parametrize("when", [WINDOW.opens_at - timedelta(seconds=1),
                                  WINDOW.closes_at + timedelta(seconds=1)])
@pytest.mark.parametrize("member", [GUARDIAN, WORKER])
def test_knock_outside_window_is_refused(when: datetime, member: Member) -> None:
    room = make_room()
    with pytest.raises(SignallingError) as caught:
        room.join(member, when)
    assert caught.value.code == "outside_join_window"
    assert (caught.value.opens_at, caught.value.closes_at) == (WINDOW.opens_at, WINDOW.closes_at)
    assert caught.value.fatal
    assert room.is_idle


@pytest.mark.parametrize("when", [WINDOW.opens_at, WINDOW.closes_at])
def test_window_edges_are_open(when: datetime) -> None:
    assert make_room().join(GUARDIAN, when)


def test_family_waits_and_learns_its_position() -> None:
    room = make_room()
    room.join(GUARDIAN, at(0))
    effects = room.join(CHILD, at(1))
    welcome = sent_to(effects, "l:c")[0]
    assert isinstance(welcome, wire.Welcome)
    assert (welcome.state, welcome.position, welcome.resume_secret, welcome.peers) == (
        "waiting", 2, None, None)
    assert (welcome.opens_at, welcome.closes_at) == (WINDOW.opens_at, WINDOW.closes_at)


def test_staff_arrival_admits_nobody_but_shows_the_queue() -> None:
    room = make_room()
    room.join(GUARDIAN, at(0))
    room.join(CHILD, at(1))
    effects = room.join(WORKER, at(2))
    assert room.waiting.participant_ids == ("l:g", "l:c")
    assert sent_to(effects, "l:g") == [] and sent_to(effects, "l:c") == []
    waiting_list = sent_to(effects, "s:1")[1]
    assert isinstance(waiting_list, wire.WaitingList)
    assert [p.participant for p in waiting_list.waiting] == ["l:g", "l:c"]


def test_waiting_people_do_not_see_each_other() -> None:
    room = make_room()
    room.join(WORKER, at(0))
    room.join(GUARDIAN, at(1))
    effects = room.join(CHILD, at(2))
    assert sent_to(effects, "l:g") == []
    assert [type(m) for m in sent_to(effects, "s:1")] == [wire.Knocked, wire.WaitingList]


@pytest.mark.parametrize("request_", [wire.Admit(participant="l:c"), wire.Deny(participant="l:c"),
                                      wire.Remove(participant="s:1"), wire.EndSession(),
                                      wire.MessageWaiting(text="hi", to_all=True)])
def test_staff_actions_by_a_family_member_are_fatal(request_: wire.ClientMessage) -> None:
    room = make_room()
    room.join(WORKER, at(0))
    room.join(GUARDIAN, at(1))
    room.admit("s:1", "l:g", at(2))
    room.join(CHILD, at(3))
    for sender in ("l:g", "l:c"):  # admitted and waiting alike
        with pytest.raises(SignallingError) as caught:
            handle(room, sender, request_, at(4))
        assert caught.value.code == "not_staff"
        assert caught.value.close_reason is CloseReason.POLICY
    assert "l:c" in room.waiting


def test_any_staff_of_the_appointment_may_admit() -> None:
    room = make_room()
    room.join(Member("s:2", "Other worker", "social_worker", is_staff=True), at(0))
    room.join(GUARDIAN, at(1))
    effects = room.admit("s:2", "l:g", at(2))
    assert Record(CallAction.ADMISSION_ADMITTED, "l:g", at(2), by="s:2") in effects


def test_staff_of_another_appointment_is_not_staff_here() -> None:
    with refused("not_staff"):
        make_room().join(Member("s:9", "Stranger", "social_worker", is_staff=True), at(0))


def test_waiting_socket_drop_leaves_the_queue() -> None:
    room = make_room()
    room.join(WORKER, at(0))
    room.join(GUARDIAN, at(1))
    effects = room.disconnected("l:g", at(2))
    assert "l:g" not in room.waiting
    assert effects[-1] == Record(CallAction.WAITING_LEFT, "l:g", at(2),
                                 reason=CloseReason.CONNECTION_LOST)
    assert sent_to(effects, "s:1") == [wire.WaitingList(waiting=())]


def test_waiting_person_can_leave() -> None:
    room = make_room()
    room.join(GUARDIAN, at(1))
    effects = handle(room, "l:g", wire.Leave(), at(2))
    assert effects == [Record(CallAction.WAITING_LEFT, "l:g", at(2), reason=CloseReason.LEFT),
                       Disconnect("l:g", CloseReason.LEFT)]


def test_denied_person_may_knock_again_but_revoked_may_not() -> None:
    room = make_room()
    room.join(WORKER, at(0))
    room.join(GUARDIAN, at(1))
    room.deny("s:1", "l:g", at(2))
    assert room.join(GUARDIAN, at(3))
    room.deny("s:1", "l:g", at(4), revoke=True)
    with refused("link_revoked"):
        room.join(GUARDIAN, at(5))

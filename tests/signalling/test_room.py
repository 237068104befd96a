"""Room: seats, mesh relay, cap, removal, end, reconnect grace and the usage-log spells."""

import itertools
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from signalling import messages as wire
from signalling.dispatch import handle
from signalling.effects import CallAction, CloseReason, Disconnect, Effect, Record, Revoke, Send
from signalling.errors import SignallingError
from signalling.ports import JoinWindow, Member
from signalling.room import Room, RoomState
from signalling.seat import SeatState

T0 = datetime(2025, 3, 3, 10, 0, tzinfo=UTC)
WINDOW = JoinWindow(T0 - timedelta(minutes=15), T0 + timedelta(hours=1))
GRACE = timedelta(seconds=30)
HOST = Member("s:1", "Sari Sosiaali", "social_worker", is_staff=True)
COLLEAGUE = Member("s:2", "Pekka Perhetyö", "family_worker", is_staff=True)
GUARDIAN = Member("l:g", "Guardian", "guardian", is_staff=False)
CHILD = Member("l:c", "Child", "child", is_staff=False)
OFFER = wire.SdpOffer(sdp="v=0\r\n")


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def make_room(max_participants: int = 6) -> Room:
    counter = itertools.count(1)
    return Room("a1", WINDOW, {"s:1", "s:2"}, "s:1", reconnect_grace=GRACE,
                max_participants=max_participants,
                new_secret=lambda: f"secret-{next(counter):04d}-padding")


def in_call(*members: Member) -> Room:
    """A room where HOST and then each of ``members`` are admitted, one second apart."""
    room = make_room()
    room.join(HOST, at(0))
    for i, member in enumerate(members, 1):
        room.join(member, at(i))
        if not member.is_staff:
            room.admit("s:1", member.participant_id, at(i))
    return room


def sent_to(effects: list[Effect], pid: str) -> list[wire.ServerMessage]:
    return [e.message for e in effects if isinstance(e, Send) and pid in e.to]


def records(effects: list[Effect]) -> list[tuple[CallAction, str | None]]:
    return [(e.action, e.participant_id) for e in effects if isinstance(e, Record)]


@contextmanager
def refused(code: str) -> Iterator[None]:
    with pytest.raises(SignallingError) as caught:
        yield
    assert caught.value.code == code


def secret_of(effects: list[Effect], pid: str) -> str:
    for message in sent_to(effects, pid):
        if isinstance(message, wire.Welcome | wire.Admitted) and message.resume_secret:
            return message.resume_secret
    raise AssertionError("no resume secret sent")


# --- seats ------------------------------------------------------------------------------------

def test_staff_enter_directly_with_a_resume_secret() -> None:
    room = make_room()
    effects = room.join(HOST, at(0))
    assert effects == [
        Send(("s:1",), wire.Welcome(
            version="1", participant="s:1", state="admitted", staff=True,
            opens_at=WINDOW.opens_at, closes_at=WINDOW.closes_at,
            resume_secret="secret-0001-padding", peers=())),
        Send(("s:1",), wire.WaitingList(waiting=())),
        Record(CallAction.CALL_JOINED, "s:1", at(0)),
    ]
    assert room.seat_state("s:1") is SeatState.CONNECTED


def test_admission_seats_one_person_and_the_call_learns_of_them() -> None:
    room = make_room()
    room.join(HOST, at(0))
    room.join(GUARDIAN, at(1))
    effects = room.admit("s:1", "l:g", at(2))
    host_peer = wire.Peer(participant="s:1", display_name="Sari Sosiaali", role="social_worker",
                          staff=True, host=True, connected=True, seat=1)
    guardian_peer = wire.Peer(participant="l:g", display_name="Guardian", role="guardian",
                              staff=False, host=False, connected=True, seat=2)
    assert effects == [
        Send(("l:g",), wire.Admitted(resume_secret="secret-0002-padding", peers=(host_peer,))),
        Send(("s:1",), wire.WaitingList(waiting=())),
        Record(CallAction.ADMISSION_ADMITTED, "l:g", at(2), by="s:1"),
        Send(("s:1",), wire.PeerJoined(peer=guardian_peer)),
        Record(CallAction.CALL_JOINED, "l:g", at(2)),
    ]


def test_peers_never_carry_contacts_or_secrets() -> None:
    room = in_call(GUARDIAN)
    effects = room.join(COLLEAGUE, at(5))
    welcome = sent_to(effects, "s:2")[0]
    assert isinstance(welcome, wire.Welcome) and welcome.peers
    assert set(wire.Peer.__struct_fields__) == {
        "participant", "display_name", "role", "staff", "host", "connected", "seat"}
    assert [p.participant for p in welcome.peers] == ["s:1", "l:g"]


@pytest.mark.parametrize("filled_by_staff", [False, True])
def test_room_is_capped(filled_by_staff: bool) -> None:
    room = make_room(max_participants=2)
    room.join(HOST, at(0))
    room.join(GUARDIAN, at(1))
    room.join(CHILD, at(2))
    if filled_by_staff:
        room.join(COLLEAGUE, at(3))
    else:
        room.admit("s:1", "l:g", at(3))
    with refused("room_full"):
        room.admit("s:1", "l:c", at(4))
    assert "l:c" in room.waiting
    late_staff = COLLEAGUE if not filled_by_staff else HOST
    if not filled_by_staff:
        with refused("room_full"):
            room.join(late_staff, at(5))


def test_a_held_seat_counts_against_the_cap() -> None:
    room = make_room(max_participants=2)
    room.join(HOST, at(0))
    room.join(GUARDIAN, at(1))
    room.admit("s:1", "l:g", at(2))
    room.disconnected("l:g", at(3))
    room.join(CHILD, at(4))
    with refused("room_full"):
        room.admit("s:1", "l:c", at(5))
    room.expire(at(3) + GRACE)
    assert room.admit("s:1", "l:c", at(40))


# --- mesh relay ----------------------------------------------------------------------------------

def test_signal_is_relayed_to_one_peer_with_from() -> None:
    room = in_call(GUARDIAN, CHILD)
    effects = handle(room, "l:g", wire.Signal(to="l:c", payload=OFFER), at(9))
    assert effects == [Send(("l:c",), wire.SignalRelayed(from_="l:g", payload=OFFER))]


def test_signal_from_a_waiting_person_is_refused_and_recorded() -> None:
    room = in_call(GUARDIAN)
    room.join(CHILD, at(5))
    with pytest.raises(SignallingError) as caught:
        handle(room, "l:c", wire.Signal(to="s:1", payload=OFFER), at(6))
    assert caught.value.code == "not_admitted" and not caught.value.fatal
    assert caught.value.records == (Record(CallAction.SIGNAL_REFUSED, "l:c", at(6)),)


@pytest.mark.parametrize("target", ["l:g", "l:c", "l:nobody", "s:2"])
def test_signal_to_anyone_but_a_connected_peer_is_unknown_peer(target: str) -> None:
    room = in_call(GUARDIAN, CHILD)  # l:g sends; l:c drops, s:2 never came
    room.disconnected("l:c", at(5))
    with refused("unknown_peer"):
        handle(room, "l:g", wire.Signal(to=target, payload=OFFER), at(6))


def test_signal_to_a_waiting_person_is_unknown_peer() -> None:
    room = in_call(GUARDIAN)
    room.join(CHILD, at(5))
    with refused("unknown_peer"):
        handle(room, "l:g", wire.Signal(to="l:c", payload=OFFER), at(6))


def test_chat_reaches_connected_participants_and_records_no_text() -> None:
    room = in_call(GUARDIAN, CHILD)
    room.disconnected("l:c", at(5))
    room.join(Member("l:x", "Teacher", "school_staff", is_staff=False), at(6))
    effects = handle(room, "l:g", wire.Chat(text="Kuuluuko?"), at(7))
    assert effects == [
        Send(("s:1",), wire.ChatRelayed(from_="l:g", text="Kuuluuko?", at=at(7))),
        Record(CallAction.CHAT_SENT, "l:g", at(7), detail={"recipients": 1}),
    ]


def test_chat_from_a_waiting_person_is_not_admitted() -> None:
    room = in_call()
    room.join(GUARDIAN, at(1))
    with refused("not_admitted"):
        handle(room, "l:g", wire.Chat(text="hei"), at(2))


def test_requests_from_strangers_are_not_joined() -> None:
    with refused("not_joined"):
        handle(in_call(), "l:zz", wire.Chat(text="hei"), at(2))


def test_second_hello_on_a_joined_socket_is_refused() -> None:
    with refused("already_joined"):
        handle(in_call(), "s:1", wire.Hello(version=("1",)), at(2))


# --- replacing a connection -------------------------------------------------------------------

def test_family_member_reconnecting_with_the_link_waits_again() -> None:
    room = in_call(GUARDIAN, CHILD)
    effects = room.join(GUARDIAN, at(10))
    assert effects[0] == Disconnect("l:g", CloseReason.REPLACED)
    assert sent_to(effects, "l:c")[0] == wire.PeerLeft(participant="l:g")
    assert Record(CallAction.CALL_LEFT, "l:g", at(10), reason=CloseReason.REPLACED) in effects
    assert "l:g" in room.waiting and room.seat_state("l:g") is None
    assert isinstance(sent_to(effects, "s:1")[1], wire.Knocked)


def test_staff_reconnecting_takes_a_new_seat() -> None:
    room = in_call(GUARDIAN)
    effects = room.join(HOST, at(10))
    assert effects[0] == Disconnect("s:1", CloseReason.REPLACED)
    to_guardian = sent_to(effects, "l:g")
    assert to_guardian[0] == wire.PeerLeft(participant="s:1")
    assert isinstance(to_guardian[1], wire.PeerJoined) and to_guardian[1].peer.seat == 3


def test_waiting_person_reconnecting_keeps_the_place() -> None:
    room = in_call()
    room.join(GUARDIAN, at(1))
    room.join(CHILD, at(2))
    effects = room.join(CHILD, at(3))
    assert effects[0] == Disconnect("l:c", CloseReason.REPLACED)
    welcome = sent_to(effects, "l:c")[0]
    assert isinstance(welcome, wire.Welcome) and welcome.position == 2
    assert records(effects) == []


# --- reconnect grace --------------------------------------------------------------------------

def test_dropped_seat_is_held_and_peers_are_told() -> None:
    room = in_call(GUARDIAN)
    effects = room.disconnected("l:g", at(10))
    assert effects == [
        Send(("s:1",), wire.PeerDisconnected(participant="l:g", until=at(10) + GRACE)),
        Record(CallAction.CALL_DISCONNECTED, "l:g", at(10), reason=CloseReason.CONNECTION_LOST),
    ]
    assert room.seat_state("l:g") is SeatState.HELD
    assert room.next_deadline() == at(10) + GRACE
    assert room.disconnected("l:g", at(11)) == []


def test_resume_within_grace_restores_the_seat_without_admission() -> None:
    room = make_room()
    room.join(HOST, at(0))
    room.join(GUARDIAN, at(1))
    secret = secret_of(room.admit("s:1", "l:g", at(2)), "l:g")
    room.disconnected("l:g", at(10))
    effects = room.resume("l:g", secret, at(20), fresh=True)
    welcome = sent_to(effects, "l:g")[0]
    assert isinstance(welcome, wire.Welcome)
    assert (welcome.state, welcome.resumed, welcome.resume_secret) == (
        "admitted", True, "secret-0003-padding")
    assert sent_to(effects, "s:1") == [wire.PeerReconnected(participant="l:g", seat=2, fresh=True)]
    assert effects[-1] == Record(CallAction.CALL_RECONNECTED, "l:g", at(20))
    assert room.next_deadline() is None
    assert "l:g" not in room.waiting


def test_resume_needs_no_join_window() -> None:
    room = in_call(GUARDIAN)
    secret = secret_of(room.join(HOST, at(10)), "s:1")
    late = WINDOW.closes_at + timedelta(minutes=30)
    room.disconnected("s:1", late)
    assert room.resume("s:1", secret, late + timedelta(seconds=5))


@pytest.mark.parametrize(("case", "when"), [
    ("wrong_secret", 15), ("used_secret", 15), ("grace_over", 40), ("non_ascii_secret", 15),
    ("never_seated", 15)])
def test_resume_refusals_all_look_alike(case: str, when: int) -> None:
    room = make_room()
    room.join(HOST, at(0))
    room.join(GUARDIAN, at(1))
    secret = secret_of(room.admit("s:1", "l:g", at(2)), "l:g")
    room.disconnected("l:g", at(10))
    pid = "l:g"
    if case == "wrong_secret":
        secret = "secret-9999-padding"
    elif case == "used_secret":
        room.resume("l:g", secret, at(11))
        room.disconnected("l:g", at(12))
    elif case == "non_ascii_secret":
        secret = "sécret-0002-padding"
    elif case == "never_seated":
        room.join(CHILD, at(3))
        pid = "l:c"
    with pytest.raises(SignallingError) as caught:
        room.resume(pid, secret, at(when))
    assert (caught.value.code, caught.value.fatal) == ("resume_failed", False)


def test_resume_while_old_socket_looks_alive_replaces_it() -> None:
    room = make_room()
    secret = secret_of(room.join(HOST, at(0)), "s:1")
    effects = room.resume("s:1", secret, at(5))
    assert effects[:2] == [
        Disconnect("s:1", CloseReason.REPLACED),
        Record(CallAction.CALL_DISCONNECTED, "s:1", at(5), reason=CloseReason.REPLACED),
    ]
    assert isinstance(sent_to(effects, "s:1")[1], wire.WaitingList)


def test_grace_expiry_frees_the_seat_and_they_must_knock_again() -> None:
    room = in_call(GUARDIAN)
    room.disconnected("l:g", at(10))
    assert room.expire(at(10) + GRACE - timedelta(microseconds=1)) == []
    effects = room.expire(at(10) + GRACE)
    assert effects == [
        Send(("s:1",), wire.PeerLeft(participant="l:g")),
        Record(CallAction.CALL_LEFT, "l:g", at(40), reason=CloseReason.RECONNECT_EXPIRED),
    ]
    assert room.next_deadline() is None
    welcome = sent_to(room.join(GUARDIAN, at(50)), "l:g")[0]
    assert isinstance(welcome, wire.Welcome) and welcome.state == "waiting"


# --- remove and end ------------------------------------------------------------------------------

def test_remove_back_to_the_waiting_room() -> None:
    room = in_call(GUARDIAN, CHILD)
    effects = handle(room, "s:1", wire.Remove(participant="l:g"), at(10))
    assert sent_to(effects, "l:g") == [wire.Removed(revoked=False), wire.Waiting(position=1)]
    assert sent_to(effects, "l:c") == [wire.PeerLeft(participant="l:g")]
    assert records(effects) == [(CallAction.PARTICIPANT_REMOVED, "l:g"),
                                (CallAction.CALL_LEFT, "l:g"),
                                (CallAction.WAITING_ENTERED, "l:g")]
    assert not any(isinstance(e, Disconnect | Revoke) for e in effects)
    assert "l:g" in room.waiting


def test_remove_with_revoke_closes_and_revokes_the_link() -> None:
    room = in_call(GUARDIAN)
    effects = room.remove("s:1", "l:g", at(10), revoke=True)
    assert effects[:2] == [Send(("l:g",), wire.Removed(revoked=True)),
                           Disconnect("l:g", CloseReason.REVOKED)]
    assert effects[-1] == Revoke("l:g", "s:1")
    with refused("link_revoked"):
        room.join(GUARDIAN, at(11))


def test_removing_a_held_seat_needs_no_socket() -> None:
    room = in_call(GUARDIAN)
    room.disconnected("l:g", at(5))
    effects = room.remove("s:1", "l:g", at(10))
    assert sent_to(effects, "l:g") == []
    assert room.next_deadline() is None and "l:g" not in room.waiting


@pytest.mark.parametrize(("target", "code"), [("s:2", "staff_cannot_be_removed"),
                                              ("l:zz", "unknown_participant")])
def test_remove_refusals(target: str, code: str) -> None:
    room = in_call(COLLEAGUE)
    with refused(code):
        room.remove("s:1", target, at(10))


def test_end_closes_everyone_and_bars_the_door() -> None:
    room = in_call(GUARDIAN, CHILD)
    room.disconnected("l:c", at(5))
    room.join(Member("l:x", "Teacher", "school_staff", is_staff=False), at(6))
    effects = handle(room, "s:1", wire.EndSession(), at(10))
    assert effects[0] == Send(("s:1", "l:g", "l:x"), wire.SessionEnded())
    assert [e for e in effects if isinstance(e, Disconnect)] == [
        Disconnect(pid, CloseReason.ENDED) for pid in ("s:1", "l:g", "l:x")]
    assert records(effects) == [(CallAction.CALL_LEFT, "s:1"), (CallAction.CALL_LEFT, "l:g"),
                                (CallAction.CALL_LEFT, "l:c"), (CallAction.WAITING_LEFT, "l:x"),
                                (CallAction.SESSION_ENDED, None)]
    assert room.state is RoomState.ENDED and room.is_idle
    with refused("session_ended"):
        room.join(GUARDIAN, at(11))
    with refused("session_ended"):
        room.resume("l:c", "x" * 20, at(11))


def test_shutdown_closes_everyone_with_server_shutdown() -> None:
    room = in_call(GUARDIAN)
    room.join(CHILD, at(5))
    effects = room.shutdown(at(10))
    assert [e for e in effects if isinstance(e, Disconnect)] == [
        Disconnect(pid, CloseReason.SERVER_SHUTDOWN) for pid in ("s:1", "l:g", "l:c")]
    assert not any(isinstance(e, Send) for e in effects)
    assert room.state is RoomState.CLOSED


# --- attendance and the content rule ----------------------------------------------------------

@dataclass
class Attendance:
    first_joined: datetime | None = None
    last_left: datetime | None = None
    connected: timedelta = timedelta(0)
    since: datetime | None = field(default=None, repr=False)


def attendance(rows: list[Record]) -> dict[str, Attendance]:
    """What the usage log can tell from call records alone."""
    result: dict[str, Attendance] = {}
    for row in rows:
        if row.participant_id is None:
            continue
        a = result.setdefault(row.participant_id, Attendance())
        if row.action in (CallAction.CALL_JOINED, CallAction.CALL_RECONNECTED):
            a.first_joined = a.first_joined or row.at
            a.since = row.at
        elif row.action in (CallAction.CALL_DISCONNECTED, CallAction.CALL_LEFT):
            if a.since is not None:
                a.connected += row.at - a.since
                a.since = None
            if row.action is CallAction.CALL_LEFT:
                a.last_left = row.at
    return result


def test_records_are_enough_for_attendance() -> None:
    room = make_room()
    log: list[Effect] = []
    log += room.join(HOST, at(0))
    log += room.join(GUARDIAN, at(60))
    log += room.admit("s:1", "l:g", at(120))
    secret = secret_of(log, "l:g")
    log += room.disconnected("l:g", at(600))
    log += room.resume("l:g", secret, at(610))
    log += handle(room, "l:g", wire.Chat(text="salainen"), at(700))
    log += handle(room, "l:g", wire.Leave(), at(1200))
    log += room.end("s:1", at(1800))
    rows = [e for e in log if isinstance(e, Record)]
    guardian = attendance(rows)["l:g"]
    assert guardian.last_left == at(1200)
    assert guardian.connected == timedelta(seconds=1200 - 120 - 10)
    assert attendance(rows)["s:1"].connected == timedelta(seconds=1800)
    for row in rows:
        assert all(isinstance(v, int) for v in row.detail.values())
        assert "salainen" not in repr(row) and "Guardian" not in repr(row)


# --- random sequences keep the invariants -----------------------------------------------------

MEMBERS = [HOST, COLLEAGUE, GUARDIAN, CHILD, Member("l:i", "Interpreter", "interpreter", False)]
OPS = ["join", "admit", "deny", "remove", "leave", "drop", "resume", "expire", "chat", "signal"]


@settings(max_examples=200)
@given(st.lists(st.tuples(st.sampled_from(OPS), st.integers(0, 4), st.integers(0, 4),
                          st.integers(0, 40)), max_size=40))
def test_random_sequences_keep_the_invariants(steps: list[tuple[str, int, int, int]]) -> None:
    room = make_room(max_participants=3)
    secrets: dict[str, str] = {}
    now, log = at(0), []
    for op, a, b, dt in steps:
        now += timedelta(seconds=dt)
        actor, target = MEMBERS[a], MEMBERS[b].participant_id
        try:
            match op:
                case "join":
                    effects = room.join(actor, now)
                case "admit":
                    effects = room.admit(actor.participant_id, target, now)
                case "deny":
                    effects = room.deny(actor.participant_id, target, now)
                case "remove":
                    effects = room.remove(actor.participant_id, target, now)
                case "leave":
                    effects = room.leave(actor.participant_id, now)
                case "drop":
                    effects = room.disconnected(actor.participant_id, now)
                case "resume":
                    pid = actor.participant_id
                    effects = room.resume(pid, secrets.get(pid, "x" * 20), now)
                case "expire":
                    effects = room.expire(now)
                case "chat":
                    effects = room.chat(actor.participant_id, "hei", now)
                case _:
                    effects = room.relay_signal(actor.participant_id,
                                                wire.Signal(to=target, payload=OFFER), now)
        except SignallingError as exc:
            effects = list(exc.records)
        log += effects
        for e in effects:
            if isinstance(e, Send):
                wire.encode(e.message)
                if isinstance(e.message, wire.Welcome | wire.Admitted) and e.message.resume_secret:
                    secrets[e.to[0]] = e.message.resume_secret
        seated = {m.participant_id for m in MEMBERS if room.seat_state(m.participant_id)}
        assert len(seated) <= 3
        assert not seated & set(room.waiting.participant_ids)
        assert not any(room.waiting.participant_ids.count(p) > 1 for p in seated)
    assert_spells_are_well_formed([e for e in log if isinstance(e, Record)])


def assert_spells_are_well_formed(rows: list[Record]) -> None:
    """Each call spell is joined … left with disconnect/reconnect alternating in between."""
    state: dict[str, str] = {}
    for row in rows:
        pid = row.participant_id
        if pid is None:
            continue
        current = state.get(pid, "out")
        match row.action:
            case CallAction.CALL_JOINED:
                assert current == "out", (pid, row)
                state[pid] = "in"
            case CallAction.CALL_DISCONNECTED:
                assert current == "in", (pid, row)
                state[pid] = "away"
            case CallAction.CALL_RECONNECTED:
                assert current == "away", (pid, row)
                state[pid] = "in"
            case CallAction.CALL_LEFT:
                assert current in ("in", "away"), (pid, row)
                state[pid] = "out"

"""Waiting-room texts both ways: staff to one person or (explicitly) all, a waiting
person's reply to the staff present, the limits, and clearing when a stay ends."""

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta

import pytest

from signalling import messages as wire
from signalling.dispatch import handle
from signalling.effects import CallAction, CloseReason, Effect, Record, Send
from signalling.errors import SignallingError
from signalling.ports import JoinWindow, Member
from signalling.room import Room
from signalling.waiting_room import (
    REPLY_BURST,
    REPLY_EVERY,
    REPLY_MAX_CHARS,
    STAFF_TEXT_MAX_CHARS,
    WaitingRoom,
)

T0 = datetime(2025, 3, 3, 10, 0, tzinfo=UTC)
WINDOW = JoinWindow(T0 - timedelta(minutes=15), T0 + timedelta(hours=1))
WORKER = Member("s:1", "Sari Sosiaali", "social_worker", is_staff=True)
OTHER_WORKER = Member("s:2", "Olli Ohjaaja", "social_worker", is_staff=True)
MOTHER = Member("l:m", "Maija Virtanen", "guardian", is_staff=False)
FATHER = Member("l:f", "Pekka Virtanen", "guardian", is_staff=False)
STAFF = ("s:1",)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def sent_to(effects: list[Effect], pid: str) -> list[wire.ServerMessage]:
    return [e.message for e in effects if isinstance(e, Send) and pid in e.to]


def queue(*members: Member) -> WaitingRoom:
    room = WaitingRoom("a1")
    for i, member in enumerate(members):
        room.knock(member, at(i), STAFF)
    return room


def call_with_both_guardians_waiting() -> Room:
    room = Room("a1", WINDOW, {"s:1", "s:2"}, "s:1", reconnect_grace=timedelta(seconds=30))
    room.join(WORKER, at(0))
    room.join(MOTHER, at(1))
    room.join(FATHER, at(2))
    return room


@contextmanager
def refused(code: str) -> Iterator[None]:
    with pytest.raises(SignallingError) as caught:
        yield
    assert caught.value.code == code
    assert not caught.value.fatal, "a refused text leaves the socket open"


# --- staff → waiting -------------------------------------------------------------------------

def test_text_to_one_guardian_reaches_only_that_guardian() -> None:
    room = queue(MOTHER, FATHER)
    effects = room.message("s:1", "l:f", "Isä, odota hetki", at(5))
    assert sent_to(effects, "l:f") == [wire.StaffMessage(text="Isä, odota hetki")]
    assert sent_to(effects, "l:m") == []
    assert effects[-1] == Record(CallAction.WAITING_MESSAGED, "l:f", at(5), by="s:1",
                                 detail={"recipients": 1})


def test_colleagues_present_see_the_text_but_not_the_sender_again() -> None:
    """Two professionals in the call: both see the same conversation with the waiting
    room, whoever of them wrote."""
    room = call_with_both_guardians_waiting()
    room.join(OTHER_WORKER, at(3))
    effects = handle(room, "s:1", wire.MessageWaiting(text="Hetki vain", to="l:m"), at(5))
    assert sent_to(effects, "s:2") == [wire.WaitingMessageSent(
        by="s:1", by_name="Sari Sosiaali", to=("l:m",), text="Hetki vain", at=at(5))]
    assert sent_to(effects, "s:1") == []
    effects = handle(room, "s:2", wire.MessageWaiting(text="5 min", to_all=True), at(6))
    (copy,) = sent_to(effects, "s:1")
    assert copy == wire.WaitingMessageSent(by="s:2", by_name="Olli Ohjaaja",
                                           to=("l:m", "l:f"), to_all=True, text="5 min",
                                           at=at(6))


def test_a_text_with_no_recipient_is_refused_on_the_wire() -> None:
    with pytest.raises(SignallingError) as caught:
        wire.decode_client('{"type":"message-waiting","text":"hei"}')
    assert caught.value.code == "bad_message"
    assert "to_all" in caught.value.message


def test_to_all_is_explicit_and_reaches_everyone_waiting() -> None:
    room = call_with_both_guardians_waiting()
    effects = handle(room, "s:1", wire.MessageWaiting(text="5 min", to_all=True), at(5))
    for pid in ("l:m", "l:f"):
        assert sent_to(effects, pid) == [wire.StaffMessage(text="5 min", to_all=True)]


def test_text_to_someone_not_waiting_is_a_clear_error() -> None:
    room = queue(MOTHER)
    with refused("unknown_participant"):
        room.message("s:1", "l:f", "hei", at(5))
    with pytest.raises(SignallingError) as caught:
        room.message("s:1", "l:f", "hei", at(5))
    assert "l:f is not waiting" in caught.value.message


def test_text_to_someone_admitted_is_a_clear_error() -> None:
    room = call_with_both_guardians_waiting()
    room.admit("s:1", "l:m", at(5))
    with refused("unknown_participant"):
        room.message_waiting("s:1", "l:m", "hei", at(6))


@pytest.mark.parametrize(("text", "code"), [
    ("x" * (STAFF_TEXT_MAX_CHARS + 1), "text_too_long"),
    ("   \n ", "text_empty"),
])
def test_staff_text_too_long_or_blank_is_refused(text: str, code: str) -> None:
    room = queue(MOTHER)
    with refused(code):
        room.message("s:1", "l:m", text, at(5))
    room.message("s:1", "l:m", "x" * STAFF_TEXT_MAX_CHARS, at(5))


def test_only_staff_may_text_the_waiting_room() -> None:
    room = call_with_both_guardians_waiting()
    with pytest.raises(SignallingError) as caught:
        handle(room, "l:m", wire.MessageWaiting(text="hei", to="l:f"), at(5))
    assert caught.value.code == "not_staff"


# --- waiting → staff -------------------------------------------------------------------------

def test_reply_goes_to_the_staff_present_with_the_senders_name() -> None:
    room = queue(MOTHER, FATHER)
    effects = room.reply("l:m", "Selvä", at(5), ("s:1", "s:2"))
    reply = wire.WaitingReply(from_="l:m", display_name="Maija Virtanen", text="Selvä",
                              at=at(5))
    assert effects == [
        Send(("s:1", "s:2"), reply),
        Record(CallAction.WAITING_REPLIED, "l:m", at(5), detail={"recipients": 2}),
    ]
    assert sent_to(effects, "l:f") == []  # never to another waiting person


def test_reply_is_recorded_without_its_text() -> None:
    effects = queue(MOTHER).reply("l:m", "Salainen asia", at(5), STAFF)
    record = effects[-1]
    assert isinstance(record, Record)
    assert "Salainen" not in repr(record)


def test_reply_through_the_room_reaches_only_staff_in_the_call() -> None:
    room = call_with_both_guardians_waiting()
    effects = handle(room, "l:f", wire.Reply(text="Olemme täällä"), at(5))
    (message,) = sent_to(effects, "s:1")
    assert message == wire.WaitingReply(from_="l:f", display_name="Pekka Virtanen",
                                        text="Olemme täällä", at=at(5))
    assert sent_to(effects, "l:m") == [] and sent_to(effects, "s:2") == []


@pytest.mark.parametrize("sender", ["s:1", "l:m", "l:x"])
def test_only_waiting_people_may_reply(sender: str) -> None:
    room = call_with_both_guardians_waiting()
    room.admit("s:1", "l:m", at(3))
    with refused("not_waiting"):
        handle(room, sender, wire.Reply(text="hei"), at(5))


def test_reply_with_no_staff_present_is_a_clear_error() -> None:
    room = queue(MOTHER)
    with refused("no_staff_present"):
        room.reply("l:m", "hei", at(5), ())


@pytest.mark.parametrize(("text", "code"), [
    ("x" * (REPLY_MAX_CHARS + 1), "text_too_long"),
    (" ", "text_empty"),
])
def test_reply_too_long_or_blank_is_refused(text: str, code: str) -> None:
    room = queue(MOTHER)
    with refused(code):
        room.reply("l:m", text, at(5), STAFF)
    assert room.reply("l:m", "x" * REPLY_MAX_CHARS, at(5), STAFF)


def test_too_long_names_the_limit() -> None:
    with pytest.raises(SignallingError) as caught:
        queue(MOTHER).reply("l:m", "x" * 301, at(5), STAFF)
    assert caught.value.message == "The text is 301 characters; at most 300 fit."


def test_replies_are_rate_limited_per_person() -> None:
    room = queue(MOTHER, FATHER)
    for _ in range(REPLY_BURST):
        room.reply("l:m", "hei", at(5), STAFF)
    with refused("too_many_texts"):
        room.reply("l:m", "hei", at(5), STAFF)
    room.reply("l:f", "hei", at(5), STAFF)  # the other guardian has a bucket of their own
    assert room.reply("l:m", "hei", at(5 + REPLY_EVERY), STAFF)  # one more after a while


def test_leaving_and_knocking_again_does_not_refill_the_bucket() -> None:
    room = queue(MOTHER)
    for _ in range(REPLY_BURST):
        room.reply("l:m", "hei", at(5), STAFF)
    room.leave("l:m", at(6), STAFF, CloseReason.LEFT)
    room.knock(MOTHER, at(7), STAFF)
    with refused("too_many_texts"):
        room.reply("l:m", "hei", at(7), STAFF)


def test_a_refused_reply_takes_no_token() -> None:
    room = queue(MOTHER)
    for _ in range(REPLY_BURST):
        with refused("text_too_long"):
            room.reply("l:m", "x" * 1000, at(5), STAFF)
    for _ in range(REPLY_BURST):
        room.reply("l:m", "hei", at(5), STAFF)


# --- clearing --------------------------------------------------------------------------------

CLEARED_M = wire.TextsCleared(participant="l:m")


def test_admission_clears_the_texts_on_both_sides() -> None:
    room = call_with_both_guardians_waiting()
    room.message_waiting("s:1", "l:m", "Tervetuloa", at(3))
    room.reply("l:m", "Kiitos", at(4))
    effects = room.admit("s:1", "l:m", at(5))
    assert CLEARED_M in sent_to(effects, "l:m")
    assert CLEARED_M in sent_to(effects, "s:1")
    assert not any(isinstance(m, wire.TextsCleared) for m in sent_to(effects, "l:f"))
    admitted = [type(m) for m in sent_to(effects, "l:m")]
    assert admitted.index(wire.Admitted) < admitted.index(wire.TextsCleared)


def test_leaving_clears_the_texts_for_staff() -> None:
    room = call_with_both_guardians_waiting()
    room.reply("l:m", "Lähden hetkeksi", at(3))
    effects = handle(room, "l:m", wire.Leave(), at(4))
    assert CLEARED_M in sent_to(effects, "s:1")


def test_a_dropped_connection_clears_the_texts_for_staff() -> None:
    room = call_with_both_guardians_waiting()
    room.message_waiting("s:1", "l:m", "hei", at(3))
    assert CLEARED_M in sent_to(room.disconnected("l:m", at(4)), "s:1")


def test_denial_clears_the_texts_for_staff() -> None:
    room = call_with_both_guardians_waiting()
    room.message_waiting("s:1", None, "hei kaikille", at(3))
    effects = room.deny("s:1", "l:f", at(4))
    assert wire.TextsCleared(participant="l:f") in sent_to(effects, "s:1")


def test_nothing_to_clear_sends_nothing() -> None:
    room = call_with_both_guardians_waiting()
    room.reply("l:f", "hei", at(3))
    effects = room.admit("s:1", "l:m", at(4))
    assert not any(isinstance(m, wire.TextsCleared) for e in effects if isinstance(e, Send)
                   for m in [e.message])


def test_moved_back_starts_with_no_texts() -> None:
    room = call_with_both_guardians_waiting()
    room.message_waiting("s:1", "l:m", "Tervetuloa", at(3))
    room.admit("s:1", "l:m", at(4))
    effects = room.remove("s:1", "l:m", at(5))
    assert "l:m" in room.waiting
    assert not any(isinstance(m, wire.TextsCleared | wire.StaffMessage | wire.WaitingReply)
                   for m in sent_to(effects, "s:1") + sent_to(effects, "l:m"))
    # Talk in the new stay is cleared again when it ends, and only once.
    room.reply("l:m", "Miksi?", at(6))
    effects = room.admit("s:1", "l:m", at(7))
    assert sent_to(effects, "s:1").count(CLEARED_M) == 1
    effects = room.remove("s:1", "l:m", at(8))
    assert CLEARED_M not in sent_to(room.admit("s:1", "l:m", at(9)), "s:1")


def test_a_text_to_all_is_cleared_for_each_person_as_they_go() -> None:
    room = call_with_both_guardians_waiting()
    room.message_waiting("s:1", None, "hei kaikille", at(3))
    assert CLEARED_M in sent_to(room.admit("s:1", "l:m", at(4)), "s:1")
    cleared_f = wire.TextsCleared(participant="l:f")
    assert cleared_f in sent_to(room.admit("s:1", "l:f", at(5)), "s:1")


def test_the_other_staff_member_sees_replies_and_clearing_too() -> None:
    room = call_with_both_guardians_waiting()
    room.join(OTHER_WORKER, at(3))
    effects = room.reply("l:m", "hei", at(4))
    assert [type(m) for m in sent_to(effects, "s:2")] == [wire.WaitingReply]
    assert CLEARED_M in sent_to(room.admit("s:1", "l:m", at(5)), "s:2")

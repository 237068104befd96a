"""LineBoard on its own: joins, places, takes across lines, the reconnect minute, hand-overs,
closing. Times are passed in; tests/signalling/test_line_queue_stateful.py drives it at
random."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from signalling.line_queue import (
    Entry,
    EntryState,
    LineBoard,
    QueueFull,
    UnknownLine,
    UnknownTicket,
)

T0 = datetime(2026, 12, 4, 10, 0, tzinfo=UTC)
CHAT, TALK = 1, 2  # two lines


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def board(cap: int = 10) -> LineBoard:
    b = LineBoard()
    b.open_line(CHAT, cap)
    b.open_line(TALK, cap)
    return b


def tickets(entries: list[Entry]) -> list[str]:
    return [e.ticket for e in entries]


def test_join_puts_people_in_arrival_order() -> None:
    b = board()
    for i, t in enumerate("abc"):
        entry = b.join(CHAT, t, "chat", at(i))
        assert entry == Entry(t, CHAT, "chat", at(i))
    assert tickets(b.queue(CHAT)) == ["a", "b", "c"]
    assert [b.position(t) for t in "abc"] == [1, 2, 3]
    assert b.queue(TALK) == [] and len(b) == 3 and "a" in b


def test_joins_at_the_same_instant_keep_join_order() -> None:
    b = board()
    for t in "xyz":
        b.join(CHAT, t, "video", at(0))
    assert tickets(b.queue(CHAT)) == ["x", "y", "z"]
    assert b.take_next(7, [CHAT], at(1)) == Entry("x", CHAT, "video", at(0))


def test_a_full_line_refuses_and_a_lower_cap_removes_nobody() -> None:
    b = board(cap=2)
    b.join(CHAT, "a", "chat", at(0))
    b.join(CHAT, "b", "chat", at(1))
    with pytest.raises(QueueFull):
        b.join(CHAT, "c", "chat", at(2))
    b.join(TALK, "c", "chat", at(2))  # the cap is per line
    b.open_line(CHAT, 1)
    assert tickets(b.queue(CHAT)) == ["a", "b"] and b.cap(CHAT) == 1
    b.leave("a")
    with pytest.raises(QueueFull):
        b.join(CHAT, "d", "chat", at(3))


def test_an_undeclared_line_is_refused() -> None:
    b = board()
    with pytest.raises(UnknownLine):
        b.join(99, "a", "chat", at(0))
    assert b.queue(99) == [] and b.take_next(1, [99], at(0)) is None


def test_a_ticket_cannot_be_queued_twice() -> None:
    b = board()
    b.join(CHAT, "a", "chat", at(0))
    with pytest.raises(ValueError, match="already queued"):
        b.join(TALK, "a", "chat", at(1))


def test_bad_caps_and_graces_are_refused() -> None:
    with pytest.raises(ValueError):
        LineBoard(away_grace=timedelta(0))
    with pytest.raises(ValueError):
        LineBoard().open_line(CHAT, 0)


def test_leaving_moves_up_those_behind() -> None:
    b = board()
    for i, t in enumerate("abc"):
        b.join(CHAT, t, "chat", at(i))
    assert b.leave("b").ticket == "b"
    assert b.position("c") == 2
    for act in (b.leave, b.entry, b.position):
        with pytest.raises(UnknownTicket):
            act("b")


def test_take_next_gives_the_longest_wait_across_lines() -> None:
    b = board()
    b.join(CHAT, "a", "chat", at(0))
    b.join(TALK, "b", "chat", at(1))
    b.join(CHAT, "c", "chat", at(2))
    b.join(TALK, "d", "chat", at(3))
    order = [b.take_next(5, [CHAT, TALK], at(10)) for _ in range(4)]
    assert [e.ticket if e else None for e in order] == ["a", "b", "c", "d"]
    assert b.take_next(5, [CHAT, TALK], at(10)) is None


def test_take_next_only_from_the_given_lines() -> None:
    b = board()
    b.join(TALK, "old", "chat", at(0))
    b.join(CHAT, "new", "chat", at(5))
    taken = b.take_next(5, [CHAT], at(10))
    assert taken is not None and taken.ticket == "new"
    assert b.take_next(5, [], at(10)) is None
    assert tickets(b.queue(TALK)) == ["old"]


def test_an_entry_for_named_staff_waits_for_them_without_blocking_others() -> None:
    b = board()
    b.join(CHAT, "mine", "chat", at(0), enrolment_id=3, staff_ids={7})
    b.join(CHAT, "anyone", "chat", at(1))
    taken = b.take_next(8, [CHAT], at(2))
    assert taken is not None and taken.ticket == "anyone"
    assert b.take_next(8, [CHAT], at(3)) is None
    taken = b.take_next(7, [CHAT], at(4))
    assert taken is not None and (taken.ticket, taken.enrolment_id) == ("mine", 3)


def test_away_keeps_the_place_but_is_skipped() -> None:
    b = board()
    b.join(CHAT, "a", "chat", at(0))
    b.join(CHAT, "b", "chat", at(1))
    away = b.away("a", at(5))
    assert (away.state, away.away_since) == (EntryState.AWAY, at(5))
    assert b.position("a") == 1 and b.position("b") == 2
    taken = b.take_next(1, [CHAT], at(6))
    assert taken is not None and taken.ticket == "b"
    assert b.take_next(1, [CHAT], at(6)) is None
    assert b.away("a", at(30)).away_since == at(5)  # a second loss does not extend the grace


def test_back_within_the_minute_keeps_the_place() -> None:
    b = board()
    b.join(CHAT, "a", "chat", at(0))
    b.join(CHAT, "b", "chat", at(1))
    b.away("a", at(5))
    back = b.back("a", at(64.9))
    assert (back.state, back.away_since) == (EntryState.WAITING, None)
    assert b.back("a", at(70)) == back  # already back: nothing changes
    taken = b.take_next(1, [CHAT], at(70))
    assert taken is not None and taken.ticket == "a"
    assert b.expire(at(1000)) == []


def test_after_the_minute_back_fails_and_expire_removes() -> None:
    b = board()
    b.join(CHAT, "a", "chat", at(0))
    b.join(CHAT, "b", "chat", at(1))
    b.away("b", at(2))
    b.away("a", at(3))
    assert b.next_deadline() == at(62)
    with pytest.raises(UnknownTicket):
        b.back("b", at(62))
    assert b.expire(at(61.9)) == []
    assert tickets(b.expire(at(63))) == ["b", "a"]  # the oldest loss first
    assert len(b) == 0 and b.next_deadline() is None
    with pytest.raises(UnknownTicket):
        b.back("a", at(63))


def test_the_grace_is_configurable() -> None:
    b = LineBoard(away_grace=timedelta(seconds=5))
    b.open_line(CHAT, 5)
    b.join(CHAT, "a", "chat", at(0))
    b.away("a", at(0))
    assert tickets(b.expire(at(5))) == ["a"]


def test_hand_over_to_a_line_goes_to_its_front_open_to_anyone() -> None:
    b = board()
    b.join(TALK, "t1", "chat", at(0))
    b.join(CHAT, "c1", "chat", at(1), staff_ids={7})
    taken = b.take_next(7, [CHAT], at(2))
    assert taken is not None
    b.join(TALK, "t2", "chat", at(3))
    handed = b.hand_over(taken, at(4), to_line=TALK)
    assert (handed.line_id, handed.front, handed.staff_ids) == (TALK, True, frozenset())
    assert handed.joined_at == at(1)  # the wait counts from joining
    assert tickets(b.queue(TALK)) == ["c1", "t1", "t2"]
    again = b.take_next(9, [TALK], at(5))
    assert again is not None and again.ticket == "c1"


def test_hand_over_to_a_colleague_reserves_the_entry() -> None:
    b = board()
    b.join(CHAT, "a", "chat", at(0))
    b.join(CHAT, "b", "chat", at(1))
    taken = b.take_next(1, [CHAT], at(2))
    assert taken is not None
    handed = b.hand_over(taken, at(3), to_staff=2)
    assert (handed.line_id, handed.staff_ids, handed.front) == (CHAT, frozenset({2}), True)
    assert b.position("a") == 1
    other = b.take_next(3, [CHAT], at(4))
    assert other is not None and other.ticket == "b"
    mine = b.take_next(2, [CHAT], at(5))
    assert mine is not None and mine.ticket == "a"


def test_handed_over_people_keep_their_order_among_themselves() -> None:
    b = board()
    for i, t in enumerate("abcd"):
        b.join(CHAT, t, "chat", at(i))
    first = b.take_next(1, [CHAT], at(10))
    second = b.take_next(2, [CHAT], at(10))
    assert first is not None and second is not None
    b.hand_over(second, at(11), to_line=TALK)
    b.hand_over(first, at(12), to_line=TALK)
    b.join(TALK, "e", "chat", at(13))
    assert tickets(b.queue(TALK)) == ["a", "b", "e"]


def test_hand_over_needs_a_taken_entry_and_a_declared_line() -> None:
    b = board()
    queued = b.join(CHAT, "a", "chat", at(0))
    with pytest.raises(ValueError, match="still queued"):
        b.hand_over(queued, at(1), to_line=TALK)
    taken = b.take_next(1, [CHAT], at(1))
    assert taken is not None
    with pytest.raises(UnknownLine):
        b.hand_over(taken, at(2), to_line=99)


def test_hand_over_ignores_the_cap() -> None:
    b = board(cap=1)
    b.join(CHAT, "a", "chat", at(0))
    taken = b.take_next(1, [CHAT], at(1))
    assert taken is not None
    b.join(CHAT, "b", "chat", at(2))
    b.hand_over(taken, at(3))
    assert tickets(b.queue(CHAT)) == ["a", "b"]


def test_close_line_removes_everyone_in_take_order() -> None:
    b = board()
    b.join(CHAT, "a", "chat", at(0))
    b.join(CHAT, "b", "chat", at(1))
    b.join(TALK, "c", "chat", at(2))
    b.away("b", at(3))
    assert tickets(b.close_line(CHAT)) == ["a", "b"]
    assert b.queue(CHAT) == [] and tickets(b.queue(TALK)) == ["c"]
    assert b.next_deadline() is None
    b.join(CHAT, "d", "chat", at(4))  # declared still: the caller refuses joins when closed


def test_restore_puts_saved_entries_back_away_in_their_order() -> None:
    b = board(cap=1)
    saved = [Entry("late", CHAT, "chat", at(20)),
             Entry("early", CHAT, "video", at(10), enrolment_id=4, staff_ids=frozenset({2})),
             Entry("front", CHAT, "chat", at(30), front=True)]
    started = at(100)
    for entry in saved:
        restored = b.restore(entry, started)
        assert (restored.state, restored.away_since) == (EntryState.AWAY, started)
    assert tickets(b.queue(CHAT)) == ["front", "early", "late"]
    assert b.take_next(2, [CHAT], at(101)) is None  # nobody is back yet
    b.back("early", at(110))
    taken = b.take_next(2, [CHAT], at(111))
    assert taken is not None and taken.ticket == "early"
    assert tickets(b.expire(at(160))) == ["front", "late"]

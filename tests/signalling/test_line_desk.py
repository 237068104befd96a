"""LineDesk directly: requests in, effects out; no server, no clock."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from signalling import line_messages as wire
from signalling.line_desk import LineDesk
from signalling.line_effects import (
    AddCallback,
    ClosePerson,
    DeleteQueued,
    Effect,
    Family,
    HoursState,
    LineAction,
    LineRules,
    Log,
    SaveQueued,
    SaveStats,
    ToPerson,
    ToStaff,
)
from signalling.line_queue import Entry

T0 = datetime(2027, 1, 4, 10, 0, tzinfo=UTC)
CLOSES = T0 + timedelta(hours=2)
ROOT = Path(__file__).resolve().parents[2]
SANNA, PEKKA, OLLI = 1, 2, 3


def hours(now: datetime) -> HoursState:
    if now < CLOSES:
        return HoursState(True, CLOSES, None)
    return HoursState(False, None, CLOSES + timedelta(hours=20))


def rules(line_id: int = 1, *, kind: str = "public", modes: str = "both", cap: int = 10,
          staff: frozenset[int] = frozenset({SANNA, PEKKA})) -> LineRules:
    return LineRules(id=line_id, name=f"Line {line_id}", kind=kind, modes=modes, cap=cap,
                     grace=timedelta(minutes=10), callback_after=timedelta(minutes=5),
                     staff_ids=staff, hours=hours)


@pytest.fixture
def desk() -> LineDesk:
    ids = itertools.count(1)
    made = LineDesk(ice=lambda who, now: (), new_id=lambda: f"session{next(ids):04d}")
    made.set_line(rules(1))
    made.set_line(rules(2, staff=frozenset({PEKKA})))
    made.set_line(rules(3, kind="personal", modes="chat"))
    for staff_id, name in ((SANNA, "Sanna"), (PEKKA, "Pekka"), (OLLI, "Olli")):
        made.staff_connected(staff_id, name, T0)
    return made


def to_person(effects: list[Effect], ticket: str, kind: type) -> list[wire.ServerMessage]:
    return [e.message for e in effects
            if isinstance(e, ToPerson) and e.ticket == ticket and isinstance(e.message, kind)]


def to_staff(effects: list[Effect], staff_id: int, kind: type) -> list[wire.ServerMessage]:
    return [e.message for e in effects
            if isinstance(e, ToStaff) and e.staff_id == staff_id and isinstance(e.message, kind)]


def positions(effects: list[Effect], ticket: str) -> list[int]:
    return [m.position for m in to_person(effects, ticket, wire.Queue)
            if isinstance(m, wire.Queue)]


def callback(message: wire.ServerMessage) -> wire.CallbackState | None:
    assert isinstance(message, wire.Queue)
    return message.callback


def join(desk: LineDesk, ticket: str, at: datetime = T0, line_id: int = 1, *,
         nickname: str = "", family: Family | None = None) -> list[Effect]:
    return desk.join(line_id, ticket, f"secret-{ticket}", "chat", at, nickname=nickname,
                     family=family)


def session_of(effects: list[Effect], staff_id: int) -> wire.SessionStarted:
    [started] = to_staff(effects, staff_id, wire.SessionStarted)
    assert isinstance(started, wire.SessionStarted)
    return started


def test_first_come_first_served_across_two_professionals(desk: LineDesk) -> None:
    desk.set_duty(SANNA, [1], T0)
    desk.set_duty(PEKKA, [1, 2], T0)
    join(desk, "a", T0)
    join(desk, "b", T0 + timedelta(seconds=1), line_id=2)
    join(desk, "c", T0 + timedelta(seconds=2))
    first = session_of(desk.take_next(PEKKA, T0), PEKKA)
    assert (first.line, first.waited_s) == (1, 0)  # a, the oldest
    effects = desk.take_next(SANNA, T0 + timedelta(seconds=5))
    assert to_person(effects, "c", wire.Taken)  # Sanna does not serve line 2
    desk.end(None, PEKKA, first.session, T0 + timedelta(seconds=9))
    effects = desk.take_next(PEKKA, T0 + timedelta(seconds=10))
    assert to_person(effects, "b", wire.Taken)
    assert session_of(effects, PEKKA).waited_s == 9
    assert to_staff(desk.take_next(OLLI, T0), OLLI, wire.Nobody)


def test_busy_and_a_double_take_next(desk: LineDesk) -> None:
    desk.set_duty(SANNA, [1], T0)
    join(desk, "a")
    session_of(desk.take_next(SANNA, T0), SANNA)
    with pytest.raises(wire.LineError) as caught:
        desk.take_next(SANNA, T0)
    assert caught.value.code == "busy"
    desk.set_duty(PEKKA, [1], T0)
    assert to_staff(desk.take_next(PEKKA, T0), PEKKA, wire.Nobody)
    assert to_staff(desk.take_next(PEKKA, T0), PEKKA, wire.Nobody)


def test_duty_only_for_own_lines(desk: LineDesk) -> None:
    with pytest.raises(wire.LineError) as caught:
        desk.set_duty(SANNA, [1, 2], T0)
    assert caught.value.code == "not_your_line"
    with pytest.raises(wire.LineError):
        desk.set_duty(SANNA, [99], T0)
    desk.set_duty(SANNA, [1], T0)
    assert desk.board_for(SANNA, T0).duty == (1,)
    desk.set_duty(SANNA, [], T0)
    assert desk.board_for(SANNA, T0).duty == ()


def test_hand_over_to_a_line_and_to_a_colleague_keeps_the_front(desk: LineDesk) -> None:
    desk.set_duty(SANNA, [1], T0)
    desk.set_duty(PEKKA, [2], T0)
    join(desk, "a", T0)
    join(desk, "z", T0 + timedelta(minutes=1), line_id=2)
    sid = session_of(desk.take_next(SANNA, T0), SANNA).session
    effects = desk.hand_over(SANNA, sid, T0 + timedelta(minutes=3), to_line=2)
    assert to_person(effects, "a", wire.HandedOver)
    assert [e.entry.front for e in effects if isinstance(e, SaveQueued)] == [True]
    assert positions(effects, "a") == [1]
    logged = [e for e in effects if isinstance(e, Log)]
    assert logged[0].action is LineAction.HANDED_OVER and logged[0].detail["to_line"] == 2
    sid = session_of(desk.take_next(PEKKA, T0), PEKKA).session
    desk.hand_over(PEKKA, sid, T0, to_staff=PEKKA)
    with pytest.raises(wire.LineError) as caught:
        desk.hand_over(PEKKA, "nope", T0, to_staff=SANNA)
    assert caught.value.code == "unknown_session"


def test_closing_plus_grace(desk: LineDesk) -> None:
    desk.set_duty(SANNA, [1], T0)
    join(desk, "a", T0)
    join(desk, "b", T0)
    after = CLOSES + timedelta(minutes=5)
    effects = join(desk, "late", after)
    assert to_person(effects, "late", wire.Closed)
    assert ClosePerson("late") in effects
    assert to_person(desk.take_next(SANNA, after), "a", wire.Taken)  # within the grace
    effects = desk.tick(CLOSES + timedelta(minutes=11))
    assert to_person(effects, "b", wire.LineClosed) and ClosePerson("b") in effects
    assert [e.detail["reason"] for e in effects if isinstance(e, Log)] == ["closed"]
    desk.set_duty(PEKKA, [1], T0)
    with pytest.raises(wire.LineError) as caught:
        desk.take_next(PEKKA, CLOSES + timedelta(minutes=11))
    assert caught.value.code == "line_closed"


def test_full_line(desk: LineDesk) -> None:
    desk.set_line(rules(1, cap=1))
    join(desk, "a")
    effects = join(desk, "b")
    assert to_person(effects, "b", wire.Full) and desk.is_full(1)


def test_reconnect_within_a_minute_and_after(desk: LineDesk) -> None:
    join(desk, "a")
    join(desk, "b")
    desk.person_gone("a", T0)
    effects = desk.resume("a", "secret-a", T0 + timedelta(seconds=59))
    assert to_person(effects, "a", wire.Welcome)
    assert positions(effects, "a") == [1]
    desk.person_gone("a", T0 + timedelta(seconds=60))
    effects = desk.tick(T0 + timedelta(seconds=121))
    assert DeleteQueued("a") in effects
    assert positions(effects, "b") == [1]
    with pytest.raises(wire.LineError) as caught:
        desk.resume("a", "secret-a", T0 + timedelta(seconds=122))
    assert caught.value.code == "resume_failed"


def test_a_dropped_session_ends_as_gone_after_a_minute(desk: LineDesk) -> None:
    desk.set_duty(SANNA, [1], T0)
    join(desk, "a")
    sid = session_of(desk.take_next(SANNA, T0), SANNA).session
    gone = desk.person_gone("a", T0 + timedelta(seconds=10))
    assert to_staff(gone, SANNA, wire.Presence) == [wire.Presence(session=sid, away=True)]
    assert not desk.tick(T0 + timedelta(seconds=69))
    effects = desk.tick(T0 + timedelta(seconds=70))
    [ended] = to_staff(effects, SANNA, wire.Ended)
    assert ended == wire.Ended(reason="gone", session=sid)
    assert not [e for e in effects if isinstance(e, SaveStats)]  # a lost session is no sample


def test_service_times_and_stats(desk: LineDesk) -> None:
    desk.set_duty(SANNA, [1], T0)
    join(desk, "a")
    sid = session_of(desk.take_next(SANNA, T0), SANNA).session
    effects = desk.end(None, SANNA, sid, T0 + timedelta(minutes=4))
    assert SaveStats(1, 240.0, 1) in effects
    ended = [e for e in effects if isinstance(e, Log) and e.action is LineAction.ENDED]
    assert ended[0].detail == {"line": 1, "served_s": 240} and ended[0].staff_id == SANNA


def test_video_only_when_the_line_offers_it(desk: LineDesk) -> None:
    desk.set_duty(SANNA, [1, 3], T0)
    join(desk, "a")
    sid = session_of(desk.take_next(SANNA, T0), SANNA).session
    effects = desk.video("a", None, None, T0)
    assert to_person(effects, "a", wire.VideoStarted)
    assert to_staff(effects, SANNA, wire.VideoStarted)
    assert desk.video(None, SANNA, sid, T0) == []  # already video
    desk.end(None, SANNA, sid, T0)
    family = Family(7, "Virtanen", frozenset())
    join(desk, "f", line_id=3, family=family)
    sid = session_of(desk.take_next(SANNA, T0), SANNA).session
    with pytest.raises(wire.LineError) as caught:
        desk.video(None, SANNA, sid, T0)
    assert caught.value.code == "video_not_offered"
    with pytest.raises(wire.LineError) as caught:
        desk.join(3, "v", "secret-v", "video", T0, family=Family(8, "X", frozenset()))
    assert caught.value.code == "mode_not_offered"


def test_call_back_offered_after_the_wait_or_when_nobody_is_on_duty(desk: LineDesk) -> None:
    family = Family(7, "Virtanen", frozenset({SANNA}))
    effects = join(desk, "f", line_id=3, family=family)
    assert to_staff(effects, SANNA, wire.Knock) and not to_staff(effects, PEKKA, wire.Knock)
    [queue] = to_person(effects, "f", wire.Queue)
    assert callback(queue) == wire.CallbackState(offered=True, requested=False)
    desk.set_duty(PEKKA, [3], T0)
    effects = desk.tick(T0 + timedelta(seconds=31))
    [queue] = to_person(effects, "f", wire.Queue)
    assert callback(queue) == wire.CallbackState(offered=False, requested=False)
    with pytest.raises(wire.LineError):
        desk.request_callback("f", T0 + timedelta(minutes=1))
    effects = desk.tick(T0 + timedelta(minutes=5))
    [queue] = to_person(effects, "f", wire.Queue)
    assert callback(queue) == wire.CallbackState(offered=True, requested=False)
    effects = desk.request_callback("f", T0 + timedelta(minutes=5))
    assert AddCallback(7, 3) in effects
    assert not [e for e in desk.request_callback("f", T0 + timedelta(minutes=6))
                if isinstance(e, AddCallback)]  # asked once
    rows = [e for e in effects if isinstance(e, Log)]
    assert rows[0].detail == {"line": 3, "enrolment": 7}


def test_public_rows_are_anonymous_and_restore_keeps_places(desk: LineDesk) -> None:
    effects = join(desk, "a", nickname="Kettu")
    [row] = [e for e in effects if isinstance(e, Log)]
    assert row.detail == {"line": 1, "mode": "chat"}
    restored = LineDesk(ice=lambda who, now: ())
    restored.set_line(rules(1))
    for ticket, minute in (("x", 1), ("y", 2)):
        restored.restore(Entry(ticket=ticket, line_id=1, mode="chat",
                               joined_at=T0 + timedelta(minutes=minute)), "", None, T0)
    effects = restored.resume("y", "secret-y", T0 + timedelta(seconds=30))
    assert positions(effects, "y") == [2]


def test_every_action_and_error_code_is_documented() -> None:
    text = (ROOT / "docs" / "protocol-lines.md").read_text()
    for action in LineAction:
        assert f"`{action.value}`" in text, action
    for code in wire.LINE_ERROR_CODES:
        assert f"`{code}`" in text, code


def test_a_professional_who_drops_has_a_minute_to_come_back(desk: LineDesk) -> None:
    desk.set_duty(SANNA, [1], T0)
    join(desk, "a")
    join(desk, "b")
    sid = session_of(desk.take_next(SANNA, T0), SANNA).session
    desk.staff_gone(SANNA, T0 + timedelta(seconds=5))
    assert desk.board_for(PEKKA, T0).lines[0].on_duty == ()  # off duty meanwhile
    effects = desk.staff_connected(SANNA, "Sanna", T0)
    assert session_of(effects, SANNA).session == sid  # the same session again
    desk.staff_gone(SANNA, T0 + timedelta(seconds=10))
    assert not to_person(desk.tick(T0 + timedelta(seconds=69)), "a", wire.Ended)
    effects = desk.tick(T0 + timedelta(seconds=70))
    assert to_person(effects, "a", wire.Ended) == [wire.Ended(reason="staff")]
    assert ClosePerson("a") in effects
    assert not [e for e in effects if isinstance(e, SaveStats)]
    desk.staff_connected(SANNA, "Sanna", T0)
    desk.set_duty(SANNA, [1], T0 + timedelta(seconds=71))
    assert to_person(desk.take_next(SANNA, T0 + timedelta(seconds=71)), "b", wire.Taken)


def test_expected_wait_and_the_early_warning_that_the_line_closes_first(
        desk: LineDesk) -> None:
    desk.set_line(rules(5, cap=20), stats=(600.0, 10))  # ten-minute sessions so far
    desk.set_line(rules(5, cap=20, staff=frozenset({SANNA})))  # a change keeps the stats
    effects = desk.join(5, "a", "secret-a", "chat", T0)
    [queue] = to_person(effects, "a", wire.Queue)
    assert queue == wire.Queue(position=1, expected_wait_s=None, closes_first=False,
                               on_duty=0)  # nobody on duty: not known
    desk.set_duty(SANNA, [5], T0)
    for i, ticket in enumerate("bcdefghijklmn"):
        effects = desk.join(5, ticket, f"s-{ticket}", "chat", T0 + timedelta(seconds=i))
    queues = {e.ticket: e.message for e in effects if isinstance(e, ToPerson)}
    assert queues["a"] == wire.Queue(position=1, expected_wait_s=0, closes_first=False,
                                     on_duty=1)
    assert queues["b"] == wire.Queue(position=2, expected_wait_s=600, closes_first=False,
                                     on_duty=1)
    # place 13 is taken after 12 ten-minute sessions, just before closing (2 h) + grace
    # (10 min); place 14 only after it
    last = queues["m"]
    assert isinstance(last, wire.Queue) and last.expected_wait_s == 7200
    assert not last.closes_first
    late = queues["n"]
    assert isinstance(late, wire.Queue) and late.expected_wait_s == 7800 and late.closes_first
    assert desk.board_for(SANNA, T0).lines[-1].expected_wait_s == 8400


def test_a_professional_taken_off_a_line_is_off_duty_for_it(desk: LineDesk) -> None:
    desk.set_duty(SANNA, [1], T0)
    join(desk, "a")
    desk.set_line(rules(1, staff=frozenset({PEKKA})))
    assert desk.board_for(SANNA, T0).duty == ()
    assert to_staff(desk.take_next(SANNA, T0), SANNA, wire.Nobody)

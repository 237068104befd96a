"""RepeatTally: the first of an event is reported at once, the rest once per interval."""

from __future__ import annotations

import pytest

from server.repeat_tally import OTHER, Repeat, RepeatTally

INTERVAL = 10.0


def test_first_occurrence_is_reported_at_once() -> None:
    tally = RepeatTally(INTERVAL)
    assert tally.note("refused", now=100.0) == Repeat("refused", 1)
    assert tally.next_deadline() is None  # nothing counted that is not reported


def test_repeats_within_the_interval_are_only_counted() -> None:
    tally = RepeatTally(INTERVAL)
    tally.note("refused", now=100.0)
    assert [tally.note("refused", now=100.0 + i / 100) for i in range(1, 1000)] == [None] * 999
    assert tally.next_deadline() == 110.0
    assert tally.due(now=109.9) == []
    assert tally.due(now=110.0) == [Repeat("refused", 999)]
    assert tally.due(now=200.0) == []  # counted once only


def test_a_repeat_after_the_interval_is_reported_with_what_came_before() -> None:
    tally = RepeatTally(INTERVAL)
    tally.note("refused", now=0.0)
    tally.note("refused", now=1.0)
    tally.note("refused", now=2.0)
    assert tally.note("refused", now=10.0) == Repeat("refused", 3)
    assert tally.note("refused", now=11.0) is None


def test_an_event_quiet_for_an_interval_is_reported_at_once_again() -> None:
    tally = RepeatTally(INTERVAL)
    tally.note("refused", now=0.0)
    assert tally.due(now=30.0) == []
    assert "refused" not in tally  # forgotten
    assert tally.note("refused", now=30.0) == Repeat("refused", 1)


def test_events_are_counted_apart() -> None:
    tally = RepeatTally(INTERVAL)
    assert tally.note("a", now=0.0) == Repeat("a", 1)
    assert tally.note("b", now=1.0) == Repeat("b", 1)
    tally.note("a", now=2.0)
    tally.note("b", now=3.0)
    tally.note("b", now=4.0)
    assert tally.next_deadline() == 10.0
    assert tally.due(now=10.5) == [Repeat("a", 1)]
    assert tally.due(now=11.0) == [Repeat("b", 2)]


def test_pending_hands_over_everything_counted() -> None:
    tally = RepeatTally(INTERVAL)
    for now in (0.0, 1.0, 2.0):
        tally.note("a", now=now)
    tally.note("b", now=3.0)
    assert tally.pending() == [Repeat("a", 2)]
    assert tally.pending() == []


def test_ever_new_events_are_folded_together_beyond_the_table() -> None:
    tally = RepeatTally(INTERVAL, max_keys=3)
    assert [tally.note(f"e{i}", now=0.0) for i in range(3)] == [
        Repeat("e0", 1), Repeat("e1", 1), Repeat("e2", 1)]
    assert tally.note("e3", now=1.0) == Repeat(OTHER, 1)
    assert [tally.note(f"e{i}", now=2.0) for i in range(4, 100)] == [None] * 96
    assert tally.due(now=11.0) == [Repeat(OTHER, 96)]
    # once the first ones have gone quiet, new events get their own line again
    assert tally.note("late", now=25.0) == Repeat("late", 1)


@pytest.mark.parametrize("interval", [0.0, -1.0])
def test_interval_must_be_positive(interval: float) -> None:
    with pytest.raises(ValueError):
        RepeatTally(interval)

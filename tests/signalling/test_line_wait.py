"""ServiceTimes and the expected wait: the k-professional model, table-driven; how good the
estimate is on synthetic days is bench/line_wait.py's to say (docs/lines.md)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from signalling.line_wait import (
    REMAINING_FLOOR,
    ServiceTimes,
    closes_first,
    expected_wait,
    expected_waits,
)

MIN = 60.0
T0 = datetime(2026, 12, 4, 14, 0, tzinfo=UTC)


def test_the_mean_is_not_known_until_enough_sessions() -> None:
    times = ServiceTimes(min_samples=3)
    for seconds in (600, 900):
        times.observe(seconds)
        assert times.mean is None
    times.observe(1200)
    assert times.mean == pytest.approx(900)  # the first ones are averaged plainly
    assert times.samples == 3 and times.saved_mean == pytest.approx(900)


def test_after_the_first_sessions_each_new_one_weighs_alpha() -> None:
    times = ServiceTimes(alpha=0.2, min_samples=1)
    for _ in range(10):
        times.observe(600)
    times.observe(1600)
    assert times.mean == pytest.approx(600 + 0.2 * 1000)


def test_a_saved_mean_is_picked_up() -> None:
    times = ServiceTimes(mean=720.0, samples=40)
    assert times.mean == 720.0
    times.observe(1720)
    assert times.mean == pytest.approx(720 + 0.2 * 1000) and times.samples == 41
    assert ServiceTimes(mean=None, samples=5).samples == 0  # no mean: nothing was seen


def test_empty_sessions_tell_nothing() -> None:
    times = ServiceTimes(min_samples=1)
    times.observe(0)
    times.observe(-3)
    assert times.mean is None and times.samples == 0


@pytest.mark.parametrize("kwargs", [{"alpha": 0}, {"alpha": 1.5}, {"min_samples": 0},
                                    {"samples": -1}])
def test_bad_settings_are_refused(kwargs: dict[str, float]) -> None:
    with pytest.raises(ValueError):
        ServiceTimes(**kwargs)  # type: ignore[arg-type]


@pytest.mark.parametrize(("position", "elapsed", "on_duty", "minutes"), [
    (1, [], 2, 0),  # somebody idle: taken now
    (2, [], 2, 0),
    (3, [], 2, 12),  # both idle take places 1 and 2, then the first frees up after 12
    (5, [], 2, 24),
    (1, [2.0], 1, 10),  # the one professional is 2 minutes into a 12-minute session
    (2, [2.0], 1, 22),
    (1, [2.0, 8.0], 2, 4),  # the one 8 minutes in frees up first
    (2, [2.0, 8.0], 2, 10),
    (3, [2.0, 8.0], 2, 16),
    (1, [2.0], 2, 0),  # one busy, one idle
    (2, [2.0], 2, 10),
])
def test_expected_wait_follows_the_professionals(position: int, elapsed: list[float],
                                                 on_duty: int, minutes: float) -> None:
    wait = expected_wait(position, mean=12 * MIN, on_duty=on_duty,
                         serving_elapsed=[e * MIN for e in elapsed])
    assert wait == pytest.approx(minutes * MIN)


def test_a_session_longer_than_the_mean_still_takes_a_little_while() -> None:
    wait = expected_wait(1, mean=12 * MIN, serving_elapsed=[30 * MIN], on_duty=1)
    assert wait == pytest.approx(REMAINING_FLOOR * 12 * MIN)


def test_only_as_many_sessions_count_as_professionals_on_duty() -> None:
    """A session of someone gone off duty is passed by mistake: the soonest ones count."""
    wait = expected_wait(2, mean=12 * MIN, serving_elapsed=[1 * MIN, 10 * MIN, 11 * MIN],
                         on_duty=2)
    assert wait == pytest.approx(3 * MIN)


def test_the_wait_is_unknown_without_a_mean_or_anyone_on_duty() -> None:
    assert expected_wait(1, mean=None, serving_elapsed=[], on_duty=2) is None
    assert expected_wait(1, mean=600, serving_elapsed=[], on_duty=0) is None
    with pytest.raises(ValueError):
        expected_wait(0, mean=600, serving_elapsed=[], on_duty=1)


def test_a_long_queue_is_quick_to_estimate() -> None:
    """Place 1000 with three idle professionals: 999 // 3 rounds of 10 minutes ahead."""
    wait = expected_wait(1000, mean=600, serving_elapsed=[], on_duty=3)
    assert wait == pytest.approx(333 * 600)


@pytest.mark.parametrize(("wait", "last_take", "expected"), [
    (20 * MIN, T0 + timedelta(minutes=30), False),
    (40 * MIN, T0 + timedelta(minutes=30), True),
    (30 * MIN, T0 + timedelta(minutes=30), False),  # taken just in time
    (None, T0 + timedelta(minutes=30), False),  # not known: no warning
    (40 * MIN, None, False),  # no closing time in sight
])
def test_closes_first(wait: float | None, last_take: datetime | None, expected: bool) -> None:
    assert closes_first(T0, wait, last_take) is expected


@pytest.mark.parametrize("elapsed", [[], [3.0], [3.0, 30.0], [1.0, 2.0, 3.0, 4.0]])
def test_all_places_at_once_agree_with_each_place(elapsed: list[float]) -> None:
    waits = expected_waits(40, mean=12 * MIN, serving_elapsed=[e * MIN for e in elapsed],
                           on_duty=3)
    assert waits is not None and len(waits) == 40
    assert waits == [expected_wait(p, mean=12 * MIN, on_duty=3,
                                   serving_elapsed=[e * MIN for e in elapsed])
                     for p in range(1, 41)]
    assert waits == sorted(waits)  # nobody behind is told a shorter wait
    assert expected_waits(0, mean=600, serving_elapsed=[], on_duty=1) == []
    assert expected_waits(3, mean=None, serving_elapsed=[], on_duty=1) is None

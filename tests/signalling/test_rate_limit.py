"""RateLimiter: bursts pass, floods do not, refill follows the rate; time is passed in."""

import pytest

from signalling.rate_limit import RateLimiter


def test_a_burst_passes_then_the_next_is_refused() -> None:
    limiter = RateLimiter(rate=10, burst=5)
    assert [limiter.allow(0.0) for _ in range(6)] == [True] * 5 + [False]


def test_tokens_refill_at_the_rate_up_to_the_burst() -> None:
    limiter = RateLimiter(rate=10, burst=5)
    for _ in range(5):
        limiter.allow(0.0)
    assert limiter.allow(0.1)  # one token back after 1/10 s
    assert not limiter.allow(0.1)
    assert [limiter.allow(100.0) for _ in range(6)] == [True] * 5 + [False]  # capped


def test_a_refused_message_costs_nothing() -> None:
    limiter = RateLimiter(rate=1, burst=1)
    assert limiter.allow(0.0)
    assert not any(limiter.allow(0.5) for _ in range(100))
    assert limiter.allow(1.0)


def test_time_going_backwards_adds_nothing() -> None:
    limiter = RateLimiter(rate=1, burst=2)
    limiter.allow(10.0)
    limiter.allow(10.0)
    assert not limiter.allow(5.0)
    assert not limiter.allow(10.5)
    assert limiter.allow(11.0)


@pytest.mark.parametrize(("rate", "burst"), [(0, 5), (-1, 5), (1, 0)])
def test_nonsense_limits_are_refused(rate: float, burst: int) -> None:
    with pytest.raises(ValueError):
        RateLimiter(rate, burst)

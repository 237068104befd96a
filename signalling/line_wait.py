"""How long a person in a line will likely wait: recent service times and who is serving.

``ServiceTimes`` keeps an exponentially weighted mean of finished sessions' lengths (taken
to ended). Its first samples are averaged plainly (each weighs at least 1/n), so the mean
does not lean on the very first session; after that each new session weighs ``alpha``.

``expected_wait`` treats the professionals on duty as k servers: an idle one is free now;
a busy one frees up after ``mean - elapsed`` of its session, but never sooner than a small
floor (a session already longer than the mean is not about to end this instant — its
remaining time is still a fraction of a session). The person at place p is taken at the
p-th free-up, and each person taken before occupies a professional for ``mean``. A heap
of free-up times gives that in O(p log k).

Pure: no I/O, no clock.
"""

from __future__ import annotations

import heapq
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Final

# A busy professional frees up after at least this share of a mean session.
REMAINING_FLOOR: Final = 0.25


class ServiceTimes:
    """Exponentially weighted mean of finished sessions' lengths, in seconds."""

    def __init__(self, *, alpha: float = 0.2, min_samples: int = 3, mean: float | None = None,
                 samples: int = 0) -> None:
        if not 0 < alpha <= 1:
            raise ValueError("alpha must be in (0, 1]")
        if min_samples < 1 or samples < 0:
            raise ValueError("min_samples must be at least 1 and samples not negative")
        self.alpha = alpha
        self.min_samples = min_samples
        self.samples = samples if mean is not None else 0  # no mean saved: nothing seen
        self._mean = mean

    def observe(self, seconds: float) -> None:
        """One finished session; lengths of zero or less tell nothing and are ignored."""
        if seconds <= 0:
            return
        self.samples += 1
        if self._mean is None:
            self._mean = float(seconds)
            return
        weight = max(self.alpha, 1 / self.samples)
        self._mean += weight * (seconds - self._mean)

    @property
    def mean(self) -> float | None:
        """None until ``min_samples`` sessions were seen: too little data to say."""
        return self._mean if self.samples >= self.min_samples else None

    @property
    def saved_mean(self) -> float | None:
        """The mean as it is, for saving (``LineStats.ewma_seconds``), even before
        ``min_samples``."""
        return self._mean


def expected_wait(position: int, *, mean: float | None, serving_elapsed: Sequence[float],
                  on_duty: int) -> float | None:
    """Seconds until the person at ``position`` (1-based) is likely taken.

    ``serving_elapsed``: how long each session of the professionals on duty for the line
    has lasted so far (one number per busy professional); the others on duty are idle.
    None when the mean is not known yet or nobody is on duty.
    """
    if position < 1:
        raise ValueError("positions start at 1")
    waits = expected_waits(position, mean=mean, serving_elapsed=serving_elapsed,
                           on_duty=on_duty)
    return None if waits is None else waits[-1]


def expected_waits(count: int, *, mean: float | None, serving_elapsed: Sequence[float],
                   on_duty: int) -> list[float] | None:
    """``expected_wait`` of places 1..``count`` at once, in one pass: what a line's
    update to everyone waiting needs (O(count log k) rather than O(count² log k))."""
    if mean is None or on_duty <= 0:
        return None
    floor = REMAINING_FLOOR * mean
    busy = sorted(max(mean - elapsed, floor) for elapsed in serving_elapsed)[:on_duty]
    free_at = [0.0] * (on_duty - len(busy)) + busy
    heapq.heapify(free_at)
    waits = []
    for _ in range(count):
        waits.append(free_at[0])
        heapq.heapreplace(free_at, free_at[0] + mean)
    return waits


def closes_first(now: datetime, wait: float | None, last_take: datetime | None) -> bool:
    """The line will likely close (``last_take`` = closing + grace) before the turn comes."""
    if wait is None or last_take is None:
        return False
    return now + timedelta(seconds=wait) > last_take

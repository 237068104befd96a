"""RateLimiter: a token bucket, so a burst of ICE candidates passes and a flood does not.

Pure: the caller passes ``now`` (any monotonic seconds), as the rooms take their time.
"""

from __future__ import annotations


class RateLimiter:
    """Allows ``burst`` messages at once, refilled at ``rate`` messages per second."""

    __slots__ = ("_last", "_tokens", "burst", "rate")  # one per open socket

    def __init__(self, rate: float, burst: int) -> None:
        if rate <= 0 or burst < 1:
            raise ValueError("rate must be positive and burst at least 1")
        self.rate = rate
        self.burst = burst
        self._tokens = float(burst)
        self._last: float | None = None

    def allow(self, now: float) -> bool:
        """Takes one token if there is one; a refused message takes nothing."""
        if self._last is not None and now > self._last:
            self._tokens = min(self.burst, self._tokens + (now - self._last) * self.rate)
        self._last = now if self._last is None else max(self._last, now)
        if self._tokens >= 1:
            self._tokens -= 1
            return True
        return False

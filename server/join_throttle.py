"""JoinThrottle: how often one address may present join tokens (``/api/join`` and the
connection test). A family opens its link a few times; a flood comes from a script.

Pure: the caller passes ``now`` (monotonic seconds).
"""

from __future__ import annotations

import math

from server.errors import TooManyRequests
from signalling.rate_limit import RateLimiter

BURST = 20
PER_SECOND = 1.0
MAX_TRACKED = 10_000


class JoinThrottle:
    def __init__(self, burst: int = BURST, per_second: float = PER_SECOND) -> None:
        self._burst = burst
        self._rate = per_second
        self._buckets: dict[str, RateLimiter] = {}

    def retry_after(self, address: str, now: float) -> int:
        """0 if this attempt may go ahead (it is counted), else whole seconds to wait."""
        bucket = self._buckets.get(address)
        if bucket is None:
            if len(self._buckets) >= MAX_TRACKED:
                self._buckets.pop(next(iter(self._buckets)))  # the longest-tracked one
            bucket = self._buckets[address] = RateLimiter(self._rate, self._burst)
        if bucket.allow(now):
            return 0
        return max(1, math.ceil(1 / self._rate))


def check_join_rate(throttle: JoinThrottle, address: str, now: float) -> None:
    """Refuse an address presenting tokens too often; such attempts are not logged."""
    wait = throttle.retry_after(address, now)
    if wait:
        raise TooManyRequests(
            "too_many_attempts", "Too many attempts. Wait a moment and try again.",
            retry_after=wait,
        )

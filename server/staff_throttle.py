"""LoginThrottle: slows down repeated failed logins, per username and per address.

Every attempt counts as a failure from the moment it arrives until its password
checks out, so a burst sent at once is throttled like the same tries in a row.

A plain class with no I/O; the caller passes ``now`` (seconds, monotonic).
"""

from __future__ import annotations

from dataclasses import dataclass

FREE_FAILURES = 3
# An address may be a whole office behind one NAT, whose people sign in at nine at
# once: in-flight sign-ins count as failures until they succeed, so it gets more room.
ADDRESS_PREFIX = "addr:"
ADDRESS_FREE_FAILURES = 10
MAX_DELAY_SECONDS = 300.0
FORGET_AFTER_SECONDS = 900.0
MAX_TRACKED = 10_000


@dataclass
class _Failures:
    count: int
    last: float


class LoginThrottle:
    def __init__(self) -> None:
        self._failures: dict[str, _Failures] = {}

    @staticmethod
    def _delay(key: str, count: int) -> float:
        free = ADDRESS_FREE_FAILURES if key.startswith(ADDRESS_PREFIX) else FREE_FAILURES
        if count < free:
            return 0.0
        return min(2.0 ** (count - free + 1), MAX_DELAY_SECONDS)

    def retry_after(self, keys: tuple[str, ...], now: float) -> float:
        """Seconds the caller must still wait before another try (0 when it may try now)."""
        wait = 0.0
        for key in keys:
            failures = self._failures.get(key)
            if failures is not None:
                wait = max(wait, failures.last + self._delay(key, failures.count) - now)
        return max(wait, 0.0)

    def attempt(self, keys: tuple[str, ...], now: float) -> float:
        """Count a sign-in attempt *before* its password is checked, so attempts sent at
        once obey the same limits as attempts one after another. Returns the seconds
        to wait (the attempt is refused and not counted) or 0 (it was counted as a
        failure, which ``succeeded`` takes back)."""
        wait = self.retry_after(keys, now)
        if wait == 0:
            self.failed(keys, now)
        return wait

    def failed(self, keys: tuple[str, ...], now: float) -> None:
        if len(self._failures) >= MAX_TRACKED:
            self._forget_old(now)
        for key in keys:
            failures = self._failures.setdefault(key, _Failures(0, now))
            failures.count += 1
            failures.last = now

    def succeeded(self, keys: tuple[str, ...]) -> None:
        for key in keys:
            self._failures.pop(key, None)

    def _forget_old(self, now: float) -> None:
        for key, failures in list(self._failures.items()):
            if now - failures.last > FORGET_AFTER_SECONDS:
                del self._failures[key]
        while len(self._failures) >= MAX_TRACKED:
            self._failures.pop(next(iter(self._failures)))

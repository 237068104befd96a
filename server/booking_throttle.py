"""BookingThrottle: how many holds one client address may ask for in an hour
(``KOTA_BOOKING_HOLDS_PER_HOUR``). Pure: the caller passes ``now`` (monotonic seconds)."""

from __future__ import annotations

from server.errors import TooManyRequests
from server.join_throttle import JoinThrottle

HOUR = 3600.0


class BookingThrottle:
    def __init__(self, per_hour: int) -> None:
        self._throttle = JoinThrottle(burst=per_hour, per_second=per_hour / HOUR) \
            if per_hour > 0 else None

    def check(self, address: str, now: float) -> None:
        """Counts this hold; refuses it when the address has asked for too many."""
        if self._throttle is None:
            return
        wait = self._throttle.retry_after(address, now)
        if wait:
            raise TooManyRequests(
                "too_many_bookings", "Too many bookings from here. Try again later.",
                retry_after=wait,
            )

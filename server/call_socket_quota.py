"""CallSocketQuota: how many call sockets may be open at once (``KOTA_MAX_CALL_SOCKETS``).

Counted from before the upgrade to the socket's end, so a burst of upgrades cannot all
pass while the first ones are still being set up. The quota sits below the cap on all
connections (``KOTA_MAX_CONNECTIONS``), so that staff pages and the API keep answering
while call sockets are refused.
"""

from __future__ import annotations


class CallSocketQuota:
    __slots__ = ("_limit", "_open")

    def __init__(self, limit: int) -> None:
        if limit < 1:
            raise ValueError("the call-socket quota must allow at least one socket")
        self._limit = limit
        self._open = 0

    @property
    def limit(self) -> int:
        return self._limit

    def __len__(self) -> int:
        return self._open

    def take(self) -> bool:
        """One socket more, if the quota allows it; every True needs a ``give_back``."""
        if self._open >= self._limit:
            return False
        self._open += 1
        return True

    def give_back(self) -> None:
        self._open -= 1

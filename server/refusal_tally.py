"""RefusalTally: one usage-log row per kind of refused join link per minute, with a count.

A refusal names no one (a forged token) or someone (a revoked link); either way an
attacker can send thousands, and the usage log must not grow with each. The first
refusal of a window is reported at once, so a single refusal is visible immediately;
the rest of the window is summed and reported when the window closes.
Pure: the caller passes ``now`` (seconds) and writes the rows.
"""

from __future__ import annotations

from dataclasses import dataclass

WINDOW_SECONDS = 60.0
MAX_OPEN_WINDOWS = 10_000


@dataclass(frozen=True)
class RefusalKey:
    reason: str
    actor_id: int | None  # the participant a validly signed token names, else None
    appointment_id: int | None


@dataclass(frozen=True)
class ClosedWindow:
    key: RefusalKey
    started: float
    count: int  # refusals after the first, which was reported when it came


@dataclass
class _Window:
    started: float
    more: int = 0


class RefusalTally:
    def __init__(self, window: float = WINDOW_SECONDS) -> None:
        self.window = window
        self._open: dict[RefusalKey, _Window] = {}

    def add(self, key: RefusalKey, now: float) -> bool:
        """Count one refusal; True when it opens a window (report it now, count 1)."""
        current = self._open.get(key)
        if current is not None and now < current.started + self.window:
            current.more += 1
            return False
        if len(self._open) >= MAX_OPEN_WINDOWS and key not in self._open:
            return False  # a flood of distinct keys: counted in no row, but bounded
        self._open[key] = _Window(now)
        return True

    def due(self, now: float) -> list[ClosedWindow]:
        """Windows that have closed, with the refusals still to report (none if 0)."""
        closed = [key for key, w in self._open.items() if now >= w.started + self.window]
        return self._take(closed)

    def drain(self) -> list[ClosedWindow]:
        """Every open window, at shutdown."""
        return self._take(list(self._open))

    def _take(self, keys: list[RefusalKey]) -> list[ClosedWindow]:
        out = []
        for key in keys:
            window = self._open.pop(key)
            if window.more:
                out.append(ClosedWindow(key, window.started, window.more))
        return out

"""RepeatTally: how often each event happened, so a flood becomes one line per interval.

Pure: no clock, no logging; ``now`` is passed in (seconds of any monotonic clock). The
first occurrence of an event is reported at once; those that follow within ``interval``
are only counted, and reported together once the interval has passed (``due``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

# Distinct events counted at once; beyond them, newcomers are counted together under
# OTHER, so a stream of ever-different messages cannot grow the table (or the log).
MAX_KEYS: Final = 64
OTHER: Final = "(other)"


@dataclass
class _Run:
    reported_at: float  # when this event was last reported
    count: int = 0  # occurrences since then, not yet reported


@dataclass(frozen=True)
class Repeat:
    key: str
    count: int  # occurrences since the previous report of this key


class RepeatTally:
    __slots__ = ("_interval", "_max_keys", "_runs")

    def __init__(self, interval: float, max_keys: int = MAX_KEYS) -> None:
        if interval <= 0:
            raise ValueError("the interval must be positive")
        self._interval = interval
        self._max_keys = max_keys
        self._runs: dict[str, _Run] = {}

    def __contains__(self, key: str) -> bool:
        return key in self._runs

    def note(self, key: str, now: float) -> Repeat | None:
        """Counts one occurrence; a Repeat to report now, or None while the interval runs."""
        if key not in self._runs and len(self._runs) >= self._max_keys:
            self._forget_quiet(now)
            if len(self._runs) >= self._max_keys:
                key = OTHER
        run = self._runs.get(key)
        if run is None:
            self._runs[key] = _Run(reported_at=now)
            return Repeat(key, 1)
        if now - run.reported_at >= self._interval:
            count = run.count + 1
            run.reported_at, run.count = now, 0
            return Repeat(key, count)
        run.count += 1
        return None

    def next_deadline(self) -> float | None:
        """When the earliest counted-but-unreported occurrences fall due."""
        pending = [run.reported_at for run in self._runs.values() if run.count]
        return min(pending) + self._interval if pending else None

    def due(self, now: float) -> list[Repeat]:
        """Reports every count whose interval has passed; forgets events gone quiet."""
        reports = []
        for key, run in self._runs.items():
            if run.count and now - run.reported_at >= self._interval:
                reports.append(Repeat(key, run.count))
                run.reported_at, run.count = now, 0
        self._forget_quiet(now)
        return reports

    def pending(self) -> list[Repeat]:
        """Everything counted and not yet reported, e.g. to write it out at shutdown."""
        reports = [Repeat(key, run.count) for key, run in self._runs.items() if run.count]
        self._runs.clear()
        return reports

    def _forget_quiet(self, now: float) -> None:
        """An event reported long enough ago with nothing since is reported at once next time."""
        quiet = [key for key, run in self._runs.items()
                 if not run.count and now - run.reported_at >= self._interval]
        for key in quiet:
            del self._runs[key]

"""CoalescedLog: one log line per event per interval, carrying how often it happened.

For events that come in floods (connections refused at the cap, the same asyncio error
thousands of times a second): the first is written at once, with its traceback if any;
the rest are counted (``RepeatTally``) and written as one line with a ``count`` when the
interval ends, and at shutdown (``close``).
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass
from typing import Any, Final

from server.repeat_tally import MAX_KEYS, OTHER, RepeatTally

REPORT_INTERVAL: Final = 10.0  # seconds between two lines about the same event

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class _Line:
    logger: logging.Logger
    level: int
    event: str
    fields: dict[str, Any]


_FOLDED: Final = _Line(logger, logging.WARNING, "log.repeats_folded", {})


class CoalescedLog:
    __slots__ = ("_lines", "_tally", "_timer")

    def __init__(self, interval: float = REPORT_INTERVAL) -> None:
        self._tally = RepeatTally(interval)
        self._lines: dict[str, _Line] = {OTHER: _FOLDED}  # the latest line of each event
        self._timer: asyncio.TimerHandle | None = None

    def log(self, log: logging.Logger, level: int, event: str, *, detail: str = "",
            exc_info: BaseException | None = None, **fields: Any) -> None:
        """Writes the line now if this event was quiet for an interval, else counts it.

        ``detail`` tells events of one name apart (the message of an asyncio error).
        """
        key = f"{log.name} {event} {detail}"
        line = _Line(log, level, event, fields)
        repeat = self._tally.note(key, time.monotonic())
        if repeat is None:
            if key in self._tally:
                self._lines[key] = line
            self._schedule()
        elif repeat.key == OTHER:
            _write(_FOLDED, repeat.count)
        else:
            self._lines[key] = line
            _write(line, repeat.count, exc_info)
        if len(self._lines) > 2 * MAX_KEYS:
            self._forget_lines()

    def close(self) -> None:
        """Writes what was counted but not yet written: the server is stopping."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        for repeat in self._tally.pending():
            _write(self._lines[repeat.key], repeat.count)
        self._lines = {OTHER: _FOLDED}

    def _schedule(self) -> None:
        deadline = self._tally.next_deadline()
        if self._timer is not None or deadline is None:
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return  # no loop (an error reported at exit): the next line or close() tells
        delay = max(0.0, deadline - time.monotonic())
        self._timer = loop.call_later(delay, self._flush)

    def _flush(self) -> None:
        self._timer = None
        for repeat in self._tally.due(time.monotonic()):
            _write(self._lines[repeat.key], repeat.count)
        self._forget_lines()
        self._schedule()

    def _forget_lines(self) -> None:
        """Keeps only the lines of events the tally still counts."""
        self._lines = {key: line for key, line in self._lines.items()
                       if key in self._tally or key == OTHER}


def _write(line: _Line, count: int, exc_info: BaseException | None = None) -> None:
    line.logger.log(line.level, line.event, extra={**line.fields, "count": count},
                    exc_info=exc_info)

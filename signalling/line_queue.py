"""LineBoard: every contact line's queue, strictly first come, first served.

A person joins a line and waits; a professional on duty for one or more lines takes the
next one: the person who has waited longest among those they may take, across all of
their lines. Nobody overtakes: the order is fixed when a person joins and never changes
afterwards. A person handed over by a professional goes back in *at the front* — ahead of
everyone who was not handed over — and among the handed-over the longest wait still
comes first. A person whose socket drops is AWAY: the place is kept for ``away_grace``
(a minute), skipped by takes meanwhile, and lost after that (``expire``).

Pure: no I/O, no clock; times are passed in. Tickets are opaque strings chosen by the
caller and never logged.
"""

from __future__ import annotations

import bisect
import enum
import itertools
import logging
from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

logger = logging.getLogger(__name__)


class QueueFull(Exception):
    """The line's cap of people waiting at once is reached."""


class UnknownTicket(LookupError):
    """No such ticket on the board: it left, was taken or expired (or never joined)."""


class UnknownLine(LookupError):
    """The line was never declared with ``open_line``."""


class EntryState(enum.Enum):
    WAITING = "waiting"
    AWAY = "away"  # socket lost: the place is kept for the grace


@dataclass(frozen=True, slots=True)
class Entry:
    ticket: str
    line_id: int
    mode: str  # "chat" | "video"
    joined_at: datetime
    enrolment_id: int | None = None
    staff_ids: frozenset[int] = frozenset()  # empty: anyone on duty for the line
    front: bool = False  # handed over: waits ahead of everyone who was not
    state: EntryState = EntryState.WAITING
    away_since: datetime | None = None

    def may_be_taken_by(self, staff_id: int) -> bool:
        return not self.staff_ids or staff_id in self.staff_ids


_OrderKey = tuple[bool, datetime, int]


@dataclass(slots=True)
class _Line:
    cap: int
    keys: list[_OrderKey]  # sorted: the take order
    tickets: list[str]  # in step with keys


class LineBoard:
    """All lines' queues; strictly first come, first served. No I/O, times passed in."""

    def __init__(self, *, away_grace: timedelta = timedelta(minutes=1)) -> None:
        if away_grace <= timedelta(0):
            raise ValueError("away_grace must be positive")
        self.away_grace = away_grace
        self._lines: dict[int, _Line] = {}
        self._entries: dict[str, Entry] = {}
        self._keys: dict[str, _OrderKey] = {}
        self._order = itertools.count()  # join order breaks ties of joined_at

    def __contains__(self, ticket: object) -> bool:
        return ticket in self._entries

    def __len__(self) -> int:
        return len(self._entries)

    # -- lines --------------------------------------------------------------------------

    def open_line(self, line_id: int, cap: int) -> None:
        """Declares a line (or changes its cap); a lower cap removes nobody."""
        if cap < 1:
            raise ValueError("a line's cap is at least 1")
        line = self._lines.get(line_id)
        if line is None:
            self._lines[line_id] = _Line(cap, [], [])
        else:
            line.cap = cap

    def line_ids(self) -> list[int]:
        return list(self._lines)

    def close_line(self, line_id: int) -> list[Entry]:
        """Removes and returns everyone still queued, in take order; the line stays declared
        (joins are the caller's to refuse outside hours)."""
        gone = self.queue(line_id)
        for entry in gone:
            self._remove(entry.ticket, "closed")
        return gone

    def queue(self, line_id: int) -> list[Entry]:
        """The line's entries, WAITING and AWAY, in take order."""
        line = self._lines.get(line_id)
        if line is None:
            return []
        return [self._entries[t] for t in line.tickets]

    def cap(self, line_id: int) -> int:
        return self._line(line_id).cap

    # -- one person ---------------------------------------------------------------------

    def join(self, line_id: int, ticket: str, mode: str, now: datetime, *,
             enrolment_id: int | None = None, staff_ids: Iterable[int] = frozenset(),
             front: bool = False) -> Entry:
        """Puts a person at the end of the line (or of its front part with ``front``)."""
        line = self._line(line_id)
        if len(line.tickets) >= line.cap:
            raise QueueFull(line_id)
        entry = Entry(ticket=ticket, line_id=line_id, mode=mode, joined_at=now,
                      enrolment_id=enrolment_id, staff_ids=frozenset(staff_ids), front=front)
        return self._insert(entry, "joined")

    def restore(self, entry: Entry, now: datetime) -> Entry:
        """Puts a saved entry back after a restart, AWAY since ``now`` so its person has
        the grace to resume; its place follows its saved ``front`` and ``joined_at``.
        The cap does not apply: these people were already in."""
        self._line(entry.line_id)
        restored = replace(entry, state=EntryState.AWAY, away_since=now)
        return self._insert(restored, "restored")

    def entry(self, ticket: str) -> Entry:
        found = self._entries.get(ticket)
        if found is None:
            raise UnknownTicket()
        return found

    def position(self, ticket: str) -> int:
        """1-based place among the line's entries (WAITING and AWAY) in take order."""
        entry = self.entry(ticket)
        line = self._lines[entry.line_id]
        return bisect.bisect_left(line.keys, self._keys[ticket]) + 1

    def leave(self, ticket: str) -> Entry:
        """The person left by themselves."""
        self.entry(ticket)
        return self._remove(ticket, "left")

    def away(self, ticket: str, now: datetime) -> Entry:
        """The person's socket was lost; the place is kept for the grace. Already away:
        the grace still counts from the first loss."""
        entry = self.entry(ticket)
        if entry.state is EntryState.AWAY:
            return entry
        return self._set(replace(entry, state=EntryState.AWAY, away_since=now))

    def back(self, ticket: str, now: datetime) -> Entry:
        """The person reconnected: within the grace, same place; after it UnknownTicket
        (``expire`` removes the entry)."""
        entry = self.entry(ticket)
        if entry.state is EntryState.WAITING:
            return entry
        assert entry.away_since is not None
        if now >= entry.away_since + self.away_grace:
            raise UnknownTicket()
        return self._set(replace(entry, state=EntryState.WAITING, away_since=None))

    def expire(self, now: datetime) -> list[Entry]:
        """Removes and returns everyone AWAY for the whole grace, oldest loss first."""
        gone = sorted(
            (e for e in self._entries.values() if e.away_since is not None
             and now >= e.away_since + self.away_grace),
            key=lambda e: (e.away_since, self._keys[e.ticket]),
        )
        for entry in gone:
            self._remove(entry.ticket, "expired")
        return gone

    def next_deadline(self) -> datetime | None:
        """When ``expire`` will next remove someone, for the caller's timer."""
        return min((e.away_since + self.away_grace for e in self._entries.values()
                    if e.away_since is not None), default=None)

    # -- serving ------------------------------------------------------------------------

    def take_next(self, staff_id: int, line_ids: Iterable[int], now: datetime) -> Entry | None:
        """The entry that has waited longest among WAITING entries of ``line_ids`` that
        ``staff_id`` may take: front entries first, then by joined_at, ties by join order.
        AWAY entries are skipped but keep their place. The entry leaves the board."""
        best: tuple[_OrderKey, str] | None = None
        for line_id in set(line_ids):
            line = self._lines.get(line_id)
            if line is None:
                continue
            for key, ticket in zip(line.keys, line.tickets, strict=True):
                if best is not None and key >= best[0]:
                    break
                entry = self._entries[ticket]
                if entry.state is EntryState.WAITING and entry.may_be_taken_by(staff_id):
                    best = (key, ticket)
                    break
        if best is None:
            return None
        return self._remove(best[1], "taken")

    def hand_over(self, entry: Entry, now: datetime, *, to_line: int | None = None,
                  to_staff: int | None = None) -> Entry:
        """A served entry goes back in at the front of ``to_line`` (open to anyone serving
        it) or of its own line; ``to_staff`` reserves it for that colleague. The cap does
        not apply: the person was already in."""
        if entry.ticket in self._entries:
            raise ValueError("the entry is still queued; only a taken entry is handed over")
        line_id = entry.line_id if to_line is None else to_line
        self._line(line_id)
        if to_staff is not None:
            staff_ids: frozenset[int] = frozenset({to_staff})
        elif to_line is not None:
            staff_ids = frozenset()
        else:
            staff_ids = entry.staff_ids
        handed = replace(entry, line_id=line_id, staff_ids=staff_ids, front=True,
                         state=EntryState.WAITING, away_since=None)
        return self._insert(handed, "handed_over")

    # -- inside -------------------------------------------------------------------------

    def _line(self, line_id: int) -> _Line:
        line = self._lines.get(line_id)
        if line is None:
            raise UnknownLine(line_id)
        return line

    def _insert(self, entry: Entry, why: str) -> Entry:
        if entry.ticket in self._entries:
            raise ValueError("the ticket is already queued")
        line = self._lines[entry.line_id]
        key = (not entry.front, entry.joined_at, next(self._order))
        at = bisect.bisect_right(line.keys, key)
        line.keys.insert(at, key)
        line.tickets.insert(at, entry.ticket)
        self._keys[entry.ticket] = key
        self._entries[entry.ticket] = entry
        logger.debug("line.queue", extra={"line": entry.line_id, "change": why,
                                          "state": entry.state.value})
        return entry

    def _set(self, entry: Entry) -> Entry:
        """The one place a queued entry's state changes (the place never does)."""
        old = self._entries[entry.ticket]
        self._entries[entry.ticket] = entry
        logger.debug("line.queue", extra={"line": entry.line_id, "change": "state",
                                          "old": old.state.value, "state": entry.state.value})
        return entry

    def _remove(self, ticket: str, why: str) -> Entry:
        entry = self._entries.pop(ticket)
        key = self._keys.pop(ticket)
        line = self._lines[entry.line_id]
        at = bisect.bisect_left(line.keys, key)
        del line.keys[at]
        del line.tickets[at]
        logger.debug("line.queue", extra={"line": entry.line_id, "change": why,
                                          "state": entry.state.value})
        return entry

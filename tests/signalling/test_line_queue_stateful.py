"""LineBoard under random joins, leaves, aways, backs, expiries, takes by several
professionals on overlapping lines (some entries reserved for named staff), hand-overs to
a line and to a colleague, and closings.

A plain model keeps every person's line, front flag, staff restriction, joining instant and
join order; the board must agree with it:
- zero overtakes: every take is the oldest eligible WAITING entry of the taker's lines
  (front ones first, then by joined_at, then join order);
- nobody lost: every ticket that ever joined is in exactly one of queued, in a session,
  served, left, expired or closed, and the board holds exactly the queued ones;
- nobody served twice: a take never returns a ticket already in a session or done.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    invariant,
    precondition,
    rule,
)

from signalling.line_queue import Entry, EntryState, LineBoard, QueueFull, UnknownTicket

LINES = (1, 2, 3)
STAFF = (10, 11, 12)
GRACE = timedelta(seconds=60)
# Who serves which lines: overlapping, so one person is contested by several takers.
DUTY = {10: (1, 2), 11: (2, 3), 12: (1, 2, 3)}
CAP = 6
T0 = datetime(2026, 12, 4, 9, 0, tzinfo=UTC)


@dataclass
class Person:
    ticket: str
    line: int
    joined_at: datetime
    order: int  # the join (or hand-over) order, to break ties of joined_at
    staff: frozenset[int] = frozenset()
    front: bool = False
    away_since: datetime | None = None

    def key(self) -> tuple[bool, datetime, int]:
        return (not self.front, self.joined_at, self.order)


@dataclass
class Tally:
    queued: dict[str, Person] = field(default_factory=dict)
    in_session: dict[str, tuple[int, Entry]] = field(default_factory=dict)  # by staff
    served: set[str] = field(default_factory=set)
    left: set[str] = field(default_factory=set)
    expired: set[str] = field(default_factory=set)
    closed: set[str] = field(default_factory=set)

    def places(self) -> list[set[str]]:
        return [set(self.queued), set(self.in_session), self.served, self.left,
                self.expired, self.closed]


class LineBoardMachine(RuleBasedStateMachine):
    tickets = Bundle("tickets")

    def __init__(self) -> None:
        super().__init__()
        self.board = LineBoard(away_grace=GRACE)
        for line in LINES:
            self.board.open_line(line, CAP)
        self.now = T0
        self.order = 0
        self.joined: list[str] = []
        self.tally = Tally()

    def _next_order(self) -> int:
        self.order += 1
        return self.order

    # -- time -----------------------------------------------------------------------------

    @rule(seconds=st.sampled_from([0, 0, 1, 5, 30, 59, 60, 61, 61]))
    def tick(self, seconds: int) -> None:
        self.now += timedelta(seconds=seconds)

    # -- people ---------------------------------------------------------------------------

    @rule(target=tickets, line=st.sampled_from(LINES),
          staff=st.sampled_from([frozenset(), frozenset(), frozenset({10}),
                                 frozenset({11, 12})]))
    def join(self, line: int, staff: frozenset[int]) -> str:
        ticket = f"t{len(self.joined)}"
        full = sum(p.line == line for p in self.tally.queued.values()) >= CAP
        try:
            entry = self.board.join(line, ticket, "chat", self.now, staff_ids=staff)
        except QueueFull:
            assert full
            return ticket  # never joined: every check below ignores it
        assert not full
        assert (entry.state, entry.staff_ids, entry.front) == (EntryState.WAITING, staff, False)
        self.joined.append(ticket)
        self.tally.queued[ticket] = Person(ticket, line, self.now, self._next_order(), staff)
        return ticket

    @rule(ticket=tickets)
    def leave(self, ticket: str) -> None:
        if ticket in self.tally.queued:
            assert self.board.leave(ticket).ticket == ticket
            del self.tally.queued[ticket]
            self.tally.left.add(ticket)
        else:
            with pytest.raises(UnknownTicket):
                self.board.leave(ticket)

    @rule(ticket=tickets)
    def away(self, ticket: str) -> None:
        person = self.tally.queued.get(ticket)
        if person is None:
            with pytest.raises(UnknownTicket):
                self.board.away(ticket, self.now)
            return
        if person.away_since is None:
            person.away_since = self.now
        entry = self.board.away(ticket, self.now)
        assert (entry.state, entry.away_since) == (EntryState.AWAY, person.away_since)

    @rule(ticket=tickets)
    def back(self, ticket: str) -> None:
        person = self.tally.queued.get(ticket)
        if person is None or (person.away_since is not None
                              and self.now >= person.away_since + GRACE):
            with pytest.raises(UnknownTicket):
                self.board.back(ticket, self.now)
            return
        person.away_since = None
        assert self.board.back(ticket, self.now).state is EntryState.WAITING

    @precondition(lambda self: any(p.away_since for p in self.tally.queued.values()))
    @rule(data=st.data())
    def back_someone_away(self, data: st.DataObject) -> None:
        """Aimed at the grace: one of the people away now tries to come back."""
        away = sorted(t for t, p in self.tally.queued.items() if p.away_since is not None)
        self.back(data.draw(st.sampled_from(away)))

    @rule()
    def expire(self) -> None:
        due = {t for t, p in self.tally.queued.items()
               if p.away_since is not None and self.now >= p.away_since + GRACE}
        gone = self.board.expire(self.now)
        assert {e.ticket for e in gone} == due and len(gone) == len(due)
        for ticket in due:
            del self.tally.queued[ticket]
            self.tally.expired.add(ticket)

    @rule(line=st.sampled_from(LINES))
    def close(self, line: int) -> None:
        due = sorted((p for p in self.tally.queued.values() if p.line == line),
                     key=Person.key)
        gone = self.board.close_line(line)
        assert [e.ticket for e in gone] == [p.ticket for p in due]
        for person in due:
            del self.tally.queued[person.ticket]
            self.tally.closed.add(person.ticket)

    # -- professionals --------------------------------------------------------------------

    @rule(staff=st.sampled_from(STAFF), some=st.sets(st.sampled_from(LINES), min_size=1))
    def take_next(self, staff: int, some: set[int]) -> None:
        if staff in {s for s, _ in self.tally.in_session.values()}:
            return  # one session at a time (the desk's rule; the board does not know it)
        lines = [line for line in DUTY[staff] if line in some]
        eligible = [p for p in self.tally.queued.values()
                    if p.line in lines and p.away_since is None
                    and (not p.staff or staff in p.staff)]
        expected = min(eligible, key=Person.key, default=None)
        taken = self.board.take_next(staff, lines, self.now)
        if expected is None:
            assert taken is None
            return
        assert taken is not None
        # Zero overtakes: exactly the oldest eligible entry.
        assert taken.ticket == expected.ticket, (taken, expected)
        # Nobody served twice: it was queued, not in a session and not done.
        assert taken.ticket not in self.tally.in_session
        assert taken.ticket not in self.tally.served
        assert taken.ticket not in self.board
        del self.tally.queued[taken.ticket]
        self.tally.in_session[taken.ticket] = (staff, taken)

    @rule(data=st.data())
    def end(self, data: st.DataObject) -> None:
        if not self.tally.in_session:
            return
        ticket = data.draw(st.sampled_from(sorted(self.tally.in_session)))
        del self.tally.in_session[ticket]
        self.tally.served.add(ticket)

    @precondition(lambda self: bool(self.tally.in_session))
    @rule(data=st.data(), to_line=st.sampled_from((None, *LINES)),
          to_staff=st.sampled_from((None, *STAFF)))
    def hand_over(self, data: st.DataObject, to_line: int | None,
                  to_staff: int | None) -> None:
        ticket = data.draw(st.sampled_from(sorted(self.tally.in_session)))
        _, entry = self.tally.in_session.pop(ticket)
        handed = self.board.hand_over(entry, self.now, to_line=to_line, to_staff=to_staff)
        line = entry.line_id if to_line is None else to_line
        if to_staff is not None:
            staff: frozenset[int] = frozenset({to_staff})
        elif to_line is not None:
            staff = frozenset()
        else:
            staff = entry.staff_ids
        assert (handed.line_id, handed.staff_ids, handed.front) == (line, staff, True)
        assert handed.joined_at == entry.joined_at
        self.tally.queued[ticket] = Person(ticket, line, entry.joined_at, self._next_order(),
                                           staff, front=True)

    # -- invariants -----------------------------------------------------------------------

    @invariant()
    def nobody_lost(self) -> None:
        places = self.tally.places()
        assert sum(len(p) for p in places) == len(self.joined)
        assert set().union(*places) == set(self.joined)
        assert len(self.board) == len(self.tally.queued)

    @invariant()
    def queues_in_take_order(self) -> None:
        for line in LINES:
            expected = sorted((p for p in self.tally.queued.values() if p.line == line),
                              key=Person.key)
            queue = self.board.queue(line)
            assert [e.ticket for e in queue] == [p.ticket for p in expected]
            for place, (entry, person) in enumerate(zip(queue, expected, strict=True), 1):
                assert self.board.position(entry.ticket) == place
                assert entry.away_since == person.away_since
                assert entry.staff_ids == person.staff and entry.front == person.front


LineBoardMachine.TestCase.settings = settings(max_examples=300, stateful_step_count=50,
                                              deadline=None)
TestLineBoard = LineBoardMachine.TestCase

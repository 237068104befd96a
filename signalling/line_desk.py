"""LineDesk: the contact lines' live state — queues, who is on duty, the sessions.

A plain class without I/O: every method takes a request and ``now`` and returns effects
(messages to a person's or a professional's socket, sockets to close, usage-log rows,
service times and queue rows to save), which ``server/line_hub.py`` performs. People are
known by their ticket (the sha256 of their resume secret), never by the secret itself;
professionals by their staff id. The rules are docs/protocol-lines.md's.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Final

from signalling import line_messages as wire
from signalling.line_effects import (
    AddCallback,
    BoardChanged,
    ClosePerson,
    DeleteQueued,
    Effect,
    Family,
    HoursState,
    LineAction,
    LineRules,
    Log,
    SaveQueued,
    SaveStats,
    ToPerson,
    ToStaff,
    TouchEnrolment,
)
from signalling.line_queue import Entry, EntryState, LineBoard, QueueFull, UnknownTicket
from signalling.line_wait import ServiceTimes, closes_first, expected_waits
from signalling.messages import IceServer, IceTransportPolicy, SignalPayload

# A person in a session whose socket drops has this long to come back.
SESSION_GRACE: Final = timedelta(minutes=1)
# People waiting hear their place again at least this often.
REFRESH: Final = timedelta(seconds=30)


IceSource = Callable[[str, datetime], tuple[IceServer, ...]]


@dataclass
class _Person:
    ticket: str
    line_id: int
    nickname: str
    family: Family | None
    connected: bool = True
    callback_requested: bool = False
    callback_offered: bool = False
    session: str | None = None
    away_since: datetime | None = None  # in a session, socket lost


@dataclass
class _Session:
    id: str
    ticket: str
    staff_id: int
    line_id: int
    entry: Entry
    video: bool
    started_at: datetime
    who: str
    waited_s: int


@dataclass
class _Staff:
    first_name: str
    sockets: int = 0
    duty: frozenset[int] = frozenset()
    session: str | None = None
    away_since: datetime | None = None  # no socket left, a session still open


@dataclass
class _LineState:
    rules: LineRules
    times: ServiceTimes
    last_take: datetime | None = None  # closing time + grace of the current opening
    refreshed: datetime | None = None


@dataclass
class _Out:
    effects: list[Effect] = field(default_factory=list)
    changed: set[int] = field(default_factory=set)  # lines whose people need a queue update


class LineDesk:
    """All lines' live state. Methods return effects; nothing here waits or reads a clock."""

    def __init__(self, *, ice: IceSource, ice_policy: IceTransportPolicy = "all",
                 new_id: Callable[[], str] = lambda: secrets.token_urlsafe(16),
                 away_grace: timedelta = timedelta(minutes=1)) -> None:
        self.board = LineBoard(away_grace=away_grace)
        self._ice = ice
        self._ice_policy: IceTransportPolicy = ice_policy
        self._new_id = new_id
        self._lines: dict[int, _LineState] = {}
        self._people: dict[str, _Person] = {}
        self._staff: dict[int, _Staff] = {}
        self._sessions: dict[str, _Session] = {}

    # -- lines ---------------------------------------------------------------------------

    def set_line(self, rules: LineRules, stats: tuple[float | None, int] = (None, 0)) -> None:
        """Declares a line or takes its changed rules (cap, hours, staff, modes)."""
        state = self._lines.get(rules.id)
        if state is None:
            mean, samples = stats
            self._lines[rules.id] = _LineState(rules, ServiceTimes(mean=mean, samples=samples))
        else:
            state.rules = rules
        self.board.open_line(rules.id, rules.cap)
        for staff_id, staff in self._staff.items():  # taken off the line: off duty for it
            if rules.id in staff.duty and staff_id not in rules.staff_ids:
                staff.duty = staff.duty - {rules.id}

    def line(self, line_id: int) -> LineRules | None:
        state = self._lines.get(line_id)
        return None if state is None else state.rules

    def is_full(self, line_id: int) -> bool:
        state = self._lines.get(line_id)
        return state is not None and len(self.board.queue(line_id)) >= state.rules.cap

    def _hours(self, line_id: int, now: datetime) -> HoursState:
        state = self._lines[line_id]
        hours = state.rules.hours(now)
        if hours.open:
            state.last_take = (None if hours.closes_at is None
                               else hours.closes_at + state.rules.grace)
        return hours

    def _takeable(self, line_id: int, now: datetime) -> bool:
        """Open, or closed less than the grace ago; never once the line is deactivated."""
        if not self._lines[line_id].rules.active:
            return False
        if self._hours(line_id, now).open:
            return True
        last = self._lines[line_id].last_take
        return last is not None and now <= last

    # -- a person ------------------------------------------------------------------------

    def join(self, line_id: int, ticket: str, secret: str, mode: str, now: datetime, *,
             nickname: str = "", family: Family | None = None) -> list[Effect]:
        """A person asks for a place; refused outside hours or when the line is full."""
        out = _Out()
        rules = self._lines[line_id].rules
        if not rules.allows(mode):
            raise wire.LineError("mode_not_offered")
        hours = self._hours(line_id, now)
        if not hours.open:
            out.effects += [ToPerson(ticket, wire.Closed(opens_at=hours.opens_at)),
                            ClosePerson(ticket)]
            return out.effects
        staff_ids = family.staff_ids if family is not None else frozenset()
        enrolment = family.enrolment_id if family is not None else None
        try:
            entry = self.board.join(line_id, ticket, mode, now, enrolment_id=enrolment,
                                    staff_ids=staff_ids)
        except QueueFull:
            out.effects += [ToPerson(ticket, wire.Full()), ClosePerson(ticket)]
            return out.effects
        self._people[ticket] = _Person(ticket, line_id, nickname, family)
        out.effects += [
            ToPerson(ticket, wire.Welcome(resume=secret, line=rules.info(),
                                          family_name=family.family_name if family else None)),
            SaveQueued(entry, nickname),
            Log(LineAction.JOINED, None, self._detail(line_id, family, mode=mode)),
        ]
        if family is not None:
            knock = wire.Knock(line=line_id, family_name=family.family_name,
                               enrolment=family.enrolment_id)
            out.effects.append(TouchEnrolment(family.enrolment_id))
            for staff_id in sorted(family.staff_ids or rules.staff_ids):
                if staff_id in self._staff:
                    out.effects.append(ToStaff(staff_id, knock))
        out.changed.add(line_id)
        out.effects.append(BoardChanged())  # one more waiting: the boards count them
        return self._finish(out, now)

    def restore(self, entry: Entry, nickname: str, family: Family | None,
                now: datetime) -> None:
        """A queue row saved before a restart: AWAY from ``now``, so its person has the
        minute to resume the place."""
        self.board.restore(entry, now)
        self._people[entry.ticket] = _Person(entry.ticket, entry.line_id, nickname, family,
                                             connected=False)

    def resume(self, ticket: str, secret: str, now: datetime) -> list[Effect]:
        """The person's socket came back within the minute: the same place or session."""
        person = self._people.get(ticket)
        if person is None:
            raise wire.LineError("resume_failed")
        out = _Out()
        rules = self._lines[person.line_id].rules
        family_name = person.family.family_name if person.family else None
        if person.session is not None:
            session = self._sessions[person.session]
            person.connected, person.away_since = True, None
            out.effects += [
                ToPerson(ticket, wire.Welcome(resume=secret, line=rules.info(),
                                              family_name=family_name)),
                ToPerson(ticket, self._taken(session, now)),
                ToStaff(session.staff_id, wire.Presence(session=session.id)),
            ]
            return out.effects
        try:
            self.board.back(ticket, now)
        except UnknownTicket:
            raise wire.LineError("resume_failed") from None
        person.connected = True
        out.effects.append(ToPerson(ticket, wire.Welcome(resume=secret, line=rules.info(),
                                                         family_name=family_name)))
        out.changed.add(person.line_id)
        return self._finish(out, now)

    def person_gone(self, ticket: str, now: datetime) -> list[Effect]:
        """The person's socket is lost: the place (or session) is kept for the minute."""
        person = self._people.get(ticket)
        if person is None or not person.connected:
            return []
        person.connected = False
        if person.session is not None:
            person.away_since = now
            session = self._sessions[person.session]
            return [ToStaff(session.staff_id, wire.Presence(session=session.id, away=True))]
        if ticket in self.board:
            self.board.away(ticket, now)
        return []

    def leave(self, ticket: str, now: datetime) -> list[Effect]:
        """The person leaves the queue (or ends its session)."""
        person = self._people.get(ticket)
        if person is None:
            return []
        if person.session is not None:
            return self.end(ticket, None, None, now)
        out = _Out()
        entry = self.board.leave(ticket)
        self._drop_queued(out, entry, "left", now)
        out.effects.append(ClosePerson(ticket))
        return self._finish(out, now)

    def request_callback(self, ticket: str, now: datetime) -> list[Effect]:
        person = self._person(ticket)
        if (person.family is None or person.session is not None
                or not self._callback_offered(person, now)):
            raise wire.LineError("callback_not_offered")
        out = _Out()
        if not person.callback_requested:
            person.callback_requested = True
            out.effects += [
                AddCallback(person.family.enrolment_id, person.line_id),
                Log(LineAction.CALLBACK_REQUESTED, None,
                    {"line": person.line_id, "enrolment": person.family.enrolment_id}),
            ]
        out.changed.add(person.line_id)
        return self._finish(out, now)

    # -- a professional ------------------------------------------------------------------

    def staff_connected(self, staff_id: int, first_name: str, now: datetime) -> list[Effect]:
        staff = self._staff.setdefault(staff_id, _Staff(first_name))
        staff.first_name = first_name
        staff.sockets += 1
        staff.away_since = None
        effects: list[Effect] = [ToStaff(staff_id, wire.Welcome(staff_id=staff_id)),
                                 BoardChanged()]
        if staff.session is not None:  # back within the minute: the session goes on
            effects.append(ToStaff(staff_id, self._started(self._sessions[staff.session], now)))
        return effects

    def staff_gone(self, staff_id: int, now: datetime) -> list[Effect]:
        """A staff socket closed; with the last one they go off duty, and a session they
        are in waits a minute for them to come back (then it ends)."""
        staff = self._staff.get(staff_id)
        if staff is None:
            return []
        staff.sockets -= 1
        if staff.sockets > 0:
            return []
        out = _Out()
        out.changed.update(staff.duty)
        staff.duty = frozenset()
        if staff.session is None:
            del self._staff[staff_id]
        else:
            staff.away_since = now
        out.effects.append(BoardChanged())
        return self._finish(out, now)

    def set_duty(self, staff_id: int, line_ids: Iterable[int], now: datetime) -> list[Effect]:
        staff = self._staff[staff_id]
        wanted = frozenset(line_ids)
        for line_id in wanted:
            state = self._lines.get(line_id)
            if state is None or staff_id not in state.rules.staff_ids:
                raise wire.LineError("not_your_line")
        out = _Out()
        out.changed.update(staff.duty ^ wanted)
        staff.duty = wanted
        out.effects.append(BoardChanged())
        return self._finish(out, now)

    def take_next(self, staff_id: int, now: datetime) -> list[Effect]:
        staff = self._staff[staff_id]
        if staff.session is not None:
            raise wire.LineError("busy")
        takeable = [i for i in staff.duty if i in self._lines and self._takeable(i, now)]
        if staff.duty and not takeable:
            raise wire.LineError("line_closed")
        entry = self.board.take_next(staff_id, takeable, now)
        if entry is None:
            return [ToStaff(staff_id, wire.Nobody())]
        out = _Out()
        person = self._people[entry.ticket]
        rules = self._lines[entry.line_id].rules
        video = entry.mode == "video" and rules.allows("video")
        waited = _seconds(now - entry.joined_at)
        family = person.family
        who = family.family_name if family is not None else person.nickname
        session = _Session(self._new_id(), entry.ticket, staff_id, entry.line_id, entry, video,
                           now, who, waited)
        self._sessions[session.id] = session
        staff.session = session.id
        person.session = session.id
        out.effects += [
            DeleteQueued(entry.ticket),
            Log(LineAction.TAKEN, staff_id, self._detail(entry.line_id, family,
                                                         waited_s=waited)),
            ToPerson(entry.ticket, self._taken(session, now)),
            ToStaff(staff_id, self._started(session, now)),
            BoardChanged(),
        ]
        if video:
            out.effects.append(Log(LineAction.VIDEO_STARTED, staff_id,
                                   self._detail(entry.line_id, family)))
        out.changed.add(entry.line_id)
        return self._finish(out, now)

    def hand_over(self, staff_id: int, session_id: str, now: datetime, *,
                  to_line: int | None = None, to_staff: int | None = None) -> list[Effect]:
        session = self._own_session(staff_id, session_id)
        person = self._people[session.ticket]
        if to_line is not None:
            target = self._lines.get(to_line)
            if target is None or not self._takeable(to_line, now):
                raise wire.LineError("unknown_line")
        if to_staff is not None and to_staff not in self._lines[session.line_id].rules.staff_ids:
            raise wire.LineError("unknown_staff")
        out = _Out()
        self._close_session(session)
        entry = self.board.hand_over(session.entry, now, to_line=to_line, to_staff=to_staff)
        person.line_id = entry.line_id
        if not person.connected:
            self.board.away(entry.ticket, person.away_since or now)
        person.away_since = None
        target_rules = self._lines[entry.line_id].rules
        where: dict[str, int | str] = ({"to_line": to_line} if to_line is not None
                                       else {"to_staff": to_staff or 0})
        out.effects += [
            Log(LineAction.HANDED_OVER, staff_id,
                {**self._detail(session.line_id, person.family), **where}),
            SaveQueued(entry, person.nickname),
            ToPerson(entry.ticket, wire.HandedOver(line=target_rules.info())),
            ToStaff(staff_id, wire.Ended(reason="you", session=session.id)),
            BoardChanged(),
        ]
        if to_staff is not None and to_staff in self._staff and person.family is not None:
            out.effects.append(ToStaff(to_staff, wire.Knock(
                line=entry.line_id, family_name=person.family.family_name,
                enrolment=person.family.enrolment_id)))
        out.changed.add(entry.line_id)
        return self._finish(out, now)

    # -- in a session (either side) -----------------------------------------------------

    def chat(self, ticket: str | None, staff_id: int | None, session_id: str | None, text: str,
             now: datetime) -> list[Effect]:
        session = self._session_of(ticket, staff_id, session_id)
        sid = session.id
        if ticket is not None:
            return [ToStaff(session.staff_id, wire.ChatRelayed(from_="family", text=text,
                                                               session=sid)),
                    ToPerson(ticket, wire.ChatRelayed(from_="you", text=text))]
        return [ToPerson(session.ticket, wire.ChatRelayed(from_="staff", text=text)),
                ToStaff(session.staff_id, wire.ChatRelayed(from_="you", text=text, session=sid))]

    def video(self, ticket: str | None, staff_id: int | None, session_id: str | None,
              now: datetime) -> list[Effect]:
        session = self._session_of(ticket, staff_id, session_id)
        if not self._lines[session.line_id].rules.allows("video"):
            raise wire.LineError("video_not_offered")
        if session.video:
            return []
        session.video = True
        family = self._people[session.ticket].family
        return [ToPerson(session.ticket, wire.VideoStarted()),
                ToStaff(session.staff_id, wire.VideoStarted(session=session.id)),
                Log(LineAction.VIDEO_STARTED, staff_id, self._detail(session.line_id, family))]

    def signal(self, ticket: str | None, staff_id: int | None, session_id: str | None,
               payload: SignalPayload, now: datetime) -> list[Effect]:
        session = self._session_of(ticket, staff_id, session_id)
        if ticket is not None:
            return [ToStaff(session.staff_id, wire.SignalRelayed(payload=payload,
                                                                 session=session.id))]
        return [ToPerson(session.ticket, wire.SignalRelayed(payload=payload))]

    def end(self, ticket: str | None, staff_id: int | None, session_id: str | None,
            now: datetime) -> list[Effect]:
        session = self._session_of(ticket, staff_id, session_id)
        return self._end(session, "you" if ticket is None else "family", now)

    def _end(self, session: _Session, reason: str, now: datetime) -> list[Effect]:
        """``reason`` as the professional hears it: you, family or gone; ``staff_gone``:
        the professional's socket was lost for the whole minute."""
        out = _Out()
        self._close_session(session)
        person = self._people.pop(session.ticket)
        state = self._lines[session.line_id]
        served = _seconds(now - session.started_at)
        if reason not in ("gone", "staff_gone"):
            state.times.observe(served)
        by = session.staff_id if reason == "you" else None
        if reason == "staff_gone":
            reason = "gone"
        out.effects += [
            Log(LineAction.ENDED, by, self._detail(session.line_id, person.family,
                                                   served_s=served)),
        ]
        if state.times.saved_mean is not None:
            out.effects.append(SaveStats(session.line_id, state.times.saved_mean,
                                         state.times.samples))
        out.effects.append(ToStaff(session.staff_id, wire.Ended(reason=reason,
                                                                session=session.id)))
        if person.connected:
            out.effects += [ToPerson(session.ticket, wire.Ended(
                reason="you" if reason == "family" else "staff")), ClosePerson(session.ticket)]
        staff = self._staff.get(session.staff_id)
        if staff is not None and staff.sockets == 0:
            del self._staff[session.staff_id]
        out.effects.append(BoardChanged())
        out.changed.add(session.line_id)
        return self._finish(out, now)

    # -- time ----------------------------------------------------------------------------

    def tick(self, now: datetime) -> list[Effect]:
        """Expiries, closing + grace, dropped sessions, the 30 s refresh, call-back offers."""
        out = _Out()
        for entry in self.board.expire(now):
            self._drop_queued(out, entry, "gone", now)
        for session in list(self._sessions.values()):
            person = self._people[session.ticket]
            staff = self._staff[session.staff_id]
            if person.away_since is not None and now >= person.away_since + SESSION_GRACE:
                out.effects += self._end(session, "gone", now)
            elif staff.away_since is not None and now >= staff.away_since + SESSION_GRACE:
                out.effects += self._end(session, "staff_gone", now)
        for line_id, state in self._lines.items():
            if self.board.queue(line_id) and not self._takeable(line_id, now):
                for entry in self.board.close_line(line_id):
                    self._drop_queued(out, entry, "closed", now)
                    if self._people.get(entry.ticket) is None:
                        continue
                    self._people.pop(entry.ticket)
                    out.effects += [ToPerson(entry.ticket, wire.LineClosed()),
                                    ClosePerson(entry.ticket)]
                out.effects.append(BoardChanged())
                continue
            if state.refreshed is None or now - state.refreshed >= REFRESH:
                out.changed.add(line_id)
            for entry in self.board.queue(line_id):
                waiting = self._people.get(entry.ticket)
                if waiting is not None and waiting.family is not None \
                        and not waiting.callback_offered and self._callback_offered(waiting, now):
                    out.changed.add(line_id)
        return self._finish(out, now)

    def revoke(self, enrolment_id: int, now: datetime) -> list[Effect]:
        """The family's link was revoked: out of the queue or session, socket closed."""
        out: list[Effect] = []
        for person in list(self._people.values()):
            if person.family is None or person.family.enrolment_id != enrolment_id:
                continue
            ticket = person.ticket
            if person.session is not None:
                person.connected = False  # told below, by the error
                out += self._end(self._sessions[person.session], "gone", now)
            elif ticket in self.board:
                inner = _Out()
                self._drop_queued(inner, self.board.leave(ticket), "gone", now)
                out += self._finish(inner, now)
            self._people.pop(ticket, None)
            out += [ToPerson(ticket, wire.LineError("enrolment_revoked").fact()),
                    ClosePerson(ticket)]
        return out

    # -- what staff see --------------------------------------------------------------------

    def staff_ids(self) -> list[int]:
        return list(self._staff)

    def staff_lines(self, staff_id: int) -> list[int]:
        return sorted(i for i, s in self._lines.items() if staff_id in s.rules.staff_ids)

    def board_for(self, staff_id: int, now: datetime) -> wire.Board:
        staff = self._staff.get(staff_id)
        duty = staff.duty if staff is not None else frozenset()
        lines = []
        for line_id in self.staff_lines(staff_id):
            rules = self._lines[line_id].rules
            hours = self._hours(line_id, now)
            queue = self.board.queue(line_id)
            on_duty = self._on_duty(line_id)
            waits = self._waits(line_id, len(queue) + 1, now)
            lines.append(wire.BoardLine(
                id=line_id, name=rules.name, kind=rules.kind, modes=rules.modes,
                open=hours.open, closes_at=hours.closes_at, waiting=len(queue),
                longest_wait_s=(max(_seconds(now - e.joined_at) for e in queue)
                                if queue else None),
                expected_wait_s=None if waits is None else round(waits[-1]),
                on_duty=tuple(wire.OnDuty(id=i, first_name=self._staff[i].first_name)
                              for i in on_duty),
                mine=line_id in duty))
        return wire.Board(lines=tuple(lines), duty=tuple(sorted(duty)), callbacks=())

    # -- inside ----------------------------------------------------------------------------

    def _person(self, ticket: str) -> _Person:
        person = self._people.get(ticket)
        if person is None:
            raise wire.LineError("not_in_session")
        return person

    def _own_session(self, staff_id: int, session_id: str) -> _Session:
        session = self._sessions.get(session_id)
        if session is None or session.staff_id != staff_id:
            raise wire.LineError("unknown_session")
        return session

    def _session_of(self, ticket: str | None, staff_id: int | None,
                    session_id: str | None) -> _Session:
        if ticket is not None:
            person = self._person(ticket)
            if person.session is None:
                raise wire.LineError("not_in_session")
            return self._sessions[person.session]
        assert staff_id is not None
        if session_id is None:
            raise wire.LineError("unknown_session")
        return self._own_session(staff_id, session_id)

    def _close_session(self, session: _Session) -> None:
        self._sessions.pop(session.id, None)
        staff = self._staff.get(session.staff_id)
        if staff is not None and staff.session == session.id:
            staff.session = None
        person = self._people.get(session.ticket)
        if person is not None:
            person.session = None

    def _started(self, session: _Session, now: datetime) -> wire.SessionStarted:
        return wire.SessionStarted(
            session=session.id, line=session.line_id, who=session.who,
            mode="video" if session.video else "chat", waited_s=session.waited_s,
            ice_servers=self._ice(f"line-staff-{session.staff_id}", now),
            ice_transport_policy=self._ice_policy)

    def _taken(self, session: _Session, now: datetime) -> wire.Taken:
        staff = self._staff.get(session.staff_id)
        return wire.Taken(session=session.id, staff_name=staff.first_name if staff else "",
                          mode="video" if session.video else "chat",
                          ice_servers=self._ice(f"line-{session.id}", now),
                          ice_transport_policy=self._ice_policy)

    def _drop_queued(self, out: _Out, entry: Entry, reason: str, now: datetime) -> None:
        person = self._people.get(entry.ticket)
        family = person.family if person is not None else None
        if reason != "closed":
            self._people.pop(entry.ticket, None)
        out.effects += [
            DeleteQueued(entry.ticket),
            Log(LineAction.LEFT, None, self._detail(entry.line_id, family, reason=reason,
                                                    waited_s=_seconds(now - entry.joined_at))),
        ]
        out.changed.add(entry.line_id)

    def _detail(self, line_id: int, family: Family | None,
                **more: int | str) -> dict[str, int | str]:
        """Public lines' rows carry nothing about the person; personal lines' the enrolment."""
        detail: dict[str, int | str] = {"line": line_id, **more}
        if family is not None and self._lines[line_id].rules.personal:
            detail["enrolment"] = family.enrolment_id
        return detail

    def _on_duty(self, line_id: int) -> list[int]:
        return sorted(i for i, s in self._staff.items() if line_id in s.duty)

    def _waits(self, line_id: int, count: int, now: datetime) -> list[float] | None:
        on_duty = self._on_duty(line_id)
        elapsed = [(now - self._sessions[sid].started_at).total_seconds()
                   for i in on_duty if (sid := self._staff[i].session) is not None]
        return expected_waits(count, mean=self._lines[line_id].times.mean,
                              serving_elapsed=elapsed, on_duty=len(on_duty))

    def _callback_offered(self, person: _Person, now: datetime) -> bool:
        if person.family is None or person.ticket not in self.board:
            return False
        entry = self.board.entry(person.ticket)
        rules = self._lines[person.line_id].rules
        return not self._on_duty(person.line_id) or now - entry.joined_at >= rules.callback_after

    def _finish(self, out: _Out, now: datetime) -> list[Effect]:
        """Adds a queue update for everyone connected in each changed line."""
        for line_id in sorted(out.changed):
            state = self._lines[line_id]
            state.refreshed = now
            queue = self.board.queue(line_id)
            waits = self._waits(line_id, len(queue), now) if queue else None
            on_duty = len(self._on_duty(line_id))
            for place, entry in enumerate(queue, start=1):
                person = self._people.get(entry.ticket)
                if person is None or not person.connected or entry.state is EntryState.AWAY:
                    continue
                wait = None if waits is None else waits[place - 1]
                callback = None
                if person.family is not None:
                    person.callback_offered = self._callback_offered(person, now)
                    callback = wire.CallbackState(offered=person.callback_offered,
                                                  requested=person.callback_requested)
                out.effects.append(ToPerson(entry.ticket, wire.Queue(
                    position=place, expected_wait_s=None if wait is None else round(wait),
                    closes_first=closes_first(now, wait, state.last_take),
                    on_duty=on_duty, callback=callback)))
        return out.effects


def _seconds(delta: timedelta) -> int:
    return max(0, round(delta.total_seconds()))


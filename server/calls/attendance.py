"""Attendance: who was in an appointment's call, from when to when, derived from the usage log.

Nothing extra is stored: the call's ``call.joined``, ``call.disconnected``,
``call.reconnected`` and ``call.left`` rows are enough (docs/protocol.md, "What the call
records"), with the server's ``server.lost`` rows. Connected time runs from a join or
reconnect to the next disconnect or leave; the grace period of a dropped seat does not
count. A crash ends no spell in the log, so ``server.lost`` (written at the next start,
dated at the crashed run's last moment seen alive, ``alive_mark.py``) ends every spell
still open: neither the outage nor the restored seat's ``call.disconnected`` at the
restart is counted.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from operator import attrgetter
from typing import Final

from server.audit import Action, ActorKind
from server.calls.members import CallId
from server.records import AuditRow
from signalling.effects import CallAction

SERVER_LOST: Final = Action.SERVER_LOST.value
CALL_ACTIONS: Final = (
    CallAction.CALL_JOINED.value,
    CallAction.CALL_DISCONNECTED.value,
    CallAction.CALL_RECONNECTED.value,
    CallAction.CALL_LEFT.value,
)


@dataclass(frozen=True)
class Attendance:
    who: CallId
    first_joined: datetime | None
    last_left: datetime | None  # None while in the call, or if never joined
    connected: timedelta
    in_call: bool


@dataclass
class _Tally:
    first_joined: datetime | None = None
    last_left: datetime | None = None
    connected: timedelta = timedelta(0)
    since: datetime | None = None  # set while connected

    def end(self, at: datetime) -> None:
        """Ends the open spell at ``at`` (never before it began)."""
        if self.since is not None:
            at = max(at, self.since)
            self.connected += at - self.since
            self.last_left, self.since = at, None


def derive_attendance(
    rows: Iterable[AuditRow], connected_now: Collection[CallId], now: datetime
) -> dict[CallId, Attendance]:
    """Per participant, from the call rows of one appointment and the ``server.lost``
    rows after its first call row, taken in log (id) order.

    A spell ends at the next disconnect or leave. A ``server.lost`` row ends every open
    spell at the moment the crashed server was last seen alive, so a seat resumed after
    the restart starts a new spell. A spell whose end is missing for any other reason
    (a join or reconnect while it is open, or still open with the participant not
    connected now) ends at its last row, its start: time nobody saw is never counted.
    A spell open for someone connected now counts up to ``now``.
    """
    tallies: dict[CallId, _Tally] = {}
    for row in sorted(rows, key=attrgetter("id")):
        if row.action == SERVER_LOST:
            for lost in tallies.values():
                lost.end(row.at)
            continue
        if row.actor_kind not in (ActorKind.STAFF, ActorKind.PARTICIPANT) or row.actor_id is None:
            continue
        who = CallId(row.actor_kind == ActorKind.STAFF, row.actor_id)
        tally = tallies.setdefault(who, _Tally())
        if row.action in (CallAction.CALL_JOINED, CallAction.CALL_RECONNECTED):
            if row.action == CallAction.CALL_JOINED and tally.first_joined is None:
                tally.first_joined = row.at
            if tally.since is not None:
                tally.end(tally.since)  # the end of the spell before was lost
            tally.since = row.at
        elif row.action in (CallAction.CALL_DISCONNECTED, CallAction.CALL_LEFT):
            tally.end(row.at)
    result = {}
    for who, tally in tallies.items():
        in_call = tally.since is not None and who in connected_now
        if in_call and tally.since is not None:
            tally.connected += max(timedelta(0), now - tally.since)
        elif tally.since is not None:
            tally.end(tally.since)  # its end was lost: it ends at its last row
        result[who] = Attendance(who, tally.first_joined, None if in_call else tally.last_left,
                                 tally.connected, in_call)
    return result

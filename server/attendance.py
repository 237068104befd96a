"""Attendance: who was in an appointment's call, from when to when, derived from the usage log.

Nothing extra is stored: the call's ``call.joined``, ``call.disconnected``,
``call.reconnected`` and ``call.left`` rows are enough (docs/protocol.md, "What the call
records"). Connected time runs from a join or reconnect to the next disconnect or leave;
the grace period of a dropped seat does not count.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final

from server.audit import Action, ActorKind
from server.call_members import CallId
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


def derive_attendance(
    rows: Iterable[AuditRow], connected_now: Collection[CallId], now: datetime
) -> dict[CallId, Attendance]:
    """Per participant, from the call rows of one appointment in log order.

    A spell still open counts up to ``now`` if the participant is connected now;
    otherwise the server lost it (a crash) and it ends at its last row. A ``server.lost``
    row (``rows`` include them) ends every open spell at the moment the crashed server
    was last seen alive, so a seat resumed after the restart starts a new spell.
    """
    tallies: dict[CallId, _Tally] = {}
    for row in rows:
        if row.action == SERVER_LOST:
            # The server died: every open spell ends at its last moment seen alive.
            for lost in tallies.values():
                if lost.since is not None:
                    end = max(row.at, lost.since)
                    lost.connected += end - lost.since
                    lost.last_left, lost.since = end, None
            continue
        if row.actor_kind not in (ActorKind.STAFF, ActorKind.PARTICIPANT) or row.actor_id is None:
            continue
        who = CallId(row.actor_kind == ActorKind.STAFF, row.actor_id)
        tally = tallies.setdefault(who, _Tally())
        if row.action in (CallAction.CALL_JOINED, CallAction.CALL_RECONNECTED):
            if row.action == CallAction.CALL_JOINED and tally.first_joined is None:
                tally.first_joined = row.at
            if tally.since is None:
                tally.since = row.at
        elif row.action in (CallAction.CALL_DISCONNECTED, CallAction.CALL_LEFT) and tally.since:
            tally.connected += row.at - tally.since
            tally.last_left, tally.since = row.at, None
    result = {}
    for who, tally in tallies.items():
        in_call = tally.since is not None and who in connected_now
        if in_call and tally.since is not None:
            tally.connected += max(timedelta(0), now - tally.since)
        elif tally.since is not None:
            tally.last_left = tally.since
        result[who] = Attendance(who, tally.first_joined, None if in_call else tally.last_left,
                                 tally.connected, in_call)
    return result

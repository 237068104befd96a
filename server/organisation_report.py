"""The organisation report: appointments and usage-log rows in, report rows out.

Pure: no I/O, no clock (``now`` is given). What each figure means and exactly how it is
counted is in docs/reports.md; in short, per (month, service, kind, host):

- an appointment belongs to the month (in KOTA_TIMEZONE) its start falls in;
- ``cancelled``: its status is cancelled; ``held``: not cancelled and at least one
  participant by link joined the call; ``no_show``: not cancelled, over (ended by
  ``now``) and nobody by link joined;
- minutes are connected time of the participants by link, in real (UTC) time, from
  ``derive_attendance`` (a crash ends spells at ``server.lost``);
- a wait runs from a ``waiting.entered`` to the ``admission.admitted`` of the same
  person; median and 90th percentile are nearest-rank;
- tests: ``connection_test.completed`` rows of the appointment by verdict; sound-only
  switches: ``call.sound_only`` rows with ``detail.on`` true;
- travel avoided: each held appointment avoids one round trip, 2 x its one-way distance
  and time.

Lines are counted per (month of the event, line, serving professional): ``line.taken``
is one served (its actor the professional), ``line.left`` one who left waiting (no
professional); both give a wait (``detail.waited_s``).
"""

from __future__ import annotations

import json
from bisect import bisect_right
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from operator import attrgetter
from typing import Any, Final
from zoneinfo import ZoneInfo

from server.audit import Action, ActorKind
from server.calls.attendance import CALL_ACTIONS, derive_attendance
from server.records import AuditRow, ReportAppointment, ReportNames
from signalling.effects import CallAction

WAITING_ENTERED: Final = CallAction.WAITING_ENTERED.value
ADMITTED: Final = CallAction.ADMISSION_ADMITTED.value
TEST: Final = Action.CONNECTION_TEST_COMPLETED.value
# Written by the call when someone switches to sound only (``media-mode``).
SOUND_ONLY: Final = "call.sound_only"
# The rows of an appointment the report reads.
APPOINTMENT_ACTIONS: Final = (*CALL_ACTIONS, WAITING_ENTERED, ADMITTED, TEST, SOUND_ONLY)
LINE_TAKEN: Final = "line.taken"
LINE_LEFT: Final = "line.left"
LINE_ACTIONS: Final = (LINE_TAKEN, LINE_LEFT)
VERDICTS: Final = ("good", "audio_only", "too_weak", "no_connection")
MAX_MONTHS: Final = 36

_CALL_SET: Final = frozenset(CALL_ACTIONS)


@dataclass(frozen=True)
class OrganisationReport:
    rows: list[dict[str, Any]]
    lines: list[dict[str, Any]]
    totals: dict[str, Any]


@dataclass
class _Tally:
    """One row group's counts; seconds and waits stay exact until the row is written."""

    appointments: int = 0
    held: int = 0
    cancelled: int = 0
    no_show: int = 0
    seconds: float = 0.0
    joined: int = 0
    waits: list[int] = field(default_factory=list)
    tests: dict[str, int] = field(default_factory=lambda: dict.fromkeys(VERDICTS, 0))
    sound_only: int = 0
    travel_km: float = 0.0
    travel_minutes: int = 0
    travel_unknown: int = 0

    def add(self, other: _Tally) -> None:
        for name in ("appointments", "held", "cancelled", "no_show", "seconds", "joined",
                     "sound_only", "travel_km", "travel_minutes", "travel_unknown"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.waits.extend(other.waits)
        for verdict in VERDICTS:
            self.tests[verdict] += other.tests[verdict]


def month_of(moment: datetime, tz: ZoneInfo) -> str:
    local = moment.astimezone(tz)
    return f"{local.year:04d}-{local.month:02d}"


def nearest_rank(values: Sequence[int], percent: int) -> int | None:
    """The smallest value with at least ``percent`` % of the values at or below it."""
    if not values:
        return None
    ordered = sorted(values)
    rank = (percent * len(ordered) + 99) // 100
    return ordered[max(rank, 1) - 1]


def _detail(row: AuditRow) -> dict[str, Any]:
    if not row.detail:
        return {}
    try:
        found = json.loads(row.detail)
    except ValueError:
        return {}
    return found if isinstance(found, dict) else {}


def _about(row: AuditRow) -> int | None:
    """The participant by link a row is about."""
    if row.subject_id is not None:
        return row.subject_id
    return row.actor_id if row.actor_kind == ActorKind.PARTICIPANT else None


def _crashes_for(call_rows: Sequence[AuditRow], lost: Sequence[AuditRow],
                 lost_ids: Sequence[int]) -> list[AuditRow]:
    """The ``server.lost`` rows that can end a spell of these rows: those among them and
    the first after them (every spell is closed after that one)."""
    first = bisect_right(lost_ids, call_rows[0].id)
    last = bisect_right(lost_ids, call_rows[-1].id)
    return list(lost[first:last + 1])


def _tally_appointment(appointment: ReportAppointment, rows: list[AuditRow],
                       lost: Sequence[AuditRow], lost_ids: Sequence[int],
                       now: datetime) -> _Tally:
    tally = _Tally(appointments=1)
    rows.sort(key=attrgetter("id"))
    call_rows = [r for r in rows if r.action in _CALL_SET]
    joined = 0
    if call_rows:
        attendance = derive_attendance(call_rows + _crashes_for(call_rows, lost, lost_ids),
                                       (), now)
        for caller, seen in attendance.items():
            if caller.is_staff or seen.first_joined is None:
                continue
            joined += 1
            tally.seconds += seen.connected.total_seconds()
    tally.joined = joined
    waiting: dict[int, datetime] = {}
    for row in rows:
        if row.action == WAITING_ENTERED:
            person = _about(row)
            if person is not None:
                waiting[person] = row.at
        elif row.action == ADMITTED:
            entered = None if row.subject_id is None else waiting.pop(row.subject_id, None)
            if entered is not None:
                tally.waits.append(max(0, int((row.at - entered).total_seconds())))
        elif row.action == TEST:
            verdict = _detail(row).get("verdict")
            if verdict in tally.tests:
                tally.tests[verdict] += 1
        elif row.action == SOUND_ONLY and _detail(row).get("on") is True:
            tally.sound_only += 1
    if appointment.cancelled:
        tally.cancelled = 1
    elif joined:
        tally.held = 1
        if appointment.km is not None:
            tally.travel_km = 2 * appointment.km
        if appointment.minutes is not None:
            tally.travel_minutes = 2 * appointment.minutes
        if appointment.km is None and appointment.minutes is None:
            tally.travel_unknown = 1
    elif appointment.ends_at <= now:
        tally.no_show = 1
    return tally


def _figures(tally: _Tally) -> dict[str, Any]:
    minutes = tally.seconds / 60
    return {
        "appointments": tally.appointments,
        "held": tally.held,
        "cancelled": tally.cancelled,
        "no_show": tally.no_show,
        "participant_minutes": round(minutes, 1),
        "participants_joined": tally.joined,
        "minutes_per_participant": round(minutes / tally.joined, 1) if tally.joined else None,
        "waiting_median_s": nearest_rank(tally.waits, 50),
        "waiting_p90_s": nearest_rank(tally.waits, 90),
        "waits_counted": len(tally.waits),
        "tests": dict(tally.tests),
        "sound_only_switches": tally.sound_only,
        "travel_km": round(tally.travel_km, 1),
        "travel_hours": round(tally.travel_minutes / 60, 2),
        "travel_unknown": tally.travel_unknown,
    }


def _line_rows(line_rows: Iterable[AuditRow], names: ReportNames,
               tz: ZoneInfo) -> list[dict[str, Any]]:
    groups: dict[tuple[str, int, int | None], tuple[list[int], list[int]]] = {}
    for row in line_rows:
        detail = _detail(row)
        line_id = detail.get("line")
        if not isinstance(line_id, int) or row.action not in LINE_ACTIONS:
            continue
        taken = row.action == LINE_TAKEN
        staff_id = row.actor_id if taken and row.actor_kind == ActorKind.STAFF else None
        counts, waits = groups.setdefault((month_of(row.at, tz), line_id, staff_id),
                                          ([0, 0], []))
        counts[0 if taken else 1] += 1
        waited = detail.get("waited_s")
        if isinstance(waited, int | float) and not isinstance(waited, bool):
            waits.append(int(waited))
    found = []
    for (month, line_id, staff_id), (counts, waits) in groups.items():
        found.append({
            "month": month,
            "line_id": line_id,
            "line": names.lines.get(line_id),
            "staff_id": staff_id,
            "staff": None if staff_id is None else names.staff.get(staff_id),
            "served": counts[0],
            "left_waiting": counts[1],
            "wait_median_s": nearest_rank(waits, 50),
            "wait_p90_s": nearest_rank(waits, 90),
            "waits_counted": len(waits),
        })
    found.sort(key=lambda r: (r["month"], r["line"] or "", r["line_id"],
                              r["staff_id"] is None, r["staff"] or "", r["staff_id"] or 0))
    return found


def build_report(
    appointments: Iterable[ReportAppointment],
    rows: Iterable[AuditRow],
    lost: Iterable[AuditRow],
    line_rows: Iterable[AuditRow],
    names: ReportNames,
    tz: ZoneInfo,
    now: datetime,
) -> OrganisationReport:
    """``rows``: the appointments' rows with one of ``APPOINTMENT_ACTIONS`` in any order;
    ``lost``: every ``server.lost`` row; ``line_rows``: the line rows of the range."""
    by_appointment: dict[int, list[AuditRow]] = {}
    for row in rows:
        if row.appointment_id is not None:
            by_appointment.setdefault(row.appointment_id, []).append(row)
    crashes = sorted(lost, key=attrgetter("id"))
    crash_ids = [row.id for row in crashes]
    groups: dict[tuple[str, int | None, str, int], _Tally] = {}
    for appointment in appointments:
        tally = _tally_appointment(appointment, by_appointment.get(appointment.id, []),
                                   crashes, crash_ids, now)
        key = (month_of(appointment.starts_at, tz), appointment.service_id, appointment.kind,
               appointment.host_id)
        if key in groups:
            groups[key].add(tally)
        else:
            groups[key] = tally
    report_rows = []
    total = _Tally()
    for (month, service_id, kind, host_id), tally in groups.items():
        total.add(tally)
        report_rows.append({
            "month": month,
            "service_id": service_id,
            "service": None if service_id is None else names.services.get(service_id),
            "kind": kind,
            "staff_id": host_id,
            "staff": names.staff.get(host_id),
            **_figures(tally),
        })
    report_rows.sort(key=lambda r: (r["month"], r["service"] or "", r["service_id"] or 0,
                                    r["kind"], r["staff"] or "", r["staff_id"]))
    return OrganisationReport(report_rows, _line_rows(line_rows, names, tz), _figures(total))

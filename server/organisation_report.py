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

A ``Selection`` (a service, a kind, a professional) narrows the rows, and the totals and
per-month figures are then counted afresh over the selected appointments, so waiting-time
percentiles stay exact (percentiles of groups cannot be summed).
"""

from __future__ import annotations

import json
from bisect import bisect_right
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from operator import attrgetter
from typing import Any, Final, Literal
from zoneinfo import ZoneInfo

from server.audit import Action, ActorKind
from server.calls.attendance import CALL_ACTIONS, derive_attendance
from server.records import AuditRow, PersonRows, ReportAppointment, ReportNames, SettledFacts
from signalling.effects import CallAction

WAITING_ENTERED: Final = CallAction.WAITING_ENTERED.value
ADMITTED: Final = CallAction.ADMISSION_ADMITTED.value
TEST: Final = Action.CONNECTION_TEST_COMPLETED.value
# Written by the call when someone switches to sound only (``media-mode``).
SOUND_ONLY: Final = "call.sound_only"
SOUND_ONLY_MARK: Final = "sound_only"
# The rows of an appointment the report reads: these by anyone, and the call rows of
# participants by link (staff members' own attendance is not in the report).
APPOINTMENT_ACTIONS: Final = (WAITING_ENTERED, ADMITTED, TEST, SOUND_ONLY)
PARTICIPANT_ACTIONS: Final = CALL_ACTIONS
WAITING_ACTIONS: Final = (WAITING_ENTERED, ADMITTED)
LINE_TAKEN: Final = "line.taken"
LINE_LEFT: Final = "line.left"
LINE_ACTIONS: Final = (LINE_TAKEN, LINE_LEFT)
VERDICTS: Final = ("good", "audio_only", "too_weak", "no_connection")
MAX_MONTHS: Final = 36

_CALL_SET: Final = frozenset(CALL_ACTIONS)
_OPENS: Final = frozenset({CallAction.CALL_JOINED.value, CallAction.CALL_RECONNECTED.value})


@dataclass(frozen=True)
class Selection:
    """Which appointments a report counts; a None field selects all. ``service`` "none":
    appointments without a service. Lines have no service or kind: only ``staff``
    narrows them."""

    service: int | Literal["none"] | None = None
    kind: str | None = None
    staff: int | None = None

    def takes(self, appointment: ReportAppointment) -> bool:
        if self.service == "none":
            if appointment.service_id is not None:
                return False
        elif self.service is not None and appointment.service_id != self.service:
            return False
        if self.kind is not None and appointment.kind != self.kind:
            return False
        return self.staff is None or appointment.host_id == self.staff

    def takes_line(self, row: dict[str, Any]) -> bool:
        return self.staff is None or row["staff_id"] == self.staff

    def detail(self) -> dict[str, Any]:
        """For the usage log: ids and the kind only, never names."""
        return {name: value for name, value in (("service", self.service),
                                                ("kind", self.kind), ("staff", self.staff))
                if value is not None}


EVERYTHING: Final = Selection()


@dataclass(frozen=True)
class OrganisationReport:
    rows: list[dict[str, Any]]
    lines: list[dict[str, Any]]
    totals: dict[str, Any]
    # One entry per month of the range (also empty ones): the selection's exact figures.
    months: list[dict[str, Any]] = field(default_factory=list)
    # What the range holds to choose from, whatever is selected: services, kinds, staff.
    choices: dict[str, Any] = field(default_factory=dict)


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


@dataclass
class _Facts:
    """What one appointment's rows say: participants by link who joined, their connected
    seconds, the waits of its admissions and its marks (verdicts, sound-only switches)."""

    joined: int = 0
    seconds: float = 0.0
    waits: list[int] = field(default_factory=list)
    marks: list[str] = field(default_factory=list)
    open: bool = False  # someone's spell has no end yet: not settled


def facts_to_settle(appointment_ids: Iterable[int], people: Iterable[PersonRows],
                    rows: Iterable[AuditRow], marks: Iterable[tuple[int, str]],
                    lost: Iterable[AuditRow], now: datetime) -> list[SettledFacts]:
    """The facts of these appointments to store, counted as the report counts them;
    an appointment with someone still in its call is left for a later run."""
    found = _facts(people, rows, marks, sorted(lost, key=attrgetter("id")), now)
    none = _Facts()
    settled = []
    for appointment_id in appointment_ids:
        fact = found.get(appointment_id, none)
        if not fact.open:
            settled.append(SettledFacts(appointment_id, fact.joined, fact.seconds,
                                        tuple(fact.waits), tuple(fact.marks)))
    return settled


def plain_spell(person: PersonRows, crash_ids: Sequence[int]) -> bool:
    """One join then one leave with no crash between: its length is its connected time,
    as ``derive_attendance`` would find; any other call rows are derived from the rows."""
    return person.spell_s is not None and bisect_right(
        crash_ids, person.first_call_id or 0) == bisect_right(crash_ids,
                                                              person.last_call_id or 0)


def plain_wait(person: PersonRows) -> bool:
    """No admission, or one wait then one admission; anything else is paired up from the
    rows (``_pair_waits``)."""
    return person.admissions == 0 or person.wait_s is not None


def rows_to_read(people: Iterable[PersonRows],
                 lost: Iterable[AuditRow]) -> tuple[list[int], list[int]]:
    """The appointments whose call rows, and those whose waiting rows, must be read
    because someone's are not plain."""
    crash_ids = sorted(row.id for row in lost)
    calls, waits = set(), set()
    for person in people:
        if person.calls and not plain_spell(person, crash_ids):
            calls.add(person.appointment_id)
        if not plain_wait(person):
            waits.add(person.appointment_id)
    return sorted(calls), sorted(waits)


def _pair_waits(rows: list[AuditRow], people: set[int]) -> list[int]:
    """Each admission of one of ``people`` with the person's latest ``waiting.entered``
    before it, unless another admission of theirs came in between."""
    waits = []
    entered: dict[int, datetime] = {}
    for row in sorted(rows, key=attrgetter("id")):
        if row.action == WAITING_ENTERED:
            person = row.subject_id if row.subject_id is not None else (
                row.actor_id if row.actor_kind == ActorKind.PARTICIPANT else None)
            if person is not None:
                entered[person] = row.at
        elif row.action == ADMITTED and row.subject_id is not None:
            since = entered.pop(row.subject_id, None)
            if since is not None and row.subject_id in people:
                waits.append(max(0, int((row.at - since).total_seconds())))
    return waits


def _spell_open(call_rows: Sequence[AuditRow], crash_ids: Sequence[int]) -> bool:
    """Someone's last call row (in id order) is a join or reconnect that no crash
    followed: a later leave or ``server.lost`` row may still end that spell."""
    last: dict[int | None, AuditRow] = {row.actor_id: row for row in call_rows}
    return any(row.action in _OPENS and bisect_right(crash_ids, row.id) == len(crash_ids)
               for row in last.values())


def _crashes_for(call_rows: Sequence[AuditRow], lost: Sequence[AuditRow],
                 lost_ids: Sequence[int]) -> list[AuditRow]:
    """The ``server.lost`` rows that can end a spell of these rows: those among them and
    the first after them (every spell is closed after that one)."""
    first = bisect_right(lost_ids, call_rows[0].id)
    last = bisect_right(lost_ids, call_rows[-1].id)
    return list(lost[first:last + 1])


def _count_appointment(tally: _Tally, appointment: ReportAppointment,
                       facts: _Facts | SettledFacts, now: datetime) -> None:
    """Adds one appointment to its row group's ``tally``."""
    tally.appointments += 1
    tally.joined += facts.joined
    tally.seconds += facts.seconds
    tally.waits += facts.waits
    for mark in facts.marks:
        if mark == SOUND_ONLY_MARK:
            tally.sound_only += 1
        elif mark in tally.tests:
            tally.tests[mark] += 1
    if appointment.cancelled:
        tally.cancelled += 1
    elif facts.joined:
        tally.held += 1
        if appointment.km is not None:
            tally.travel_km += 2 * appointment.km
        if appointment.minutes is not None:
            tally.travel_minutes += 2 * appointment.minutes
        if appointment.km is None and appointment.minutes is None:
            tally.travel_unknown += 1
    elif appointment.ends_at <= now:
        tally.no_show += 1


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


def _facts(people: Iterable[PersonRows], rows: Iterable[AuditRow],
           marks: Iterable[tuple[int, str]], crashes: Sequence[AuditRow],
           now: datetime) -> dict[int, _Facts]:
    crash_ids = [row.id for row in crashes]
    facts: dict[int, _Facts] = {}
    derive: set[tuple[int, int]] = set()
    pair: dict[int, set[int]] = {}
    for person in people:
        found = facts.get(person.appointment_id)
        if found is None:
            found = facts[person.appointment_id] = _Facts()
        if not person.calls:
            pass
        elif plain_spell(person, crash_ids):
            found.joined += 1
            found.seconds += person.spell_s or 0
        else:
            derive.add((person.appointment_id, person.participant_id))
        if person.wait_s is not None:
            found.waits.append(person.wait_s)
        elif person.admissions:
            pair.setdefault(person.appointment_id, set()).add(person.participant_id)
    call_rows: dict[int, list[AuditRow]] = {}
    waiting_rows: dict[int, list[AuditRow]] = {}
    for row in rows:
        if row.appointment_id is None:
            continue
        if row.action in _CALL_SET:
            if (row.actor_kind == ActorKind.PARTICIPANT
                    and (row.appointment_id, row.actor_id) in derive):
                call_rows.setdefault(row.appointment_id, []).append(row)
        elif row.appointment_id in pair:
            waiting_rows.setdefault(row.appointment_id, []).append(row)
    for appointment_id, found_rows in call_rows.items():
        found_rows.sort(key=attrgetter("id"))
        attendance = derive_attendance(
            found_rows + _crashes_for(found_rows, crashes, crash_ids), (), now)
        found = facts.setdefault(appointment_id, _Facts())
        found.open = found.open or _spell_open(found_rows, crash_ids)
        for caller, seen in attendance.items():
            if not caller.is_staff and seen.first_joined is not None:
                found.joined += 1
                found.seconds += seen.connected.total_seconds()
    for appointment_id, found_rows in waiting_rows.items():
        facts[appointment_id].waits += _pair_waits(found_rows, pair[appointment_id])
    for appointment_id, mark in marks:
        facts.setdefault(appointment_id, _Facts()).marks.append(mark)
    return facts


def build_report(
    appointments: Iterable[ReportAppointment],
    people: Iterable[PersonRows],
    rows: Iterable[AuditRow],
    marks: Iterable[tuple[int, str]],
    lost: Iterable[AuditRow],
    line_rows: Iterable[AuditRow],
    names: ReportNames,
    tz: ZoneInfo,
    now: datetime,
    settled: Iterable[SettledFacts] = (),
    selection: Selection = EVERYTHING,
    month_labels: Sequence[str] = (),
) -> OrganisationReport:
    """From what ``server/db.py`` reads for a range of months (``report_reader.py``):
    ``people``, each participant's call rows and admissions summed up
    (``Reads.list_report_people``); ``rows``, the call rows of participants and the
    waiting and admission rows of the appointments where those were not plain
    (``rows_to_read``); the marks (test verdicts, ``sound_only``); every ``server.lost``
    row; and the line rows of the range. ``settled``: the stored facts of appointments
    whose call is settled, whose rows are then not read at all. ``selection`` narrows
    what is counted; ``month_labels`` ("2026-03", …) are the range's months, each given a
    ``months`` entry even when nothing happened in it."""
    crashes = sorted(lost, key=attrgetter("id"))
    facts = _facts(people, rows, marks, crashes, now)
    counted: dict[int, _Facts | SettledFacts] = {f.appointment_id: f for f in settled}
    counted.update(facts)
    none = _Facts()
    groups: dict[tuple[str, int | None, str, int], _Tally] = {}
    months: dict[datetime, str] = {}  # appointments often share a start time
    chosen: dict[str, set[Any]] = {"services": set(), "kinds": set(), "staff": set()}
    for appointment in appointments:
        chosen["services"].add(appointment.service_id)
        chosen["kinds"].add(appointment.kind)
        chosen["staff"].add(appointment.host_id)
        if not selection.takes(appointment):
            continue
        month = months.get(appointment.starts_at)
        if month is None:
            month = months[appointment.starts_at] = month_of(appointment.starts_at, tz)
        key = (month, appointment.service_id, appointment.kind, appointment.host_id)
        tally = groups.get(key)
        if tally is None:
            tally = groups[key] = _Tally()
        _count_appointment(tally, appointment, counted.get(appointment.id, none), now)
    report_rows = []
    total = _Tally()
    per_month = {label: _Tally() for label in month_labels}
    for (month, service_id, kind, host_id), tally in groups.items():
        total.add(tally)
        per_month.setdefault(month, _Tally()).add(tally)
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
    all_lines = _line_rows(line_rows, names, tz)
    chosen["staff"].update(r["staff_id"] for r in all_lines if r["staff_id"] is not None)
    return OrganisationReport(
        report_rows, [r for r in all_lines if selection.takes_line(r)], _figures(total),
        [{"month": month, **_figures(per_month[month])} for month in sorted(per_month)],
        _choices(chosen, names))


def _choices(chosen: dict[str, set[Any]], names: ReportNames) -> dict[str, Any]:
    return {
        "services": sorted(({"id": "none" if i is None else i,
                             "name": None if i is None else names.services.get(i)}
                            for i in chosen["services"]),
                           key=lambda c: (c["name"] is None, c["name"] or "", str(c["id"]))),
        "kinds": sorted(chosen["kinds"]),
        "staff": sorted(({"id": i, "name": names.staff.get(i)} for i in chosen["staff"]),
                        key=lambda c: (c["name"] or "", c["id"])),
    }

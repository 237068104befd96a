"""Reads what the organisation report needs for a range of months and builds it.

Appointments whose call is settled are counted from their stored facts
(``report_settling.py``), the others from their usage-log rows through the indexes of
migration 0012; the pure ``build_report`` runs in a worker thread so the event loop keeps
serving calls while a year is counted.
"""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from server.db import Reads
from server.errors import Unprocessable
from server.organisation_report import (
    EVERYTHING,
    LINE_ACTIONS,
    MAX_MONTHS,
    PARTICIPANT_ACTIONS,
    WAITING_ACTIONS,
    OrganisationReport,
    Selection,
    build_report,
    rows_to_read,
)
from server.records import AppointmentKind

_MONTH = re.compile(r"([0-9]{4})-([0-9]{2})")


@dataclass(frozen=True)
class MonthRange:
    """From the first month to the last, both included."""

    first: tuple[int, int]
    last: tuple[int, int]

    @property
    def months(self) -> int:
        return (self.last[0] - self.first[0]) * 12 + self.last[1] - self.first[1] + 1

    def label(self, which: tuple[int, int]) -> str:
        return f"{which[0]:04d}-{which[1]:02d}"

    def labels(self) -> list[str]:
        """Every month of the range, "2026-03" style, in order."""
        first = self.first[0] * 12 + self.first[1] - 1
        return [f"{index // 12:04d}-{index % 12 + 1:02d}"
                for index in range(first, first + self.months)]

    def bounds(self, tz: ZoneInfo) -> tuple[datetime, datetime]:
        """Local midnight of the first day to local midnight after the last month."""
        year, month = self.last
        after = (year + 1, 1) if month == 12 else (year, month + 1)
        return (datetime(*self.first, 1, tzinfo=tz), datetime(*after, 1, tzinfo=tz))


def parse_month(raw: str | None, name: str) -> tuple[int, int]:
    found = _MONTH.fullmatch(raw or "")
    if found is None or not 1 <= int(found[2]) <= 12 or not 1970 <= int(found[1]) <= 9998:
        raise Unprocessable("invalid_field", f"{name} must be a month like 2026-03.",
                            field=name)
    return int(found[1]), int(found[2])


_ID = re.compile(r"[1-9][0-9]{0,17}")


def _id(raw: str, name: str) -> int:
    if not _ID.fullmatch(raw):
        raise Unprocessable("invalid_field", f"{name} must be an id, such as 3.", field=name)
    return int(raw)


def selection_of(service: str | None, kind: str | None, staff: str | None) -> Selection:
    """The query's ``service`` (an id, or "none"), ``kind`` and ``staff`` (an id); an id
    that matches nothing is simply an empty report."""
    kinds = [k.value for k in AppointmentKind]
    if kind and kind not in kinds:
        raise Unprocessable("invalid_field", f"kind must be one of {', '.join(kinds)}.",
                            field="kind")
    return Selection(
        service="none" if service == "none" else _id(service, "service") if service else None,
        kind=kind or None,
        staff=_id(staff, "staff") if staff else None)


def month_range(first_raw: str | None, last_raw: str | None) -> MonthRange:
    """The checked range: ``to`` not before ``from``, at most 36 months."""
    found = MonthRange(parse_month(first_raw, "from"), parse_month(last_raw, "to"))
    if found.months < 1:
        raise Unprocessable("invalid_field", "'to' must not be before 'from'.", field="to")
    if found.months > MAX_MONTHS:
        raise Unprocessable("invalid_field", f"A report covers at most {MAX_MONTHS} months.",
                            field="to")
    return found


async def read_organisation_report(db: Reads, months: MonthRange, tz: ZoneInfo,
                                   now: datetime,
                                   selection: Selection = EVERYTHING) -> OrganisationReport:
    """Settled appointments are counted from their stored facts (``report_facts``); only
    the others' usage-log rows are read."""
    start, end = months.bounds(tz)
    appointments, settled = await db.list_report_appointments(start, end)
    people = await db.list_report_people(start, end)
    lost = await db.list_server_lost_rows(0)
    with_calls, with_waits = rows_to_read(people, lost)
    rows = [*await db.list_report_rows_of(with_calls, PARTICIPANT_ACTIONS,
                                          participants_only=True),
            *await db.list_report_rows_of(with_waits, WAITING_ACTIONS)]
    marks = await db.list_report_marks(start, end)
    line_rows = await db.list_report_rows_between(start, end, LINE_ACTIONS)
    names = await db.get_report_names()
    return await asyncio.to_thread(build_report, appointments, people, rows, marks, lost,
                                   line_rows, names, tz, now, settled, selection,
                                   months.labels())

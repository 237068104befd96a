"""The client's access report (client-data law 703/2023, section 11): from the usage log,
who on the staff handled a person's data in each of their appointments, and when.

Pure: no I/O and no clock reads. The caller reads the appointments' usage-log rows,
the ``server.lost`` rows and the staff involved, and passes ``now``.

Only staff actions count: rows by the family itself or by the system name nobody.
Entries are collapsed per staff member, kind of handling and local day (the many
``appointment.listed`` rows of one professional's day are one entry with a count) and
come in time order; appointments come newest first (docs/access-report.md).
"""

from __future__ import annotations

import enum
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from operator import attrgetter
from typing import Final
from zoneinfo import ZoneInfo

from server.records import AuditRow, CoveredParticipant, Staff
from signalling.effects import CallAction


class What(enum.StrEnum):
    """What a staff member did; the family page and the PDF translate these codes."""

    OPENED = "opened"  # opened the appointment, or saw it in a day list
    CHANGED = "changed"
    LINK = "link"  # issued, copied or revoked the person's join link
    ADMITTED = "admitted"  # let the person in from the waiting room, or turned them away
    SPOKE = "spoke"  # was in the call while the person was
    MESSAGED = "messaged"  # wrote to the person (or to everyone) in the waiting room
    REPORT = "report"  # produced an access report about the person


# Rows about the appointment as a whole: every participant's data is handled.
_WHOLE: Final[Mapping[str, What]] = {
    "appointment.listed": What.OPENED,
    "appointment.read": What.OPENED,
    "appointment.created": What.CHANGED,
    "appointment.updated": What.CHANGED,
    "appointment.cancelled": What.CHANGED,
    "session.reopened": What.CHANGED,
    "booking.moved": What.CHANGED,
    "booking.cancelled": What.CHANGED,
}
# Rows about one participant (``subject_id``): only that person's report shows them.
_OWN: Final[Mapping[str, What]] = {
    "participant.added": What.CHANGED,
    "participant.removed": What.CHANGED,
    "participant.delivery_changed": What.CHANGED,
    "message.resent": What.CHANGED,
    "link.issued": What.LINK,
    "link.read": What.LINK,
    "link.revoked": What.LINK,
    CallAction.ADMISSION_ADMITTED.value: What.ADMITTED,
    CallAction.ADMISSION_DENIED.value: What.ADMITTED,
    "access_report.produced": What.REPORT,
}
_MESSAGED: Final = CallAction.WAITING_MESSAGED.value
_SPELL_STARTS: Final = (CallAction.CALL_JOINED.value, CallAction.CALL_RECONNECTED.value)
_SPELL_ENDS: Final = (CallAction.CALL_DISCONNECTED.value, CallAction.CALL_LEFT.value)
SERVER_LOST: Final = "server.lost"
# The usage-log actions a report reads; the rest of an appointment's rows never matter.
ACTIONS: Final = frozenset(
    [*_WHOLE, *_OWN, _MESSAGED, *_SPELL_STARTS, *_SPELL_ENDS, SERVER_LOST]
)
# The role shown when a staff member has no job title.
ROLE_WORDS: Final = {"admin": "Pääkäyttäjä", "professional": "Ammattilainen"}


@dataclass(frozen=True)
class Entry:
    at: datetime  # the first time that day
    staff_id: int
    who: str
    role: str  # the job title, or a plain Finnish role word when none is set
    role_code: str  # admin | professional: the web page translates it when title is ""
    title: str
    what: What
    count: int


@dataclass(frozen=True)
class AppointmentReport:
    appointment_id: int
    starts_at: datetime
    ends_at: datetime
    cancelled: bool
    people: tuple[CoveredParticipant, ...]
    entries: tuple[Entry, ...]


@dataclass
class _Spell:
    start: datetime
    end: datetime | None = None


@dataclass
class _Bucket:
    at: datetime
    count: int = 0


def build_report(
    covered: Iterable[CoveredParticipant],
    rows: Iterable[AuditRow],
    staff: Mapping[int, Staff],
    tz: ZoneInfo,
    now: datetime,
) -> list[AppointmentReport]:
    """Per appointment of ``covered``, newest first, the staff entries about its people.

    ``rows`` are the appointments' usage-log rows and any ``server.lost`` rows (which
    end call spells left open by a crash); rows of other appointments are ignored.
    """
    by_appointment: dict[int, list[CoveredParticipant]] = {}
    for person in covered:
        by_appointment.setdefault(person.appointment_id, []).append(person)
    rows_by: dict[int, list[AuditRow]] = {aid: [] for aid in by_appointment}
    lost: list[AuditRow] = []
    for row in rows:
        if row.action == SERVER_LOST:
            lost.append(row)
        elif row.appointment_id in rows_by:
            rows_by[row.appointment_id].append(row)
    reports = []
    for appointment_id, people in by_appointment.items():
        first = people[0]
        ids = {p.participant_id for p in people}
        entries = appointment_entries(rows_by[appointment_id], lost, ids, staff, tz, now)
        reports.append(AppointmentReport(appointment_id, first.starts_at, first.ends_at,
                                         first.cancelled, tuple(people), tuple(entries)))
    reports.sort(key=lambda r: (r.starts_at, r.appointment_id), reverse=True)
    return reports


def appointment_entries(
    rows: Iterable[AuditRow],
    lost: Iterable[AuditRow],
    participant_ids: Collection[int],
    staff: Mapping[int, Staff],
    tz: ZoneInfo,
    now: datetime,
) -> list[Entry]:
    """One appointment's entries for the person with ``participant_ids``, in time order."""
    ordered = sorted([*rows, *lost], key=attrgetter("id"))
    buckets: dict[tuple[int, What, date], _Bucket] = {}

    def add(staff_id: int, what: What, at: datetime) -> None:
        key = (staff_id, what, at.astimezone(tz).date())
        bucket = buckets.setdefault(key, _Bucket(at))
        bucket.at = min(bucket.at, at)
        bucket.count += 1

    for row in ordered:
        if row.actor_kind != "staff" or row.actor_id is None:
            continue
        what = _WHOLE.get(row.action)
        if what is None and row.subject_id in participant_ids:
            what = _OWN.get(row.action)
        if what is None and row.action == _MESSAGED and (
            row.subject_id is None or row.subject_id in participant_ids
        ):
            what = What.MESSAGED
        if what is not None:
            add(row.actor_id, what, row.at)
    for staff_id, at in _shared_call_time(ordered, participant_ids, now):
        add(staff_id, What.SPOKE, at)
    entries = [
        _entry(staff_id, what, bucket, staff) for (staff_id, what, _), bucket in buckets.items()
    ]
    entries.sort(key=lambda e: (e.at, e.who, e.what.value))
    return entries


def _entry(staff_id: int, what: What, bucket: _Bucket, staff: Mapping[int, Staff]) -> Entry:
    member = staff.get(staff_id)
    if member is None:
        return Entry(bucket.at, staff_id, f"#{staff_id}", ROLE_WORDS["professional"],
                     "professional", "", what, bucket.count)
    code = member.role.value
    return Entry(bucket.at, staff_id, member.display_name, member.title or ROLE_WORDS[code],
                 code, member.title, what, bucket.count)


def _shared_call_time(
    ordered: list[AuditRow], participant_ids: Collection[int], now: datetime
) -> list[tuple[int, datetime]]:
    """(staff id, moment both were first connected) for every staff call spell that
    overlapped one of the person's, spells taken as ``derive_attendance`` takes them."""
    spells: dict[tuple[bool, int], list[_Spell]] = {}
    for row in ordered:
        if row.action == SERVER_LOST:
            for own in spells.values():
                if own and own[-1].end is None:
                    own[-1].end = max(row.at, own[-1].start)
            continue
        if row.actor_kind not in ("staff", "participant") or row.actor_id is None:
            continue
        if row.action not in _SPELL_STARTS and row.action not in _SPELL_ENDS:
            continue
        own = spells.setdefault((row.actor_kind == "staff", row.actor_id), [])
        open_spell = own[-1] if own and own[-1].end is None else None
        if row.action in _SPELL_STARTS:
            if open_spell is not None:
                open_spell.end = open_spell.start  # its end was lost
            own.append(_Spell(row.at))
        elif open_spell is not None:
            open_spell.end = max(row.at, open_spell.start)
    theirs = [s for (is_staff, pid), own in spells.items() if not is_staff
              and pid in participant_ids for s in own]
    found = []
    for (is_staff, staff_id), own in spells.items():
        if not is_staff:
            continue
        for mine in own:
            for other in theirs:
                start = max(mine.start, other.start)
                end = min(mine.end or now, other.end or now)
                if start <= end:  # times are whole seconds: a moment together counts
                    found.append((staff_id, start))
    return found


"""Database: every SQL statement in Kota.

One write connection serialised by a lock and one read connection; WAL lets reads run
beside the writer. Every write goes through a ``Tx`` (``async with db.transaction() as
tx``): one ``BEGIN IMMEDIATE`` transaction per use case, so a request's rows and its
usage-log rows commit together or not at all, the checks that guard a write (overlap,
capacity) read what the transaction sees under the write lock, and a response is built
from the transaction's own reads.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import sqlite3
from collections.abc import AsyncIterator, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, time
from importlib import resources
from pathlib import Path
from time import perf_counter
from typing import Any, Protocol

import aiosqlite

from server.records import (
    Appointment,
    AppointmentKind,
    AppointmentStatus,
    AuditRow,
    Booking,
    BookingState,
    CalendarFeed,
    CoveredParticipant,
    Delivery,
    Enrolment,
    FeedAppointment,
    JoinLink,
    Language,
    Line,
    LineCallback,
    LineClosure,
    LineHours,
    LineKind,
    LineModes,
    LineStats,
    MessagePurpose,
    MessageState,
    OutboxMessage,
    Participant,
    ParticipantRole,
    PersonRows,
    QueuedRow,
    ReportAppointment,
    ReportNames,
    Service,
    ServiceClosure,
    ServiceHours,
    SettledFacts,
    Staff,
    StaffRole,
    StaffSession,
    StoredCall,
    StoredSeat,
    TravelDistance,
)

logger = logging.getLogger(__name__)

TIME_FORMAT = "%Y-%m-%dT%H:%M:%SZ"


def db_time(value: datetime) -> str:
    if value.tzinfo is None:
        raise ValueError("naive datetime given to the database")
    return value.astimezone(UTC).strftime(TIME_FORMAT)


def parse_db_time(text: str) -> datetime:
    return datetime.strptime(text, TIME_FORMAT).replace(tzinfo=UTC)


def _maybe_time(text: str | None) -> datetime | None:
    return None if text is None else parse_db_time(text)


def _fast_time(text: str) -> datetime:
    """``parse_db_time`` for the report's many rows: fromisoformat reads the same text
    (with its Z) several times faster than strptime."""
    return datetime.fromisoformat(text)


def _report_row(r: sqlite3.Row) -> AuditRow:
    return AuditRow(r[0], _fast_time(r[1]), r[2], r[3], r[4], r[5], r[6], r[7], "", "")


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    sql: str


def load_migrations() -> list[Migration]:
    """The numbered files in ``server/migrations``, in order."""
    found = []
    for entry in resources.files("server.migrations").iterdir():
        if entry.name.endswith(".sql"):
            number, _, rest = entry.name.partition("_")
            found.append(Migration(int(number), rest.removesuffix(".sql"), entry.read_text()))
    found.sort(key=lambda m: m.version)
    for expected, migration in enumerate(found, start=1):
        if migration.version != expected:
            raise RuntimeError(f"migration {expected:04d} is missing")
    return found


@dataclass(frozen=True)
class NewParticipant:
    display_name: str
    role: ParticipantRole
    contact: str | None
    language: Language | None = None
    delivery: Delivery = Delivery.MANUAL


@dataclass(frozen=True)
class NewMessage:
    """An outbox row to write in the caller's transaction."""

    purpose: MessagePurpose
    channel: Delivery
    recipient: str
    language: Language
    starts_at: datetime
    ends_at: datetime
    due_at: datetime
    appointment_id: int | None = None
    participant_id: int | None = None
    booking_id: int | None = None
    sequence: int = 0


@dataclass(frozen=True)
class NewAuditEntry:
    at: datetime
    actor_kind: str
    actor_id: int | None
    action: str
    appointment_id: int | None
    subject_id: int | None
    detail: str


@dataclass(frozen=True)
class ServerAlive:
    started_at: datetime
    alive_at: datetime
    clean: bool


@dataclass(frozen=True)
class AuditHead:
    last_id: int
    hash: str


# -- retention: purge records of the usage log (docs/audit.md, "Purging old rows") ----


@dataclass(frozen=True)
class AuditPurge:
    """A purge gave up the rows before ``first_id``; the chain continues from
    ``prev_hash``. ``mac`` signs the other fields with the usage-log key."""

    id: int
    at: datetime
    first_id: int
    prev_hash: str
    removed: int
    mac: str


# What a revoked family link's name becomes (the column needs 1 to 80 characters).
REMOVED_NAME = "\u2014"


class Conflict(Exception):
    """A write broke a uniqueness rule (for example a taken username)."""


class CorruptAuditRow(ValueError):
    """A usage-log row whose time Kota cannot read: it was changed behind Kota's back."""

    def __init__(self, row_id: int) -> None:
        super().__init__(f"usage-log row {row_id} has an unreadable time")
        self.row_id = row_id


class StorageError(Exception):
    """A write the database could not make; nothing of the transaction was kept."""


class StorageFull(StorageError):
    """The disk (or the file system holding the database) is full."""


class StorageUnavailable(StorageError):
    """The database cannot be written: read-only, an I/O error, or locked too long."""


# SQLite's primary result codes (the low byte of an extended code).
_SQLITE_FULL = 13
_SQLITE_UNAVAILABLE = frozenset({5, 6, 8, 10, 14})  # BUSY, LOCKED, READONLY, IOERR, CANTOPEN


def storage_error(exc: BaseException) -> StorageError | None:
    """The storage fault behind a failed write, or None for any other error."""
    if not isinstance(exc, sqlite3.OperationalError | sqlite3.DatabaseError):
        return None
    code = getattr(exc, "sqlite_errorcode", None)
    if code is None:
        return None
    if code & 0xFF == _SQLITE_FULL:
        return StorageFull(str(exc))
    if code & 0xFF in _SQLITE_UNAVAILABLE:
        return StorageUnavailable(str(exc))
    return None


class RowHasher(Protocol):
    """The usage log's chain (server/audit_chain.py): each row's hash from the one before."""

    @property
    def genesis(self) -> str: ...

    def row_hash(self, prev_hash: str, row_id: int, entry: NewAuditEntry) -> str: ...


class Reads:
    """The reads Kota makes, on whichever connection the subclass reads from.

    ``Database`` reads through its read connection; a ``Tx`` reads through the write
    connection inside its transaction, so it sees its own writes and nothing newer.
    """

    async def _fetchall(self, sql: str, params: Sequence[Any] = ()) -> list[sqlite3.Row]:
        raise NotImplementedError

    async def _fetchone(self, sql: str, params: Sequence[Any] = ()) -> sqlite3.Row | None:
        rows = await self._fetchall(sql, params)
        return rows[0] if rows else None

    # -- staff -------------------------------------------------------------

    @staticmethod
    def _staff(row: sqlite3.Row, prefix: str = "") -> Staff:
        return Staff(
            id=row[f"{prefix}id"],
            username=row[f"{prefix}username"],
            display_name=row[f"{prefix}display_name"],
            role=StaffRole(row[f"{prefix}role"]),
            active=bool(row[f"{prefix}active"]),
            title=row[f"{prefix}title"],
            registry=bool(row[f"{prefix}registry"]),
        )

    async def get_staff_by_username(self, username: str) -> tuple[Staff, str] | None:
        """The account and its password hash, for login."""
        row = await self._fetchone("SELECT * FROM staff WHERE username = ?", (username,))
        return None if row is None else (self._staff(row), row["password_hash"])

    async def list_staff(self) -> list[Staff]:
        rows = await self._fetchall("SELECT * FROM staff WHERE active = 1 ORDER BY display_name")
        return [self._staff(row) for row in rows]

    async def list_staff_by_ids(self, ids: Iterable[int]) -> list[Staff]:
        wanted = sorted(set(ids))
        if not wanted:
            return []
        marks = ",".join("?" * len(wanted))
        rows = await self._fetchall(f"SELECT * FROM staff WHERE id IN ({marks})", wanted)  # noqa: S608
        return [self._staff(row) for row in rows]

    async def get_session(self, id_hash: str, now: datetime) -> StaffSession | None:
        row = await self._fetchone(
            "SELECT s.*, x.csrf_token, x.expires_at FROM staff_sessions x"
            " JOIN staff s ON s.id = x.staff_id"
            " WHERE x.id_hash = ? AND x.expires_at > ? AND s.active = 1",
            (id_hash, db_time(now)),
        )
        if row is None:
            return None
        return StaffSession(self._staff(row), row["csrf_token"], parse_db_time(row["expires_at"]))

    # -- appointments --------------------------------------------------------

    _APPOINTMENT_SELECT = (
        "SELECT a.*, h.id AS h_id, h.username AS h_username,"
        " h.display_name AS h_display_name, h.role AS h_role, h.active AS h_active,"
        " h.title AS h_title, h.registry AS h_registry"
        " FROM appointments a JOIN staff h ON h.id = a.host_id"
    )

    async def _load_appointments(self, rows: list[sqlite3.Row]) -> list[Appointment]:
        if not rows:
            return []
        ids = [row["id"] for row in rows]
        marks = ",".join("?" * len(ids))
        staff_rows = await self._fetchall(
            "SELECT x.appointment_id, s.* FROM appointment_staff x"  # noqa: S608
            f" JOIN staff s ON s.id = x.staff_id WHERE x.appointment_id IN ({marks})"
            " ORDER BY s.display_name",
            ids,
        )
        participant_rows = await self._fetchall(
            f"SELECT * FROM participants WHERE appointment_id IN ({marks})"  # noqa: S608
            " AND removed_at IS NULL ORDER BY id",
            ids,
        )
        # Each participant's current link: the one still active (there is at most one),
        # else the newest. Times have whole seconds, so rowid breaks ties in insert order.
        link_rows = await self._fetchall(
            "SELECT * FROM (SELECT l.*, ROW_NUMBER() OVER (PARTITION BY participant_id"  # noqa: S608
            " ORDER BY revoked_at IS NULL DESC, issued_at DESC, rowid DESC) AS n"
            f" FROM join_links l WHERE appointment_id IN ({marks})) WHERE n = 1",
            ids,
        )
        links = {row["participant_id"]: self._link(row) for row in link_rows}
        message_rows = await self._fetchall(
            f"SELECT * FROM outbox WHERE appointment_id IN ({marks})"  # noqa: S608
            " AND participant_id IS NOT NULL ORDER BY id",
            ids,
        )
        messages_by: dict[int, list[OutboxMessage]] = {}
        for row in message_rows:
            messages_by.setdefault(row["participant_id"], []).append(self._message(row))
        staff_by: dict[int, list[Staff]] = {}
        for row in staff_rows:
            staff_by.setdefault(row["appointment_id"], []).append(self._staff(row))
        people_by: dict[int, list[Participant]] = {}
        for row in participant_rows:
            people_by.setdefault(row["appointment_id"], []).append(
                replace(self._participant(row, links.get(row["id"])),
                        messages=tuple(messages_by.get(row["id"], ())))
            )
        return [
            Appointment(
                id=row["id"],
                starts_at=parse_db_time(row["starts_at"]),
                ends_at=parse_db_time(row["ends_at"]),
                kind=AppointmentKind(row["kind"]),
                status=AppointmentStatus(row["status"]),
                host=self._staff(row, "h_"),
                staff=tuple(staff_by.get(row["id"], [])),
                participants=tuple(people_by.get(row["id"], [])),
                service_id=row["service_id"],
                municipality=row["municipality"],
                travel_km=row["travel_km"],
                travel_minutes=row["travel_minutes"],
                personal_data_removed_at=_maybe_time(row["personal_data_removed_at"]),
            )
            for row in rows
        ]

    @staticmethod
    def _participant(row: sqlite3.Row, link: JoinLink | None) -> Participant:
        return Participant(
            id=row["id"],
            appointment_id=row["appointment_id"],
            display_name=row["display_name"],
            role=ParticipantRole(row["role"]),
            contact=row["contact"],
            removed_at=_maybe_time(row["removed_at"]),
            link=link,
            language=Language(row["language"]) if row["language"] else None,
            delivery=Delivery(row["delivery"]),
            invite_sequence=row["invite_sequence"],
        )

    @staticmethod
    def _link(row: sqlite3.Row) -> JoinLink:
        return JoinLink(
            jti=row["jti"],
            participant_id=row["participant_id"],
            appointment_id=row["appointment_id"],
            issued_at=parse_db_time(row["issued_at"]),
            expires_at=parse_db_time(row["expires_at"]),
            revoked_at=_maybe_time(row["revoked_at"]),
        )

    async def get_appointment(self, appointment_id: int) -> Appointment | None:
        rows = await self._fetchall(f"{self._APPOINTMENT_SELECT} WHERE a.id = ?", (appointment_id,))
        found = await self._load_appointments(rows)
        return found[0] if found else None

    async def list_appointments_between(
        self,
        start: datetime,
        end: datetime,
        *,
        visible_to: int | None = None,
        host_id: int | None = None,
    ) -> list[Appointment]:
        """Appointments overlapping [start, end); ``visible_to`` keeps a professional's own."""
        sql = f"{self._APPOINTMENT_SELECT} WHERE a.starts_at < ? AND a.ends_at > ?"
        params: list[Any] = [db_time(end), db_time(start)]
        if visible_to is not None:
            sql += (
                " AND (a.host_id = ? OR EXISTS (SELECT 1 FROM appointment_staff x"
                " WHERE x.appointment_id = a.id AND x.staff_id = ?))"
            )
            params += [visible_to, visible_to]
        if host_id is not None:
            sql += " AND a.host_id = ?"
            params.append(host_id)
        sql += " ORDER BY a.starts_at, a.id"
        return await self._load_appointments(await self._fetchall(sql, params))

    async def find_overlapping_appointment(
        self, host_id: int, starts_at: datetime, ends_at: datetime, ignore_id: int | None = None,
        queued: Mapping[int, bool] | None = None,
    ) -> int | None:
        """The host's first scheduled appointment in that time whose call has not ended.

        ``queued``: session states not yet written (appointment id → ended), newer than
        the file's.
        """
        rows = await self._fetchall(
            "SELECT a.id, COALESCE(s.ended, 0) AS ended FROM appointments a"
            " LEFT JOIN call_sessions s ON s.appointment_id = a.id"
            " WHERE a.host_id = ? AND a.status = 'scheduled'"
            " AND a.starts_at < ? AND a.ends_at > ? AND a.id != ? ORDER BY a.starts_at",
            (host_id, db_time(ends_at), db_time(starts_at), ignore_id or 0),
        )
        for row in rows:
            if not (queued or {}).get(int(row["id"]), bool(row["ended"])):
                return int(row["id"])
        return None

    # -- participants and join links -----------------------------------------

    async def get_participant(self, participant_id: int) -> Participant | None:
        row = await self._fetchone("SELECT * FROM participants WHERE id = ?", (participant_id,))
        return None if row is None else self._participant(row, None)

    async def get_join_link(self, jti: str) -> JoinLink | None:
        row = await self._fetchone("SELECT * FROM join_links WHERE jti = ?", (jti,))
        return None if row is None else self._link(row)

    # -- bookings --------------------------------------------------------------

    @staticmethod
    def _booking(row: sqlite3.Row) -> Booking:
        return Booking(
            id=row["id"],
            service_id=row["service_id"],
            staff_id=row["staff_id"],
            kind=AppointmentKind(row["kind"]),
            starts_at=parse_db_time(row["starts_at"]),
            ends_at=parse_db_time(row["ends_at"]),
            state=BookingState(row["state"]),
            hold_expires_at=parse_db_time(row["hold_expires_at"]),
            display_name=row["display_name"],
            contact=row["contact"],
            channel=Delivery(row["channel"]),
            language=Language(row["language"]),
            topic=row["topic"],
            confirm_nonce=row["confirm_nonce"],
            manage_nonce=row["manage_nonce"],
            appointment_id=row["appointment_id"],
            participant_id=row["participant_id"],
            created_at=parse_db_time(row["created_at"]),
            confirmed_at=_maybe_time(row["confirmed_at"]),
            cancelled_at=_maybe_time(row["cancelled_at"]),
        )

    async def get_booking(self, booking_id: int) -> Booking | None:
        row = await self._fetchone("SELECT * FROM bookings WHERE id = ?", (booking_id,))
        return None if row is None else self._booking(row)

    async def get_booking_for_participant(self, participant_id: int) -> Booking | None:
        """The booking a participant came from, if the family booked the time itself."""
        row = await self._fetchone(
            "SELECT * FROM bookings WHERE participant_id = ?", (participant_id,)
        )
        return None if row is None else self._booking(row)

    # -- booking: services, hours, closures, bookings ---------------------------

    async def _load_services(self, rows: list[sqlite3.Row]) -> list[Service]:
        if not rows:
            return []
        ids = [row["id"] for row in rows]
        marks = ",".join("?" * len(ids))
        kinds: dict[int, list[AppointmentKind]] = {}
        for row in await self._fetchall(
            f"SELECT * FROM service_kinds WHERE service_id IN ({marks}) ORDER BY kind",  # noqa: S608
            ids,
        ):
            kinds.setdefault(row["service_id"], []).append(AppointmentKind(row["kind"]))
        staff: dict[int, list[int]] = {}
        # Only active accounts serve: a professional who left takes no more bookings.
        for row in await self._fetchall(
            "SELECT x.* FROM service_staff x JOIN staff s ON s.id = x.staff_id"  # noqa: S608
            f" WHERE x.service_id IN ({marks}) AND s.active = 1 ORDER BY x.staff_id",
            ids,
        ):
            staff.setdefault(row["service_id"], []).append(row["staff_id"])
        hours: dict[int, list[ServiceHours]] = {}
        for row in await self._fetchall(
            f"SELECT * FROM service_hours WHERE service_id IN ({marks})"  # noqa: S608
            " ORDER BY staff_id, weekday, opens",
            ids,
        ):
            hours.setdefault(row["service_id"], []).append(
                ServiceHours(row["staff_id"], row["weekday"], row["opens"], row["closes"])
            )
        return [
            Service(
                id=row["id"],
                slug=row["slug"],
                name=row["name"],
                slot_minutes=row["slot_minutes"],
                buffer_minutes=row["buffer_minutes"],
                notice_minutes=row["notice_minutes"],
                horizon_days=row["horizon_days"],
                max_per_day=row["max_per_day"],
                hold_minutes=row["hold_minutes"],
                cutoff_minutes=row["cutoff_minutes"],
                active=bool(row["active"]),
                kinds=tuple(kinds.get(row["id"], [])),
                staff_ids=tuple(staff.get(row["id"], [])),
                hours=tuple(hours.get(row["id"], [])),
            )
            for row in rows
        ]

    async def get_service(self, service_id: int) -> Service | None:
        rows = await self._fetchall("SELECT * FROM services WHERE id = ?", (service_id,))
        found = await self._load_services(rows)
        return found[0] if found else None

    async def get_service_by_slug(self, slug: str) -> Service | None:
        rows = await self._fetchall("SELECT * FROM services WHERE slug = ?", (slug,))
        found = await self._load_services(rows)
        return found[0] if found else None

    async def list_services(self) -> list[Service]:
        rows = await self._fetchall("SELECT * FROM services ORDER BY name, id")
        return await self._load_services(rows)

    @staticmethod
    def _closure(row: sqlite3.Row) -> ServiceClosure:
        return ServiceClosure(
            id=row["id"],
            service_id=row["service_id"],
            staff_id=row["staff_id"],
            starts_at=parse_db_time(row["starts_at"]),
            ends_at=parse_db_time(row["ends_at"]),
            note=row["note"],
        )

    async def list_service_closures(
        self, service_id: int, start: datetime | None = None, end: datetime | None = None
    ) -> list[ServiceClosure]:
        """The service's closures and those of every service, optionally only those
        overlapping [start, end)."""
        sql = "SELECT * FROM service_closures WHERE (service_id = ? OR service_id IS NULL)"
        params: list[Any] = [service_id]
        if start is not None and end is not None:
            sql += " AND starts_at < ? AND ends_at > ?"
            params += [db_time(end), db_time(start)]
        rows = await self._fetchall(sql + " ORDER BY starts_at, id", params)
        return [self._closure(row) for row in rows]

    async def get_service_closure(self, closure_id: int) -> ServiceClosure | None:
        row = await self._fetchone("SELECT * FROM service_closures WHERE id = ?", (closure_id,))
        return None if row is None else self._closure(row)

    async def list_busy(
        self,
        staff_ids: Iterable[int],
        start: datetime,
        end: datetime,
        now: datetime,
        queued: Mapping[int, bool] | None = None,
        ignore_booking: int | None = None,
    ) -> list[tuple[int, datetime, datetime]]:
        """(staff id, start, end) of the time these professionals are taken in [start,
        end): appointments they host whose call has not ended, and held bookings whose
        hold has not run out. Only times: nothing here may reach a family's screen."""
        wanted = sorted(set(staff_ids))
        if not wanted:
            return []
        marks = ",".join("?" * len(wanted))
        # One statement for both, so a hold's check costs one trip to the database.
        rows = await self._fetchall(
            "SELECT a.id, a.host_id AS staff_id, a.starts_at, a.ends_at,"  # noqa: S608
            " COALESCE(s.ended, 0) AS ended FROM appointments a"
            " LEFT JOIN call_sessions s ON s.appointment_id = a.id"
            f" WHERE a.host_id IN ({marks}) AND a.status = 'scheduled'"
            " AND a.starts_at < ? AND a.ends_at > ?"
            " AND a.id NOT IN (SELECT appointment_id FROM bookings WHERE id = ?"
            " AND appointment_id IS NOT NULL)"
            " UNION ALL SELECT NULL, staff_id, starts_at, ends_at, 0 FROM bookings"
            f" WHERE staff_id IN ({marks}) AND state = 'held' AND hold_expires_at > ?"
            " AND starts_at < ? AND ends_at > ? AND id != ?",
            [*wanted, db_time(end), db_time(start), ignore_booking or 0,
             *wanted, db_time(now), db_time(end), db_time(start), ignore_booking or 0],
        )
        return [
            (int(row["staff_id"]), parse_db_time(row["starts_at"]), parse_db_time(row["ends_at"]))
            for row in rows
            if row["id"] is None or not (queued or {}).get(int(row["id"]), bool(row["ended"]))
        ]

    async def list_booked_times(
        self, service_id: int, start: datetime, end: datetime, now: datetime,
        ignore_booking: int | None = None,
    ) -> list[tuple[int, datetime]]:
        """(staff id, start) of the service's live bookings (held and unexpired, or
        confirmed) starting in [start, end): what the per-day limit counts."""
        rows = await self._fetchall(
            "SELECT staff_id, starts_at FROM bookings WHERE service_id = ?"
            " AND starts_at >= ? AND starts_at < ? AND id != ?"
            " AND (state = 'confirmed' OR (state = 'held' AND hold_expires_at > ?))",
            (service_id, db_time(start), db_time(end), ignore_booking or 0, db_time(now)),
        )
        return [(int(row["staff_id"]), parse_db_time(row["starts_at"])) for row in rows]

    async def count_live_bookings_for_contact(self, contact: str, now: datetime) -> int:
        """The contact's bookings still ahead: held and unexpired, or confirmed."""
        row = await self._fetchone(
            "SELECT COUNT(*) AS n FROM bookings WHERE contact = ? COLLATE NOCASE"
            " AND ends_at > ?"
            " AND (state = 'confirmed' OR (state = 'held' AND hold_expires_at > ?))",
            (contact, db_time(now), db_time(now)),
        )
        return int(row["n"]) if row else 0

    async def count_bookings_by_contact_since(self, contact: str, since: datetime) -> int:
        """Holds the contact asked for since ``since``, whatever became of them."""
        row = await self._fetchone(
            "SELECT COUNT(*) AS n FROM bookings WHERE contact = ? COLLATE NOCASE"
            " AND created_at >= ?",
            (contact, db_time(since)),
        )
        return int(row["n"]) if row else 0

    async def find_held_booking(
        self, staff_id: int, starts_at: datetime, ends_at: datetime, now: datetime,
        ignore_booking: int | None = None,
    ) -> int | None:
        """A held, unexpired booking of the professional overlapping that time."""
        row = await self._fetchone(
            "SELECT id FROM bookings WHERE staff_id = ? AND state = 'held'"
            " AND hold_expires_at > ? AND starts_at < ? AND ends_at > ? AND id != ?"
            " ORDER BY starts_at LIMIT 1",
            (staff_id, db_time(now), db_time(ends_at), db_time(starts_at), ignore_booking or 0),
        )
        return None if row is None else int(row["id"])

    async def list_expired_holds(self, now: datetime, limit: int = 500) -> list[int]:
        rows = await self._fetchall(
            "SELECT id FROM bookings WHERE state = 'held' AND hold_expires_at <= ?"
            " ORDER BY hold_expires_at LIMIT ?",
            (db_time(now), limit),
        )
        return [int(row["id"]) for row in rows]

    async def get_booking_for_appointment(self, appointment_id: int) -> Booking | None:
        row = await self._fetchone(
            "SELECT * FROM bookings WHERE appointment_id = ?", (appointment_id,)
        )
        return None if row is None else self._booking(row)

    # -- outbox ----------------------------------------------------------------

    @staticmethod
    def _message(row: sqlite3.Row) -> OutboxMessage:
        return OutboxMessage(
            id=row["id"],
            purpose=MessagePurpose(row["purpose"]),
            channel=Delivery(row["channel"]),
            recipient=row["recipient"],
            language=Language(row["language"]),
            appointment_id=row["appointment_id"],
            participant_id=row["participant_id"],
            booking_id=row["booking_id"],
            starts_at=parse_db_time(row["starts_at"]),
            ends_at=parse_db_time(row["ends_at"]),
            sequence=row["sequence"],
            state=MessageState(row["state"]),
            due_at=parse_db_time(row["due_at"]),
            attempts=row["attempts"],
            next_attempt_at=parse_db_time(row["next_attempt_at"]),
            last_error=row["last_error"],
            created_at=parse_db_time(row["created_at"]),
            sent_at=_maybe_time(row["sent_at"]),
        )

    async def list_messages(
        self,
        *,
        appointment_id: int | None = None,
        participant_id: int | None = None,
        booking_id: int | None = None,
    ) -> list[OutboxMessage]:
        """The messages of one appointment, participant or booking, oldest first."""
        where, params = [], []
        for column, value in (("appointment_id", appointment_id),
                              ("participant_id", participant_id),
                              ("booking_id", booking_id)):
            if value is not None:
                where.append(f"{column} = ?")
                params.append(value)
        if not where:
            raise ValueError("list_messages needs an appointment, participant or booking")
        rows = await self._fetchall(
            f"SELECT * FROM outbox WHERE {' AND '.join(where)} ORDER BY id",  # noqa: S608
            params,
        )
        return [self._message(row) for row in rows]

    # -- outbox: sending ------------------------------------------------------

    async def get_message(self, message_id: int) -> OutboxMessage | None:
        row = await self._fetchone("SELECT * FROM outbox WHERE id = ?", (message_id,))
        return None if row is None else self._message(row)

    async def next_message_due(self) -> datetime | None:
        """When the earliest pending message is due, for the worker's sleep."""
        row = await self._fetchone(
            "SELECT MIN(next_attempt_at) AS due FROM outbox WHERE state = 'pending'"
        )
        return None if row is None or row["due"] is None else parse_db_time(row["due"])

    # -- usage log -------------------------------------------------------------

    async def iter_audit_rows(
        self, start: datetime | None = None, end: datetime | None = None, batch: int = 1000
    ) -> AsyncIterator[AuditRow]:
        """Rows in id order, optionally only those with ``start <= at < end``."""
        after = 0
        while True:
            sql = "SELECT * FROM audit_log WHERE id > ?"
            params: list[Any] = [after]
            if start is not None:
                sql += " AND at >= ?"
                params.append(db_time(start))
            if end is not None:
                sql += " AND at < ?"
                params.append(db_time(end))
            rows = await self._fetchall(sql + " ORDER BY id LIMIT ?", [*params, batch])
            for row in rows:
                yield self._audit_row(row)
            if len(rows) < batch:
                return
            after = rows[-1]["id"]

    async def get_server_alive(self) -> ServerAlive | None:
        row = await self._fetchone("SELECT * FROM server_alive WHERE id = 1")
        if row is None:
            return None
        return ServerAlive(parse_db_time(row["started_at"]), parse_db_time(row["alive_at"]),
                           bool(row["clean"]))

    async def get_audit_head(self) -> AuditHead | None:
        """The newest row's id and hash; ids are consecutive, so the id is the row count."""
        row = await self._fetchone("SELECT id, hash FROM audit_log ORDER BY id DESC LIMIT 1")
        return None if row is None else AuditHead(int(row["id"]), str(row["hash"]))

    async def list_audit_rows_for_appointment(
        self, appointment_id: int, actions: Iterable[str]
    ) -> list[AuditRow]:
        """The appointment's usage-log rows with one of ``actions``, in order."""
        wanted = sorted(set(actions))
        marks = ",".join("?" * len(wanted))
        rows = await self._fetchall(
            "SELECT * FROM audit_log WHERE appointment_id = ?"  # noqa: S608
            f" AND action IN ({marks}) ORDER BY id",
            [appointment_id, *wanted],
        )
        return [self._audit_row(row) for row in rows]

    @staticmethod
    def _audit_row(row: sqlite3.Row) -> AuditRow:
        """A stored row; one whose time cannot be read is reported, not crashed on."""
        try:
            at = parse_db_time(row["at"])
        except (TypeError, ValueError):
            raise CorruptAuditRow(row["id"]) from None
        return AuditRow(
            id=row["id"],
            at=at,
            actor_kind=row["actor_kind"],
            actor_id=row["actor_id"],
            action=row["action"],
            appointment_id=row["appointment_id"],
            subject_id=row["subject_id"],
            detail=row["detail"],
            prev_hash=row["prev_hash"],
            hash=row["hash"],
        )

    # -- access reports: a contact's appointments and their usage-log rows -------

    async def find_contact_participants(
        self, contact: str, national: str | None = None
    ) -> list[CoveredParticipant]:
        """Every participant row with this contact, or whose booking had it; removed
        participants and cancelled appointments too: their data was handled.

        E-mail and SMS contacts are stored checked (numbers in E.164) and found through
        the index, case-blind. A contact staff typed for a link they send by hand is kept
        as typed, so those are compared without spaces, dashes and brackets, also against
        the number's national form (``national``, e.g. 0401234567).
        """
        rows = await self._fetchall(
            "SELECT p.id, p.appointment_id, p.display_name, p.role, a.starts_at, a.ends_at,"
            " a.status FROM participants p JOIN appointments a ON a.id = p.appointment_id"
            " WHERE p.id IN (SELECT id FROM participants WHERE contact = ? COLLATE NOCASE"
            " UNION SELECT id FROM participants WHERE delivery = 'manual'"
            " AND replace(replace(replace(replace(trim(contact), ' ', ''), '-', ''), '(', ''),"
            " ')', '') COLLATE NOCASE IN (?, ?)"
            " UNION SELECT participant_id FROM bookings WHERE contact = ? COLLATE NOCASE"
            " AND participant_id IS NOT NULL) ORDER BY a.starts_at, p.id",
            (contact, contact, national or contact, contact),
        )
        return [
            CoveredParticipant(
                participant_id=row["id"],
                appointment_id=row["appointment_id"],
                display_name=row["display_name"],
                role=row["role"],
                starts_at=parse_db_time(row["starts_at"]),
                ends_at=parse_db_time(row["ends_at"]),
                cancelled=row["status"] == AppointmentStatus.CANCELLED.value,
            )
            for row in rows
        ]

    async def list_audit_rows_for_appointments(
        self, appointment_ids: Iterable[int], actions: Iterable[str]
    ) -> list[AuditRow]:
        """The appointments' rows with one of ``actions``, in id order, through the
        ``audit_log_by_appointment`` index (a few hundred ids per statement)."""
        ids = sorted(set(appointment_ids))
        wanted = sorted(set(actions))
        action_marks = ",".join("?" * len(wanted))
        found: list[sqlite3.Row] = []
        for start in range(0, len(ids), 400):
            chunk = ids[start:start + 400]
            marks = ",".join("?" * len(chunk))
            found += await self._fetchall(
                f"SELECT * FROM audit_log WHERE appointment_id IN ({marks})"  # noqa: S608
                f" AND action IN ({action_marks})",
                [*chunk, *wanted],
            )
        found.sort(key=lambda row: int(row["id"]))
        return [self._audit_row(row) for row in found]

    # -- calls: what lets admitted seats survive a restart ---------------------

    async def get_call(self, appointment_id: int) -> StoredCall | None:
        session = await self._fetchone(
            "SELECT * FROM call_sessions WHERE appointment_id = ?", (appointment_id,)
        )
        if session is None:
            return None
        rows = await self._fetchall(
            "SELECT * FROM call_seats WHERE appointment_id = ? ORDER BY seat", (appointment_id,)
        )
        seats = tuple(
            StoredSeat(
                staff_id=row["staff_id"],
                participant_id=row["participant_id"],
                seat=row["seat"],
                secret_hash=row["secret_hash"],
                held_until=_maybe_time(row["held_until"]),
            )
            for row in rows
        )
        left = tuple(int(pid) for pid in session["left_participants"].split(",") if pid)
        return StoredCall(appointment_id, session["seats_taken"], bool(session["ended"]), seats,
                          left)

    async def list_server_lost_rows(self, after_id: int) -> list[AuditRow]:
        """The ``server.lost`` rows after row ``after_id``, in order: the crashes that may
        have cut a call since then (a partial index keeps this off the rest of the log)."""
        rows = await self._fetchall(
            "SELECT * FROM audit_log WHERE action = 'server.lost' AND id > ? ORDER BY id",
            (after_id,),
        )
        return [self._audit_row(row) for row in rows]

    # -- staff calendar feeds ------------------------------------------------

    @staticmethod
    def _calendar_feed(row: sqlite3.Row) -> CalendarFeed:
        return CalendarFeed(
            staff_id=row["staff_id"],
            secret_hash=row["secret_hash"],
            created_at=parse_db_time(row["created_at"]),
            read_logged_at=_maybe_time(row["read_logged_at"]),
        )

    async def get_calendar_feed(self, staff_id: int) -> CalendarFeed | None:
        row = await self._fetchone("SELECT * FROM calendar_feeds WHERE staff_id = ?", (staff_id,))
        return None if row is None else self._calendar_feed(row)

    async def find_calendar_feed(self, secret_hash: str) -> CalendarFeed | None:
        """The feed with this secret, if its owner's account is still active."""
        row = await self._fetchone(
            "SELECT f.* FROM calendar_feeds f JOIN staff s ON s.id = f.staff_id"
            " WHERE f.secret_hash = ? AND s.active = 1",
            (secret_hash,),
        )
        return None if row is None else self._calendar_feed(row)

    async def list_feed_appointments(
        self, staff_id: int, start: datetime, end: datetime
    ) -> list[FeedAppointment]:
        """Appointments overlapping [start, end) that ``staff_id`` hosts or attends,
        cancelled ones included."""
        rows = await self._fetchall(
            "SELECT a.id, a.starts_at, a.ends_at, a.status, a.created_at, a.updated_at,"
            " (SELECT COUNT(*) FROM participants p WHERE p.appointment_id = a.id"
            "  AND p.removed_at IS NULL) AS people"
            " FROM appointments a"
            " WHERE a.starts_at < ? AND a.ends_at > ?"
            " AND (a.host_id = ? OR EXISTS (SELECT 1 FROM appointment_staff x"
            "  WHERE x.appointment_id = a.id AND x.staff_id = ?))"
            " ORDER BY a.starts_at, a.id",
            (db_time(end), db_time(start), staff_id, staff_id),
        )
        return [
            FeedAppointment(
                id=row["id"],
                starts_at=parse_db_time(row["starts_at"]),
                ends_at=parse_db_time(row["ends_at"]),
                status=AppointmentStatus(row["status"]),
                people=row["people"],
                created_at=parse_db_time(row["created_at"]),
                updated_at=parse_db_time(row["updated_at"]),
            )
            for row in rows
        ]

    # -- lines -------------------------------------------------------------------

    async def _rows_by(self, column: str, sql: str, ids: list[int]) -> dict[int, list[sqlite3.Row]]:
        """The rows ``sql`` finds for ``ids`` (it holds ``{marks}`` for them), grouped by
        ``column``."""
        found: dict[int, list[sqlite3.Row]] = {}
        for row in await self._fetchall(sql.format(marks=",".join("?" * len(ids))), ids):
            found.setdefault(row[column], []).append(row)
        return found

    async def _load_lines(self, rows: list[sqlite3.Row]) -> list[Line]:
        if not rows:
            return []
        ids = [row["id"] for row in rows]
        # Only active accounts serve: a professional who left takes nobody any more.
        staff = await self._rows_by(
            "line_id", "SELECT x.* FROM line_staff x JOIN staff s ON s.id = x.staff_id"
            " WHERE x.line_id IN ({marks}) AND s.active = 1 ORDER BY x.staff_id", ids)
        hours = await self._rows_by(
            "line_id", "SELECT * FROM line_hours WHERE line_id IN ({marks})"
            " ORDER BY weekday, opens", ids)
        closures = await self._rows_by(
            "line_id", "SELECT * FROM line_closures WHERE line_id IN ({marks})"
            " ORDER BY starts_on, ends_on, id", ids)
        return [
            Line(
                id=row["id"],
                slug=row["slug"],
                name=row["name"],
                kind=LineKind(row["kind"]),
                modes=LineModes(row["modes"]),
                queue_cap=row["queue_cap"],
                grace_minutes=row["grace_minutes"],
                callback_after_minutes=row["callback_after_minutes"],
                active=bool(row["active"]),
                staff_ids=tuple(x["staff_id"] for x in staff.get(row["id"], [])),
                hours=tuple(
                    LineHours(h["weekday"], time.fromisoformat(h["opens"]),
                              time.fromisoformat(h["closes"]))
                    for h in hours.get(row["id"], [])
                ),
                closures=tuple(
                    LineClosure(date.fromisoformat(c["starts_on"]),
                                date.fromisoformat(c["ends_on"]), c["note"])
                    for c in closures.get(row["id"], [])
                ),
            )
            for row in rows
        ]

    async def get_line(self, line_id: int) -> Line | None:
        found = await self._load_lines(
            await self._fetchall("SELECT * FROM lines WHERE id = ?", (line_id,))
        )
        return found[0] if found else None

    async def get_line_by_slug(self, slug: str) -> Line | None:
        found = await self._load_lines(
            await self._fetchall("SELECT * FROM lines WHERE slug = ?", (slug,))
        )
        return found[0] if found else None

    async def list_lines(self, *, active_only: bool = False) -> list[Line]:
        where = " WHERE active = 1" if active_only else ""
        return await self._load_lines(
            await self._fetchall(f"SELECT * FROM lines{where} ORDER BY name, id")  # noqa: S608
        )

    async def lines_for_staff(self, staff_id: int) -> list[Line]:
        """The active lines the professional serves."""
        return await self._load_lines(await self._fetchall(
            "SELECT l.* FROM lines l JOIN line_staff x ON x.line_id = l.id"
            " WHERE x.staff_id = ? AND l.active = 1 ORDER BY l.name, l.id",
            (staff_id,),
        ))

    async def _load_enrolments(self, rows: list[sqlite3.Row]) -> list[Enrolment]:
        if not rows:
            return []
        staff = await self._rows_by(
            "enrolment_id", "SELECT * FROM line_enrolment_staff"
            " WHERE enrolment_id IN ({marks}) ORDER BY staff_id", [row["id"] for row in rows])
        return [
            Enrolment(
                id=row["id"],
                line_id=row["line_id"],
                family_name=row["family_name"],
                language=Language(row["language"]),
                staff_ids=tuple(x["staff_id"] for x in staff.get(row["id"], [])),
                created_at=parse_db_time(row["created_at"]),
                created_by=row["created_by"],
                revoked_at=_maybe_time(row["revoked_at"]),
                last_used_at=_maybe_time(row["last_used_at"]),
            )
            for row in rows
        ]

    async def get_enrolment(self, enrolment_id: int) -> Enrolment | None:
        found = await self._load_enrolments(
            await self._fetchall("SELECT * FROM line_enrolments WHERE id = ?", (enrolment_id,))
        )
        return found[0] if found else None

    async def enrolment_by_secret_hash(self, secret_hash: str, *,
                                       include_revoked: bool = False) -> Enrolment | None:
        """The enrolment a family's link opens; None when unknown or revoked (with
        ``include_revoked`` a revoked one too, its ``revoked_at`` set, to tell the family
        why)."""
        live = "" if include_revoked else " AND revoked_at IS NULL"
        found = await self._load_enrolments(await self._fetchall(
            f"SELECT * FROM line_enrolments WHERE secret_hash = ?{live}",  # noqa: S608
            (secret_hash,),
        ))
        return found[0] if found else None

    async def list_enrolments(self, line_id: int) -> list[Enrolment]:
        """The line's enrolments, revoked ones too, newest first."""
        return await self._load_enrolments(await self._fetchall(
            "SELECT * FROM line_enrolments WHERE line_id = ? ORDER BY id DESC", (line_id,)
        ))

    @staticmethod
    def _line_callback(row: sqlite3.Row) -> LineCallback:
        return LineCallback(
            id=row["id"],
            line_id=row["line_id"],
            enrolment_id=row["enrolment_id"],
            family_name=row["family_name"],
            requested_at=parse_db_time(row["requested_at"]),
            done_at=_maybe_time(row["done_at"]),
            done_by=row["done_by"],
        )

    _CALLBACK_SELECT = (
        "SELECT c.*, e.family_name FROM line_callbacks c"
        " JOIN line_enrolments e ON e.id = c.enrolment_id"
    )

    async def get_line_callback(self, callback_id: int) -> LineCallback | None:
        row = await self._fetchone(f"{self._CALLBACK_SELECT} WHERE c.id = ?", (callback_id,))
        return None if row is None else self._line_callback(row)

    async def list_open_callbacks(self, line_ids: Sequence[int]) -> list[LineCallback]:
        """Call-backs not yet done on these lines, oldest first; a revoked family's are
        left out (its link no longer works, so nobody is to call it from here)."""
        wanted = sorted(set(line_ids))
        if not wanted:
            return []
        marks = ",".join("?" * len(wanted))
        rows = await self._fetchall(
            f"{self._CALLBACK_SELECT} WHERE c.line_id IN ({marks})"
            " AND c.done_at IS NULL AND e.revoked_at IS NULL ORDER BY c.requested_at, c.id",
            wanted,
        )
        return [self._line_callback(row) for row in rows]

    async def get_line_stats(self, line_id: int) -> LineStats:
        row = await self._fetchone("SELECT * FROM line_stats WHERE line_id = ?", (line_id,))
        if row is None:
            return LineStats(line_id, None, 0)
        return LineStats(line_id, row["ewma_seconds"], row["samples"])

    async def list_queue_entries(self) -> list[QueuedRow]:
        """Everyone queued when the server stopped, per line front entries first, then by
        the time they joined."""
        rows = await self._fetchall(
            "SELECT * FROM line_queue_entries ORDER BY line_id, front DESC, joined_at, rowid"
        )
        return [
            QueuedRow(
                ticket_hash=row["ticket_hash"],
                line_id=row["line_id"],
                mode=row["mode"],
                joined_at=parse_db_time(row["joined_at"]),
                enrolment_id=row["enrolment_id"],
                staff_ids=tuple(int(s) for s in row["staff_ids"].split()),
                front=bool(row["front"]),
                nickname=row["nickname"],
            )
            for row in rows
        ]

    # -- retention: personal data past its period, and usage-log purges ----------

    async def list_appointments_to_strip(self, ended_before: datetime, limit: int) -> list[int]:
        """Appointments (cancelled ones too) that ended before the cut-off and still hold
        personal data, oldest first."""
        rows = await self._fetchall(
            "SELECT id FROM appointments WHERE personal_data_removed_at IS NULL"
            " AND ends_at < ? ORDER BY ends_at, id LIMIT ?",
            (db_time(ended_before), limit),
        )
        return [int(row["id"]) for row in rows]

    async def list_bookings_to_strip(self, ended_before: datetime, limit: int) -> list[int]:
        """Bookings that never became an appointment (given up, expired), past the
        cut-off, still holding a name, contact or topic."""
        rows = await self._fetchall(
            "SELECT id FROM bookings WHERE appointment_id IS NULL AND ends_at < ?"
            " AND (display_name != '' OR contact != '' OR topic != '') ORDER BY id LIMIT ?",
            (db_time(ended_before), limit),
        )
        return [int(row["id"]) for row in rows]

    async def list_enrolments_to_strip(
        self, revoked_before: datetime, limit: int
    ) -> list[tuple[int, int]]:
        """(enrolment, line) of family links revoked before the cut-off, name still kept."""
        rows = await self._fetchall(
            "SELECT id, line_id FROM line_enrolments WHERE revoked_at < ?"
            " AND family_name != ? ORDER BY id LIMIT ?",
            (db_time(revoked_before), REMOVED_NAME, limit),
        )
        return [(int(row["id"]), int(row["line_id"])) for row in rows]

    async def personal_data_removed(self, appointment_id: int) -> bool:
        row = await self._fetchone(
            "SELECT personal_data_removed_at FROM appointments WHERE id = ?", (appointment_id,)
        )
        return row is not None and row["personal_data_removed_at"] is not None

    async def list_audit_purges(self) -> list[AuditPurge]:
        rows = await self._fetchall("SELECT * FROM audit_purges ORDER BY id")
        return [
            AuditPurge(int(row["id"]), parse_db_time(row["at"]), int(row["first_id"]),
                       str(row["prev_hash"]), int(row["removed"]), str(row["mac"]))
            for row in rows
        ]

    async def first_audit_row_at_or_after(self, at: datetime, from_id: int) -> int | None:
        """The lowest id from ``from_id`` on of a row written at or after ``at``. Walks
        ids in order (``+at`` keeps the time index out), so it reads only the old rows."""
        row = await self._fetchone(
            "SELECT id FROM audit_log WHERE id >= ? AND +at >= ? ORDER BY id LIMIT 1",
            (from_id, db_time(at)),
        )
        return None if row is None else int(row["id"])

    async def first_audit_id(self) -> int | None:
        row = await self._fetchone("SELECT MIN(id) AS id FROM audit_log")
        return None if row is None or row["id"] is None else int(row["id"])

    async def audit_chain_link(self, row_id: int) -> str | None:
        """The hash the chain carries into row ``row_id``: its prev_hash, or for the row
        after the newest, the newest row's hash."""
        row = await self._fetchone("SELECT prev_hash FROM audit_log WHERE id = ?", (row_id,))
        if row is not None:
            return str(row["prev_hash"])
        row = await self._fetchone("SELECT hash FROM audit_log WHERE id = ?", (row_id - 1,))
        return None if row is None else str(row["hash"])

    async def count_audit_rows_before(self, row_id: int) -> int:
        row = await self._fetchone(
            "SELECT COUNT(*) AS n FROM audit_log WHERE id < ?", (row_id,)
        )
        return 0 if row is None else int(row["n"])


    # -- organisation reports and travel distances ------------------------------

    async def list_travel_distances(self, service_id: int) -> list[TravelDistance]:
        rows = await self._fetchall(
            "SELECT municipality, km, minutes FROM travel_distances WHERE service_id = ?"
            " ORDER BY municipality",
            (service_id,),
        )
        return [TravelDistance(r["municipality"], float(r["km"]), int(r["minutes"]))
                for r in rows]

    async def list_report_appointments(
        self, start: datetime, end: datetime,
    ) -> tuple[list[ReportAppointment], list[SettledFacts]]:
        """Appointments starting in [start, end), with the one-way travel each avoids
        (its own setting, else the service's distance for the family's municipality),
        and the stored facts of those settled (``report_facts``), in one pass."""
        rows = await self._fetchall(
            "SELECT a.id, a.starts_at, a.ends_at, a.kind, a.status, a.host_id, a.service_id,"
            " COALESCE(a.travel_km, d.km) AS km, COALESCE(a.travel_minutes, d.minutes) AS min,"
            " f.joined, f.seconds, f.waits, f.marks"
            " FROM appointments a LEFT JOIN travel_distances d"
            " ON d.service_id = a.service_id AND d.municipality = a.municipality"
            " LEFT JOIN report_facts f ON f.appointment_id = a.id"
            " WHERE a.starts_at >= ? AND a.starts_at < ?",
            (db_time(start), db_time(end)),
        )
        times: dict[str, datetime] = {}  # many appointments start and end together

        def parsed(text: str) -> datetime:
            found = times.get(text)
            if found is None:
                found = times[text] = _fast_time(text)
            return found

        appointments, settled = [], []
        for r in rows:
            appointments.append(ReportAppointment(
                r[0], parsed(r[1]), parsed(r[2]), r[3], r[4] == "cancelled", r[5], r[6],
                None if r[7] is None else float(r[7]), r[8]))
            if r[9] is not None:
                settled.append(SettledFacts(
                    r[0], r[9], r[10], tuple(int(w) for w in r[11].split(",")) if r[11] else (),
                    tuple(r[12].split(",")) if r[12] else ()))
        return appointments, settled

    async def list_report_people(self, start: datetime, end: datetime) -> list[PersonRows]:
        """Per participant by link in the appointments starting in [start, end) whose
        facts are not settled (``report_facts``): their call rows and admissions summed
        up in one pass over the index (``PersonRows``). The plain cases — one
        ``call.joined`` then one ``call.left`` and no other call row; one
        ``waiting.entered`` then one ``admission.admitted`` — come with their length in
        seconds (never below 0); anything else is left to the rows."""
        return await self._report_people(
            "a.starts_at >= ? AND a.starts_at < ?" + _UNSETTLED, (db_time(start), db_time(end)))

    async def list_report_people_of(self, appointment_ids: Sequence[int]) -> list[PersonRows]:
        """As ``list_report_people``, for these appointments (settled or not)."""
        found: list[PersonRows] = []
        for first in range(0, len(appointment_ids), 500):
            batch = appointment_ids[first:first + 500]
            found += await self._report_people(f"a.id IN ({','.join('?' * len(batch))})", batch)
        return found

    async def _report_people(self, where: str, params: Sequence[Any]) -> list[PersonRows]:
        # k: 1 joined, 2 left, 3 disconnected, 4 reconnected, 5 entered, 6 admitted.
        rows = await self._fetchall(
            "SELECT appointment_id, person, sum(k <= 4),"  # noqa: S608 (fixed fragments)
            " CASE WHEN sum(k <= 4) = 2 AND sum(k = 1) = 1 AND sum(k = 2) = 1"
            " AND max(CASE WHEN k = 1 THEN id END) < max(CASE WHEN k = 2 THEN id END)"
            " THEN max(0, max(CASE WHEN k = 2 THEN t END) - max(CASE WHEN k = 1 THEN t END))"
            " END, min(CASE WHEN k <= 4 THEN id END), max(CASE WHEN k <= 4 THEN id END),"
            " sum(k = 6),"
            " CASE WHEN sum(k = 5) = 1 AND sum(k = 6) = 1"
            " AND max(CASE WHEN k = 5 THEN id END) < max(CASE WHEN k = 6 THEN id END)"
            " THEN max(0, max(CASE WHEN k = 6 THEN t END) - max(CASE WHEN k = 5 THEN t END))"
            " END FROM (SELECT l.appointment_id, l.id, unixepoch(l.at) AS t,"
            " CASE l.action WHEN 'call.joined' THEN 1 WHEN 'call.left' THEN 2"
            " WHEN 'call.disconnected' THEN 3 WHEN 'call.reconnected' THEN 4"
            " WHEN 'waiting.entered' THEN 5 ELSE 6 END AS k,"
            " CASE WHEN l.action = 'admission.admitted' THEN l.subject_id"
            " WHEN l.action = 'waiting.entered' THEN coalesce(l.subject_id,"
            " CASE WHEN l.actor_kind = 'participant' THEN l.actor_id END)"
            " WHEN l.actor_kind = 'participant' THEN l.actor_id END AS person"
            " FROM appointments a JOIN audit_log l ON l.appointment_id = a.id"
            " AND l.action IN ('call.joined', 'call.left', 'call.disconnected',"
            " 'call.reconnected', 'waiting.entered', 'admission.admitted')"
            f" WHERE {where})"
            " WHERE person IS NOT NULL GROUP BY appointment_id, person",
            params,
        )
        return [PersonRows(*r) for r in rows]

    async def list_report_rows_of(self, appointment_ids: Sequence[int], actions: Sequence[str],
                                  *, participants_only: bool = False) -> list[AuditRow]:
        """These appointments' rows with one of ``actions`` (only participants' with
        ``participants_only``), from the index alone (details and hashes left out)."""
        found: list[AuditRow] = []
        for first in range(0, len(appointment_ids), 500):
            batch = appointment_ids[first:first + 500]
            rows = await self._fetchall(
                "SELECT id, at, actor_kind, actor_id, action, appointment_id, subject_id,"  # noqa: S608
                f" '' FROM audit_log WHERE appointment_id IN ({','.join('?' * len(batch))})"
                f" AND action IN ({','.join('?' * len(actions))})"
                + (" AND actor_kind = 'participant'" if participants_only else ""),
                [*batch, *actions],
            )
            found += [_report_row(r) for r in rows]
        return found

    async def list_report_marks(self, start: datetime, end: datetime) -> list[tuple[int, str]]:
        """(appointment id, mark) in the appointments starting in [start, end) whose facts
        are not settled: a connection test's verdict, or ``sound_only`` for a switch to
        sound only."""
        return await self._report_marks("a.starts_at >= ? AND a.starts_at < ?" + _UNSETTLED,
                                        (db_time(start), db_time(end)))

    async def list_report_marks_of(self, appointment_ids: Sequence[int],
                                   ) -> list[tuple[int, str]]:
        found: list[tuple[int, str]] = []
        for first in range(0, len(appointment_ids), 500):
            batch = appointment_ids[first:first + 500]
            found += await self._report_marks(f"a.id IN ({','.join('?' * len(batch))})", batch)
        return found

    async def _report_marks(self, where: str, params: Sequence[Any]) -> list[tuple[int, str]]:
        rows = await self._fetchall(
            "SELECT l.appointment_id, CASE WHEN l.action = 'call.sound_only' THEN"  # noqa: S608
            " CASE WHEN json_valid(l.detail) AND json_type(l.detail, '$.on') = 'true'"
            " THEN 'sound_only' END"
            " WHEN json_valid(l.detail) AND json_type(l.detail, '$.verdict') = 'text'"
            " THEN json_extract(l.detail, '$.verdict') END AS mark"
            " FROM appointments a JOIN audit_log l ON l.appointment_id = a.id"
            " AND l.action IN ('connection_test.completed', 'call.sound_only')"
            f" WHERE {where} AND mark IS NOT NULL",
            params,
        )
        return [(r[0], r[1]) for r in rows]

    async def list_appointments_to_settle(self, ended_before: datetime, after_id: int,
                                          limit: int) -> list[int]:
        """Appointments after ``after_id`` that ended before ``ended_before`` and whose
        facts are not stored, in id order."""
        rows = await self._fetchall(
            "SELECT a.id FROM appointments a WHERE a.id > ? AND a.ends_at < ? AND NOT EXISTS"
            " (SELECT 1 FROM report_facts f WHERE f.appointment_id = a.id)"
            " ORDER BY a.id LIMIT ?", (after_id, db_time(ended_before), limit))
        return [r[0] for r in rows]

    async def list_report_rows_between(
        self, start: datetime, end: datetime, actions: Iterable[str]
    ) -> list[AuditRow]:
        """The usage-log rows with one of ``actions`` and ``start <= at < end`` (by the
        index on (action, at)), in no particular order. Hashes are left out."""
        wanted = sorted(set(actions))
        marks = ",".join("?" * len(wanted))
        rows = await self._fetchall(
            "SELECT id, at, actor_kind, actor_id, action, appointment_id, subject_id,"  # noqa: S608
            f" detail FROM audit_log WHERE action IN ({marks}) AND at >= ? AND at < ?",
            [*wanted, db_time(start), db_time(end)],
        )
        return [_report_row(r) for r in rows]

    async def get_report_names(self) -> ReportNames:
        staff = await self._fetchall("SELECT id, display_name FROM staff")
        services = await self._fetchall("SELECT id, name FROM services")
        lines = await self._fetchall("SELECT id, name FROM lines")
        return ReportNames({r[0]: r[1] for r in staff}, {r[0]: r[1] for r in services},
                           {r[0]: r[1] for r in lines})


# Appointments whose report facts are stored are counted from those, not from their rows.
_UNSETTLED = " AND NOT EXISTS (SELECT 1 FROM report_facts f WHERE f.appointment_id = a.id)"


class Tx(Reads):
    """One write transaction. Nothing in it commits on its own: ``Database.transaction``
    commits everything at the end, or rolls all of it back."""

    def __init__(self, conn: aiosqlite.Connection) -> None:
        self._conn = conn
        self._after_commit: list[Callable[[], None]] = []

    def after_commit(self, callback: Callable[[], None]) -> None:
        """Run ``callback`` once the transaction has committed (never after a rollback):
        e.g. wake the outbox worker, which can only see the new rows then."""
        if callback not in self._after_commit:
            self._after_commit.append(callback)

    async def _fetchall(self, sql: str, params: Sequence[Any] = ()) -> list[sqlite3.Row]:
        # One trip to the connection's thread, not three (execute, fetch, close).
        return list(await self._conn.execute_fetchall(sql, params))

    async def _execute(self, sql: str, params: Sequence[Any] = ()) -> aiosqlite.Cursor:
        return await self._conn.execute(sql, params)

    # -- staff -------------------------------------------------------------

    async def create_staff(
        self, username: str, display_name: str, role: StaffRole, password_hash: str, now: datetime,
        *, title: str = "", registry: bool = False,
    ) -> Staff:
        try:
            cursor = await self._execute(
                "INSERT INTO staff (username, display_name, role, password_hash, created_at,"
                " title, registry) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (username, display_name, role.value, password_hash, db_time(now), title,
                 int(registry)),
            )
        except sqlite3.IntegrityError as exc:
            raise Conflict(f"username {username!r} is taken") from exc
        assert cursor.lastrowid is not None
        return Staff(cursor.lastrowid, username, display_name, role, True, title, registry)

    async def set_staff_title(self, staff_id: int, title: str, registry: bool) -> None:
        """The access report's role word and registry right (the demo seed renews them)."""
        await self._execute(
            "UPDATE staff SET title = ?, registry = ? WHERE id = ?",
            (title, int(registry), staff_id),
        )

    async def set_staff_password(self, staff_id: int, password_hash: str) -> None:
        await self._execute(
            "UPDATE staff SET password_hash = ? WHERE id = ?", (password_hash, staff_id)
        )
        await self._execute("DELETE FROM staff_sessions WHERE staff_id = ?", (staff_id,))

    # -- staff sessions ------------------------------------------------------

    async def create_session(
        self, id_hash: str, staff_id: int, csrf_token: str, now: datetime, expires_at: datetime
    ) -> None:
        await self._execute("DELETE FROM staff_sessions WHERE expires_at < ?", (db_time(now),))
        await self._execute(
            "INSERT INTO staff_sessions (id_hash, staff_id, csrf_token, created_at, expires_at)"
            " VALUES (?, ?, ?, ?, ?)",
            (id_hash, staff_id, csrf_token, db_time(now), db_time(expires_at)),
        )

    async def extend_session(self, id_hash: str, expires_at: datetime) -> None:
        await self._execute(
            "UPDATE staff_sessions SET expires_at = ? WHERE id_hash = ?",
            (db_time(expires_at), id_hash),
        )

    async def delete_session(self, id_hash: str) -> None:
        await self._execute("DELETE FROM staff_sessions WHERE id_hash = ?", (id_hash,))

    # -- appointments --------------------------------------------------------

    async def create_appointment(
        self,
        *,
        starts_at: datetime,
        ends_at: datetime,
        kind: AppointmentKind,
        host_id: int,
        staff_ids: Iterable[int],
        participants: Iterable[NewParticipant],
        created_by: int,
        now: datetime,
    ) -> tuple[int, list[int]]:
        """Insert the appointment and its people; return its id and the participant ids."""
        cursor = await self._execute(
            "INSERT INTO appointments (starts_at, ends_at, kind, host_id, created_by,"
            " created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
            (
                db_time(starts_at),
                db_time(ends_at),
                kind.value,
                host_id,
                created_by,
                db_time(now),
                db_time(now),
            ),
        )
        appointment_id = cursor.lastrowid
        assert appointment_id is not None
        await self._conn.executemany(
            "INSERT INTO appointment_staff (appointment_id, staff_id) VALUES (?, ?)",
            [(appointment_id, s) for s in sorted(set(staff_ids) - {host_id})],
        )
        participant_ids = [
            await self.add_participant(appointment_id, p, now) for p in participants
        ]
        return appointment_id, participant_ids

    async def update_appointment(
        self,
        appointment_id: int,
        *,
        starts_at: datetime,
        ends_at: datetime,
        kind: AppointmentKind,
        host_id: int,
        staff_ids: Iterable[int] | None,
        now: datetime,
    ) -> None:
        await self._execute(
            "UPDATE appointments SET starts_at = ?, ends_at = ?, kind = ?, host_id = ?,"
            " updated_at = ? WHERE id = ?",
            (
                db_time(starts_at),
                db_time(ends_at),
                kind.value,
                host_id,
                db_time(now),
                appointment_id,
            ),
        )
        # Moved from the past into the future, its call may go on: counted from its rows
        # again until it settles anew.
        await self._execute("DELETE FROM report_facts WHERE appointment_id = ? AND ? > ?",
                            (appointment_id, db_time(ends_at), db_time(now)))
        if staff_ids is not None:
            await self._execute(
                "DELETE FROM appointment_staff WHERE appointment_id = ?", (appointment_id,)
            )
            await self._conn.executemany(
                "INSERT INTO appointment_staff (appointment_id, staff_id) VALUES (?, ?)",
                [(appointment_id, s) for s in sorted(set(staff_ids) - {host_id})],
            )
        else:
            await self._execute(
                "DELETE FROM appointment_staff WHERE appointment_id = ? AND staff_id = ?",
                (appointment_id, host_id),
            )

    async def save_report_facts(self, facts: Iterable[SettledFacts], ended_before: datetime,
                                now: datetime) -> int:
        """Stores settled facts of appointments that still ended before ``ended_before``
        (one moved into the future meanwhile is left out); facts stored meanwhile by
        another run are kept."""
        cursor = await self._conn.executemany(
            "INSERT OR IGNORE INTO report_facts (appointment_id, joined, seconds, waits,"
            " marks, settled_at) SELECT ?, ?, ?, ?, ?, ? WHERE EXISTS"
            " (SELECT 1 FROM appointments WHERE id = ? AND ends_at < ?)",
            [(f.appointment_id, f.joined, f.seconds, ",".join(map(str, f.waits)),
              ",".join(f.marks), db_time(now), f.appointment_id, db_time(ended_before))
             for f in facts])
        return max(cursor.rowcount, 0)

    async def cancel_appointment(self, appointment_id: int, now: datetime) -> None:
        await self._execute(
            "UPDATE appointments SET status = 'cancelled', updated_at = ? WHERE id = ?",
            (db_time(now), appointment_id),
        )
        await self._execute(
            "UPDATE join_links SET revoked_at = ? WHERE appointment_id = ?"
            " AND revoked_at IS NULL",
            (db_time(now), appointment_id),
        )

    # -- participants and join links -----------------------------------------

    async def add_participant(
        self, appointment_id: int, participant: NewParticipant, now: datetime
    ) -> int:
        cursor = await self._execute(
            "INSERT INTO participants"
            " (appointment_id, display_name, role, contact, language, delivery, created_at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?)",
            (
                appointment_id,
                participant.display_name,
                participant.role.value,
                participant.contact,
                participant.language.value if participant.language else None,
                participant.delivery.value,
                db_time(now),
            ),
        )
        assert cursor.lastrowid is not None
        return cursor.lastrowid

    async def set_participant_delivery(
        self, participant_id: int, delivery: Delivery, contact: str | None
    ) -> None:
        await self._execute(
            "UPDATE participants SET delivery = ?, contact = ? WHERE id = ?",
            (delivery.value, contact, participant_id),
        )

    async def remove_participant(self, participant_id: int, now: datetime) -> None:
        await self._execute(
            "UPDATE participants SET removed_at = ? WHERE id = ?",
            (db_time(now), participant_id),
        )
        await self.revoke_join_links(participant_id, now)

    async def replace_join_link(self, link: JoinLink) -> None:
        """Store a new link for a participant, revoking any earlier one in the same step."""
        await self.revoke_join_links(link.participant_id, link.issued_at)
        await self._execute(
            "INSERT INTO join_links (jti, participant_id, appointment_id, issued_at,"
            " expires_at) VALUES (?, ?, ?, ?, ?)",
            (
                link.jti,
                link.participant_id,
                link.appointment_id,
                db_time(link.issued_at),
                db_time(link.expires_at),
            ),
        )

    async def revoke_join_links(self, participant_id: int, now: datetime) -> int:
        cursor = await self._execute(
            "UPDATE join_links SET revoked_at = ? WHERE participant_id = ?"
            " AND revoked_at IS NULL",
            (db_time(now), participant_id),
        )
        return cursor.rowcount

    # -- usage log -------------------------------------------------------------

    async def append_audit_rows(self, entries: Sequence[NewAuditEntry], chain: RowHasher) -> None:
        """Append rows with consecutive ids, each hashed onto the one before it."""
        if not entries:
            return
        last = await self._fetchone("SELECT id, hash FROM audit_log ORDER BY id DESC LIMIT 1")
        row_id, prev = (last["id"], last["hash"]) if last else (0, chain.genesis)
        rows = []
        for entry in entries:
            row_id += 1
            digest = chain.row_hash(prev, row_id, entry)
            rows.append(
                (
                    row_id,
                    db_time(entry.at),
                    entry.actor_kind,
                    entry.actor_id,
                    entry.action,
                    entry.appointment_id,
                    entry.subject_id,
                    entry.detail,
                    prev,
                    digest,
                )
            )
            prev = digest
        await self._conn.executemany(
            "INSERT INTO audit_log (id, at, actor_kind, actor_id, action, appointment_id,"
            " subject_id, detail, prev_hash, hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            rows,
        )

    # -- calls -------------------------------------------------------------------

    async def mark_server_alive(self, started_at: datetime, alive_at: datetime,
                                clean: bool) -> None:
        await self._execute(
            "INSERT INTO server_alive (id, started_at, alive_at, clean) VALUES (1, ?, ?, ?)"
            " ON CONFLICT (id) DO UPDATE SET started_at = excluded.started_at,"
            " alive_at = excluded.alive_at, clean = excluded.clean",
            (db_time(started_at), db_time(alive_at), int(clean)),
        )

    async def save_call(self, call: StoredCall, now: datetime) -> None:
        """Replace the saved state of one call."""
        await self._execute(
            "INSERT INTO call_sessions (appointment_id, seats_taken, ended, left_participants,"
            " updated_at) VALUES (?, ?, ?, ?, ?) ON CONFLICT (appointment_id) DO UPDATE SET"
            " seats_taken = excluded.seats_taken, ended = excluded.ended,"
            " left_participants = excluded.left_participants, updated_at = excluded.updated_at",
            (call.appointment_id, call.seats_taken, int(call.ended),
             ",".join(str(pid) for pid in call.left_participants), db_time(now)),
        )
        await self._execute(
            "DELETE FROM call_seats WHERE appointment_id = ?", (call.appointment_id,)
        )
        await self._conn.executemany(
            "INSERT INTO call_seats (appointment_id, staff_id, participant_id, seat,"
            " secret_hash, held_until) VALUES (?, ?, ?, ?, ?, ?)",
            [
                (
                    call.appointment_id,
                    seat.staff_id,
                    seat.participant_id,
                    seat.seat,
                    seat.secret_hash,
                    None if seat.held_until is None else db_time(seat.held_until),
                )
                for seat in call.seats
            ],
        )

    async def reopen_call(self, appointment_id: int, now: datetime) -> None:
        """The session staff ended may be joined again; its seats were emptied by the end."""
        await self._execute(
            "INSERT INTO call_sessions (appointment_id, seats_taken, ended, updated_at)"
            " VALUES (?, 0, 0, ?) ON CONFLICT (appointment_id) DO UPDATE SET"
            " ended = 0, updated_at = excluded.updated_at",
            (appointment_id, db_time(now)),
        )
        await self._execute("DELETE FROM call_seats WHERE appointment_id = ?", (appointment_id,))


    # -- booking: services, hours, closures, bookings ---------------------------

    async def create_service(self, fields: Mapping[str, Any], kinds: Iterable[AppointmentKind],
                             staff_ids: Iterable[int], now: datetime) -> int:
        columns = sorted(fields)
        try:
            cursor = await self._execute(
                f"INSERT INTO services ({', '.join(columns)}, created_at)"  # noqa: S608
                f" VALUES ({', '.join('?' * len(columns))}, ?)",
                [*(fields[c] for c in columns), db_time(now)],
            )
        except sqlite3.IntegrityError as exc:
            raise Conflict("slug taken") from exc
        service_id = cursor.lastrowid
        assert service_id is not None
        await self.set_service_kinds(service_id, kinds)
        await self.set_service_staff(service_id, staff_ids)
        return service_id

    async def update_service(self, service_id: int, fields: Mapping[str, Any]) -> None:
        if not fields:
            return
        columns = sorted(fields)
        try:
            await self._execute(
                f"UPDATE services SET {', '.join(f'{c} = ?' for c in columns)}"  # noqa: S608
                " WHERE id = ?",
                [*(fields[c] for c in columns), service_id],
            )
        except sqlite3.IntegrityError as exc:
            raise Conflict("slug taken") from exc

    async def set_service_kinds(self, service_id: int, kinds: Iterable[AppointmentKind]) -> None:
        await self._execute("DELETE FROM service_kinds WHERE service_id = ?", (service_id,))
        await self._conn.executemany(
            "INSERT INTO service_kinds (service_id, kind) VALUES (?, ?)",
            [(service_id, k.value) for k in sorted(set(kinds))],
        )

    async def set_service_staff(self, service_id: int, staff_ids: Iterable[int]) -> None:
        """Also drops the hours of anyone no longer in the service."""
        wanted = sorted(set(staff_ids))
        await self._execute("DELETE FROM service_staff WHERE service_id = ?", (service_id,))
        await self._conn.executemany(
            "INSERT INTO service_staff (service_id, staff_id) VALUES (?, ?)",
            [(service_id, s) for s in wanted],
        )
        marks = ",".join("?" * len(wanted)) or "NULL"
        await self._execute(
            f"DELETE FROM service_hours WHERE service_id = ? AND staff_id NOT IN ({marks})",  # noqa: S608
            [service_id, *wanted],
        )

    async def replace_service_hours(self, service_id: int, hours: Iterable[ServiceHours]) -> None:
        await self._execute("DELETE FROM service_hours WHERE service_id = ?", (service_id,))
        await self._conn.executemany(
            "INSERT INTO service_hours (service_id, staff_id, weekday, opens, closes)"
            " VALUES (?, ?, ?, ?, ?)",
            [(service_id, h.staff_id, h.weekday, h.opens, h.closes) for h in hours],
        )

    async def add_service_closure(
        self, service_id: int | None, staff_id: int | None, starts_at: datetime,
        ends_at: datetime, note: str,
    ) -> int:
        cursor = await self._execute(
            "INSERT INTO service_closures (service_id, staff_id, starts_at, ends_at, note)"
            " VALUES (?, ?, ?, ?, ?)",
            (service_id, staff_id, db_time(starts_at), db_time(ends_at), note),
        )
        assert cursor.lastrowid is not None
        return cursor.lastrowid

    async def remove_service_closure(self, closure_id: int) -> None:
        await self._execute("DELETE FROM service_closures WHERE id = ?", (closure_id,))

    async def insert_booking(
        self,
        *,
        service_id: int,
        staff_id: int,
        kind: AppointmentKind,
        starts_at: datetime,
        ends_at: datetime,
        hold_expires_at: datetime,
        display_name: str,
        contact: str,
        channel: Delivery,
        language: Language,
        topic: str,
        confirm_nonce: str,
        manage_nonce: str,
        now: datetime,
    ) -> int:
        cursor = await self._execute(
            "INSERT INTO bookings (service_id, staff_id, kind, starts_at, ends_at,"
            " hold_expires_at, display_name, contact, channel, language, topic,"
            " confirm_nonce, manage_nonce, created_at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                service_id, staff_id, kind.value, db_time(starts_at), db_time(ends_at),
                db_time(hold_expires_at), display_name, contact, channel.value,
                language.value, topic, confirm_nonce, manage_nonce, db_time(now),
            ),
        )
        assert cursor.lastrowid is not None
        return cursor.lastrowid

    async def confirm_booking(
        self, booking_id: int, appointment_id: int, participant_id: int, now: datetime
    ) -> None:
        await self._execute(
            "UPDATE bookings SET state = 'confirmed', appointment_id = ?, participant_id = ?,"
            " confirmed_at = ? WHERE id = ?",
            (appointment_id, participant_id, db_time(now), booking_id),
        )
        # The appointment belongs to the booking's service (organisation reports).
        await self._execute(
            "UPDATE appointments SET service_id = (SELECT service_id FROM bookings WHERE id = ?)"
            " WHERE id = ?",
            (booking_id, appointment_id),
        )

    async def move_booking(self, booking_id: int, staff_id: int, starts_at: datetime,
                           ends_at: datetime) -> None:
        await self._execute(
            "UPDATE bookings SET staff_id = ?, starts_at = ?, ends_at = ? WHERE id = ?",
            (staff_id, db_time(starts_at), db_time(ends_at), booking_id),
        )

    async def follow_appointment(self, appointment_id: int, now: datetime) -> None:
        """Staff moved or cancelled an appointment a family booked: its booking follows,
        so the family's manage page and the limits see what is true."""
        await self._execute(
            "UPDATE bookings SET starts_at = a.starts_at, ends_at = a.ends_at,"
            " staff_id = a.host_id,"
            " state = CASE a.status WHEN 'cancelled' THEN 'cancelled' ELSE bookings.state END,"
            " cancelled_at = CASE a.status WHEN 'cancelled' THEN COALESCE(cancelled_at, ?)"
            " ELSE cancelled_at END"
            " FROM appointments a WHERE a.id = bookings.appointment_id"
            " AND bookings.appointment_id = ?",
            (db_time(now), appointment_id),
        )

    async def withdraw_booking_messages(self, booking_id: int, now: datetime) -> int:
        """A hold's confirm message not yet sent, once the hold is over."""
        return await self._withdraw("booking_id = ?", [booking_id], now)

    async def cancel_booking(self, booking_id: int, now: datetime) -> None:
        await self._execute(
            "UPDATE bookings SET state = 'cancelled', cancelled_at = ? WHERE id = ?",
            (db_time(now), booking_id),
        )

    async def expire_booking(self, booking_id: int) -> bool:
        """Held → expired; False if it was no longer held."""
        cursor = await self._execute(
            "UPDATE bookings SET state = 'expired' WHERE id = ? AND state = 'held'",
            (booking_id,),
        )
        return cursor.rowcount == 1


    # -- outbox ----------------------------------------------------------------

    async def add_message(self, message: NewMessage, now: datetime) -> int:
        cursor = await self._execute(
            "INSERT INTO outbox (purpose, channel, recipient, language, appointment_id,"
            " participant_id, booking_id, starts_at, ends_at, sequence, due_at,"
            " next_attempt_at, created_at, updated_at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                message.purpose.value,
                message.channel.value,
                message.recipient,
                message.language.value,
                message.appointment_id,
                message.participant_id,
                message.booking_id,
                db_time(message.starts_at),
                db_time(message.ends_at),
                message.sequence,
                db_time(message.due_at),
                db_time(message.due_at),
                db_time(now),
                db_time(now),
            ),
        )
        assert cursor.lastrowid is not None
        return cursor.lastrowid

    async def withdraw_messages(
        self, now: datetime, *, appointment_id: int, participant_id: int | None = None,
        keep_cancellations: bool = False,
    ) -> int:
        """Pending messages of an appointment (or one of its people) that a change made
        wrong are withdrawn, never deleted: the row shows they were planned."""
        where = "appointment_id = ?"
        params: list[Any] = [appointment_id]
        if keep_cancellations:
            where += " AND purpose != 'cancellation'"
        if participant_id is not None:
            where += " AND participant_id = ?"
            params.append(participant_id)
        return await self._withdraw(where, params, now)

    async def _withdraw(self, where: str, params: list[Any], now: datetime) -> int:
        """Pending rows become withdrawn; rows being sent right now are marked, so that
        the send, unless it succeeds, ends withdrawn (finish_message)."""
        # ``where`` is one of the fixed conditions above; the values are parameters.
        cursor = await self._execute(
            "UPDATE outbox SET state = 'withdrawn', updated_at = ?"  # noqa: S608
            f" WHERE state = 'pending' AND {where}", [db_time(now), *params])
        await self._execute(
            "UPDATE outbox SET withdrawn_at = ?, updated_at = ?"  # noqa: S608
            f" WHERE state = 'sending' AND {where}", [db_time(now), db_time(now), *params])
        return cursor.rowcount

    async def bump_invite_sequence(
        self, appointment_id: int, participant_id: int | None = None
    ) -> None:
        sql = ("UPDATE participants SET invite_sequence = invite_sequence + 1"
               " WHERE appointment_id = ?")
        params: list[Any] = [appointment_id]
        if participant_id is not None:
            sql += " AND id = ?"
            params.append(participant_id)
        await self._execute(sql, params)

    # -- outbox: sending ------------------------------------------------------

    async def claim_due_message(self, now: datetime) -> OutboxMessage | None:
        """The earliest due pending message, now ``sending`` with one more attempt. The
        caller commits this before it touches the network: a crash after that leaves a
        ``sending`` row, which the next start turns ``unconfirmed`` and never resends."""
        row = await self._fetchone(
            "SELECT id FROM outbox WHERE state = 'pending' AND next_attempt_at <= ?"
            " ORDER BY next_attempt_at, id LIMIT 1",
            (db_time(now),),
        )
        if row is None:
            return None
        await self._execute(
            "UPDATE outbox SET state = 'sending', attempts = attempts + 1, updated_at = ?"
            " WHERE id = ? AND state = 'pending'",
            (db_time(now), row["id"]),
        )
        return await self.get_message(row["id"])

    async def finish_message(
        self,
        message_id: int,
        state: MessageState,
        now: datetime,
        *,
        error: str | None = None,
        retry_at: datetime | None = None,
    ) -> MessageState | None:
        """A ``sending`` message becomes sent, failed, withdrawn, or pending again at
        ``retry_at``; the state written, or None when it was not ``sending`` (nothing is
        changed then). A row withdrawn while it was being sent ends withdrawn unless the
        send succeeded."""
        if state is MessageState.PENDING and retry_at is None:
            raise ValueError("a message put back to pending needs retry_at")
        row = await self._fetchone(
            "SELECT withdrawn_at FROM outbox WHERE id = ? AND state = 'sending'",
            (message_id,))
        if row is None:
            return None
        if row["withdrawn_at"] is not None and state is not MessageState.SENT:
            state = MessageState.WITHDRAWN
        await self._execute(
            "UPDATE outbox SET state = ?, last_error = COALESCE(?, last_error),"
            " next_attempt_at = COALESCE(?, next_attempt_at), updated_at = ?,"
            " sent_at = CASE WHEN ? = 'sent' THEN ? ELSE sent_at END"
            " WHERE id = ? AND state = 'sending'",
            (state.value, error, None if retry_at is None else db_time(retry_at),
             db_time(now), state.value, db_time(now), message_id),
        )
        return state

    async def mark_sending_unconfirmed(self, now: datetime) -> list[OutboxMessage]:
        """Messages a stopped server left mid-send: whether they arrived is unknown. One
        a change had withdrawn meanwhile is simply withdrawn: nobody should send it again."""
        await self._execute(
            "UPDATE outbox SET state = 'withdrawn', updated_at = ?"
            " WHERE state = 'sending' AND withdrawn_at IS NOT NULL", (db_time(now),))
        rows = await self._fetchall("SELECT id FROM outbox WHERE state = 'sending' ORDER BY id")
        await self._execute(
            "UPDATE outbox SET state = 'unconfirmed', last_error = 'interrupted',"
            " updated_at = ? WHERE state = 'sending'",
            (db_time(now),),
        )
        found = [await self.get_message(row["id"]) for row in rows]
        return [m for m in found if m is not None]
    # -- staff calendar feeds ------------------------------------------------

    async def replace_calendar_feed(self, staff_id: int, secret_hash: str,
                                    now: datetime) -> None:
        """The staff member's one feed now has this secret; an earlier one stops."""
        await self._execute(
            "INSERT INTO calendar_feeds (staff_id, secret_hash, created_at) VALUES (?, ?, ?)"
            " ON CONFLICT (staff_id) DO UPDATE SET secret_hash = excluded.secret_hash,"
            " created_at = excluded.created_at, read_logged_at = NULL",
            (staff_id, secret_hash, db_time(now)),
        )

    async def delete_calendar_feed(self, staff_id: int) -> bool:
        cursor = await self._execute(
            "DELETE FROM calendar_feeds WHERE staff_id = ?", (staff_id,)
        )
        return cursor.rowcount > 0

    async def mark_calendar_feed_read(self, staff_id: int, secret_hash: str,
                                      now: datetime, since: datetime) -> bool:
        """Notes a read if none was logged since ``since``; true when this one is to be
        logged (the check and the mark are one statement, so two readers cannot both win)."""
        cursor = await self._execute(
            "UPDATE calendar_feeds SET read_logged_at = ? WHERE staff_id = ?"
            " AND secret_hash = ? AND (read_logged_at IS NULL OR read_logged_at <= ?)",
            (db_time(now), staff_id, secret_hash, db_time(since)),
        )
        return cursor.rowcount > 0

    # -- lines -------------------------------------------------------------------

    async def create_line(self, fields: Mapping[str, Any], now: datetime) -> int:
        """A new line from its columns (slug, name, kind, modes, limits); Conflict when
        the slug is taken."""
        columns = sorted(fields)
        try:
            cursor = await self._execute(
                f"INSERT INTO lines ({', '.join(columns)}, created_at, updated_at)"  # noqa: S608
                f" VALUES ({', '.join('?' * len(columns))}, ?, ?)",
                [*(fields[c] for c in columns), db_time(now), db_time(now)],
            )
        except sqlite3.IntegrityError as exc:
            if "UNIQUE" not in str(exc):
                raise  # any other broken rule is a bug, never a taken slug
            raise Conflict("slug taken") from exc
        assert cursor.lastrowid is not None
        return cursor.lastrowid

    async def update_line(self, line_id: int, fields: Mapping[str, Any], now: datetime) -> None:
        columns = sorted(fields)
        try:
            await self._execute(
                f"UPDATE lines SET {''.join(f'{c} = ?, ' for c in columns)}"  # noqa: S608
                "updated_at = ? WHERE id = ?",
                [*(fields[c] for c in columns), db_time(now), line_id],
            )
        except sqlite3.IntegrityError as exc:
            if "UNIQUE" not in str(exc):
                raise  # any other broken rule is a bug, never a taken slug
            raise Conflict("slug taken") from exc

    async def deactivate_line(self, line_id: int, now: datetime) -> bool:
        """False when it was inactive already; its rows stay."""
        cursor = await self._execute(
            "UPDATE lines SET active = 0, updated_at = ? WHERE id = ? AND active = 1",
            (db_time(now), line_id),
        )
        return cursor.rowcount == 1

    async def set_line_staff(self, line_id: int, staff_ids: Iterable[int]) -> None:
        await self._execute("DELETE FROM line_staff WHERE line_id = ?", (line_id,))
        await self._conn.executemany(
            "INSERT INTO line_staff (line_id, staff_id) VALUES (?, ?)",
            [(line_id, s) for s in sorted(set(staff_ids))],
        )

    async def replace_line_hours(self, line_id: int, hours: Iterable[LineHours]) -> None:
        await self._execute("DELETE FROM line_hours WHERE line_id = ?", (line_id,))
        await self._conn.executemany(
            "INSERT INTO line_hours (line_id, weekday, opens, closes) VALUES (?, ?, ?, ?)",
            [(line_id, h.weekday, h.opens.strftime("%H:%M"), h.closes.strftime("%H:%M"))
             for h in hours],
        )

    async def replace_line_closures(self, line_id: int,
                                    closures: Iterable[LineClosure]) -> None:
        await self._execute("DELETE FROM line_closures WHERE line_id = ?", (line_id,))
        await self._conn.executemany(
            "INSERT INTO line_closures (line_id, starts_on, ends_on, note) VALUES (?, ?, ?, ?)",
            [(line_id, c.starts_on.isoformat(), c.ends_on.isoformat(), c.note)
             for c in closures],
        )

    async def add_enrolment(
        self, *, line_id: int, family_name: str, language: Language,
        staff_ids: Iterable[int], secret_hash: str, created_by: int, now: datetime,
    ) -> int:
        """Only the hash of the link's secret is stored."""
        cursor = await self._execute(
            "INSERT INTO line_enrolments (line_id, family_name, language, secret_hash,"
            " created_at, created_by) VALUES (?, ?, ?, ?, ?, ?)",
            (line_id, family_name, language.value, secret_hash, db_time(now), created_by),
        )
        enrolment_id = cursor.lastrowid
        assert enrolment_id is not None
        await self._conn.executemany(
            "INSERT INTO line_enrolment_staff (enrolment_id, staff_id) VALUES (?, ?)",
            [(enrolment_id, s) for s in sorted(set(staff_ids))],
        )
        return enrolment_id

    async def revoke_enrolment(self, enrolment_id: int, now: datetime) -> bool:
        """False when it was revoked already."""
        cursor = await self._execute(
            "UPDATE line_enrolments SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL",
            (db_time(now), enrolment_id),
        )
        return cursor.rowcount == 1

    async def touch_enrolment(self, enrolment_id: int, at: datetime) -> None:
        await self._execute(
            "UPDATE line_enrolments SET last_used_at = ? WHERE id = ?",
            (db_time(at), enrolment_id),
        )

    async def add_line_callback(
        self, enrolment_id: int, line_id: int, at: datetime
    ) -> tuple[LineCallback, bool]:
        """The enrolment's open call-back, added now if it had none; true when added. A
        partial unique index keeps it to one open call-back per enrolment."""
        cursor = await self._execute(
            "INSERT INTO line_callbacks (line_id, enrolment_id, requested_at) VALUES (?, ?, ?)"
            " ON CONFLICT (enrolment_id) WHERE done_at IS NULL DO NOTHING",
            (line_id, enrolment_id, db_time(at)),
        )
        row = await self._fetchone(
            f"{self._CALLBACK_SELECT} WHERE c.enrolment_id = ? AND c.done_at IS NULL",
            (enrolment_id,),
        )
        assert row is not None
        return self._line_callback(row), cursor.rowcount == 1

    async def finish_line_callback(self, callback_id: int, staff_id: int,
                                   now: datetime) -> bool:
        """Marks it done; false when it was done already (the first one's mark stays)."""
        cursor = await self._execute(
            "UPDATE line_callbacks SET done_at = ?, done_by = ? WHERE id = ? AND done_at IS NULL",
            (db_time(now), staff_id, callback_id),
        )
        return cursor.rowcount == 1

    async def save_line_stats(self, line_id: int, ewma_seconds: float, samples: int,
                              at: datetime) -> None:
        await self._execute(
            "INSERT INTO line_stats (line_id, ewma_seconds, samples, updated_at)"
            " VALUES (?, ?, ?, ?) ON CONFLICT (line_id) DO UPDATE SET"
            " ewma_seconds = excluded.ewma_seconds, samples = excluded.samples,"
            " updated_at = excluded.updated_at",
            (line_id, ewma_seconds, samples, db_time(at)),
        )

    async def save_queue_entry(self, entry: QueuedRow) -> None:
        """Insert or replace the person's row (a hand-over moves it to the front)."""
        await self._execute(
            "INSERT INTO line_queue_entries (ticket_hash, line_id, mode, joined_at,"
            " enrolment_id, staff_ids, front, nickname) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
            " ON CONFLICT (ticket_hash) DO UPDATE SET line_id = excluded.line_id,"
            " mode = excluded.mode, joined_at = excluded.joined_at,"
            " enrolment_id = excluded.enrolment_id, staff_ids = excluded.staff_ids,"
            " front = excluded.front, nickname = excluded.nickname",
            (
                entry.ticket_hash, entry.line_id, entry.mode, db_time(entry.joined_at),
                entry.enrolment_id, " ".join(str(s) for s in sorted(set(entry.staff_ids))),
                int(entry.front), entry.nickname,
            ),
        )

    async def delete_queue_entry(self, ticket_hash: str) -> None:
        await self._execute(
            "DELETE FROM line_queue_entries WHERE ticket_hash = ?", (ticket_hash,)
        )

    # -- retention: personal data past its period, and usage-log purges ----------

    async def strip_appointment(self, appointment_id: int, now: datetime) -> int | None:
        """Clear the names, contacts, booking texts and message addresses of one
        appointment and mark it; None if it was marked already. Returns how many
        participant rows were cleared. Times, kind, host, roles and languages stay."""
        row = await self._fetchone(
            "SELECT personal_data_removed_at FROM appointments WHERE id = ?", (appointment_id,)
        )
        if row is None or row["personal_data_removed_at"] is not None:
            return None
        cursor = await self._execute(
            "UPDATE participants SET display_name = '', contact = NULL WHERE appointment_id = ?",
            (appointment_id,),
        )
        await self._execute(
            "UPDATE outbox SET recipient = '',"
            " state = CASE WHEN state = 'pending' THEN 'withdrawn' ELSE state END"
            " WHERE appointment_id = ?"
            " OR booking_id IN (SELECT id FROM bookings WHERE appointment_id = ?)",
            (appointment_id, appointment_id),
        )
        await self._execute(
            "UPDATE bookings SET display_name = '', contact = '', topic = ''"
            " WHERE appointment_id = ?",
            (appointment_id,),
        )
        await self._execute(
            "UPDATE appointments SET personal_data_removed_at = ? WHERE id = ?",
            (db_time(now), appointment_id),
        )
        return cursor.rowcount

    async def strip_booking(self, booking_id: int) -> bool:
        """Clear a booking that never became an appointment; False if already clear."""
        cursor = await self._execute(
            "UPDATE bookings SET display_name = '', contact = '', topic = ''"
            " WHERE id = ? AND appointment_id IS NULL"
            " AND (display_name != '' OR contact != '' OR topic != '')",
            (booking_id,),
        )
        if cursor.rowcount != 1:
            return False
        await self._execute(
            "UPDATE outbox SET recipient = '',"
            " state = CASE WHEN state = 'pending' THEN 'withdrawn' ELSE state END"
            " WHERE booking_id = ?",
            (booking_id,),
        )
        return True

    async def strip_enrolment(self, enrolment_id: int) -> bool:
        """Replace a revoked family link's name; False if done already or not revoked."""
        cursor = await self._execute(
            "UPDATE line_enrolments SET family_name = ? WHERE id = ?"
            " AND revoked_at IS NOT NULL AND family_name != ?",
            (REMOVED_NAME, enrolment_id, REMOVED_NAME),
        )
        return cursor.rowcount == 1

    async def purge_audit_prefix(self, purge: AuditPurge) -> int:
        """Record the purge, then delete the rows before its ``first_id`` (the schema lets
        only a recorded prefix go). Returns the rows deleted."""
        await self._execute(
            "INSERT INTO audit_purges (at, first_id, prev_hash, removed, mac)"
            " VALUES (?, ?, ?, ?, ?)",
            (db_time(purge.at), purge.first_id, purge.prev_hash, purge.removed, purge.mac),
        )
        cursor = await self._execute("DELETE FROM audit_log WHERE id < ?", (purge.first_id,))
        return cursor.rowcount


    # -- organisation reports and travel distances ------------------------------

    async def set_appointment_travel(self, appointment_id: int, service_id: int | None,
                                     municipality: str | None, travel_km: float | None,
                                     travel_minutes: int | None) -> None:
        await self._execute(
            "UPDATE appointments SET service_id = ?, municipality = ?, travel_km = ?,"
            " travel_minutes = ? WHERE id = ?",
            (service_id, municipality, travel_km, travel_minutes, appointment_id),
        )

    async def replace_travel_distances(self, service_id: int,
                                       distances: Iterable[TravelDistance]) -> None:
        await self._execute("DELETE FROM travel_distances WHERE service_id = ?", (service_id,))
        await self._conn.executemany(
            "INSERT INTO travel_distances (service_id, municipality, km, minutes)"
            " VALUES (?, ?, ?, ?)",
            [(service_id, d.municipality, d.km, d.minutes) for d in distances],
        )


def _untimed(op: str, seconds: float) -> None:
    """``Database.timed`` until metrics are wired: nothing to count."""


class Snapshot(Reads):
    """Reads that all see one state of the file: one read transaction on a connection of
    its own (``Database.snapshot``). Writers, in this process or another, go on meanwhile;
    what they commit is not seen. For reads that must agree with each other across many
    statements, such as walking the usage log while a purge may delete its oldest rows."""

    def __init__(self, conn: aiosqlite.Connection) -> None:
        self._conn = conn

    async def _fetchall(self, sql: str, params: Sequence[Any] = ()) -> list[sqlite3.Row]:
        return list(await self._conn.execute_fetchall(sql, params))


class Database(Reads):
    def __init__(self, path: Path) -> None:
        self.path = path
        self._writer: aiosqlite.Connection | None = None
        self._reader: aiosqlite.Connection | None = None
        self._write_lock = asyncio.Lock()
        # The last write's fault, until a write succeeds again (for /readyz).
        self.write_fault: StorageError | None = None
        # -- metrics: how long reads and write transactions take (docs/metrics.md) --
        # Called with "read" or "write" and the seconds; a no-op until metrics are wired.
        self.timed: Callable[[str, float], None] = _untimed

    # -- lifecycle ---------------------------------------------------------

    async def open(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        if not self.path.exists():
            # Client data: readable by Kota's own user only (SQLite copies the mode to -wal).
            os.close(os.open(self.path, os.O_WRONLY | os.O_CREAT, 0o600))
        try:
            self._writer = await self._connect()
            await self._pragma(self._writer, "journal_mode=WAL")
            self._reader = await self._connect()
        except BaseException:
            await self.close()
            raise

    @staticmethod
    async def _pragma(conn: aiosqlite.Connection, setting: str) -> None:
        # The cursor must be drained and closed, or its statement keeps the file locked.
        async with conn.execute(f"PRAGMA {setting}") as cursor:
            await cursor.fetchall()

    async def _connect(self) -> aiosqlite.Connection:
        conn = await aiosqlite.connect(self.path, isolation_level=None)
        conn.row_factory = sqlite3.Row
        # secure_delete: deleted or overwritten text is zeroed, not left in free space
        # (retention, docs/audit.md).
        for setting in ("foreign_keys=ON", "busy_timeout=5000", "synchronous=NORMAL",
                        "secure_delete=ON"):
            await self._pragma(conn, setting)
        return conn

    async def close(self) -> None:
        for conn in (self._reader, self._writer):
            if conn is not None:
                await conn.close()
        self._reader = self._writer = None

    @property
    def _w(self) -> aiosqlite.Connection:
        if self._writer is None:
            raise RuntimeError("database is not open")
        return self._writer

    @property
    def _r(self) -> aiosqlite.Connection:
        if self._reader is None:
            raise RuntimeError("database is not open")
        return self._reader

    @contextlib.asynccontextmanager
    async def transaction(self) -> AsyncIterator[Tx]:
        """One serialised write transaction: ``BEGIN IMMEDIATE`` takes the write lock
        before the first read, so a check made inside holds until the commit."""
        async with self._write_lock:
            try:
                started = perf_counter()
                await self._exec(self._w, "BEGIN IMMEDIATE")
                tx = Tx(self._w)
                yield tx
                await self._exec(self._w, "COMMIT")
                self.timed("write", perf_counter() - started)
            except BaseException as exc:
                # Also after a cancellation that landed while BEGIN or COMMIT ran.
                if self._w.in_transaction:
                    await asyncio.shield(self._rollback())
                fault = storage_error(exc)
                if fault is not None:
                    self.write_fault = fault
                    logger.error("db.write_failed", extra={"fault": type(fault).__name__})
                    raise fault from exc
                raise
            self.write_fault = None
        for callback in tx._after_commit:
            callback()

    async def _rollback(self) -> None:
        try:
            await self._exec(self._w, "ROLLBACK")
        except sqlite3.Error:
            # SQLite may already have rolled back (a full disk does that); nothing is kept.
            logger.warning("db.rollback_failed")

    @contextlib.asynccontextmanager
    async def snapshot(self) -> AsyncIterator[Snapshot]:
        """Reads from one state of the file until the block ends (a WAL read transaction,
        pinned by its first read here); the shared read connection is left alone."""
        conn = await self._connect()
        try:
            await self._exec(conn, "BEGIN")
            await self._exec(conn, "SELECT COUNT(*) FROM sqlite_schema")
            yield Snapshot(conn)
        finally:
            await conn.close()  # ends the read transaction: nothing was written

    async def probe_write(self) -> None:
        """A real write that changes nothing, to learn whether writes work again."""
        async with self.transaction():
            version = await self.schema_version()
            await self._exec(self._w, f"PRAGMA user_version = {int(version)}")

    @staticmethod
    async def _exec(conn: aiosqlite.Connection, sql: str) -> None:
        async with conn.execute(sql):
            pass

    async def _fetchall(self, sql: str, params: Sequence[Any] = ()) -> list[sqlite3.Row]:
        # One trip to the connection's thread, not three (execute, fetch, close).
        started = perf_counter()
        rows = list(await self._r.execute_fetchall(sql, params))
        self.timed("read", perf_counter() - started)
        return rows

    # -- metrics: the outbox's backlog (docs/metrics.md) ---------------------

    async def count_outbox_by_state(self) -> dict[str, int]:
        """Outbox messages per state, one indexed count (``outbox_due`` leads with state)."""
        rows = await self._fetchall("SELECT state, COUNT(*) AS n FROM outbox GROUP BY state")
        return {str(row["state"]): int(row["n"]) for row in rows}

    # -- migrations --------------------------------------------------------

    async def schema_version(self) -> int:
        async with self._w.execute("PRAGMA user_version") as cursor:
            row = await cursor.fetchone()
        return int(row[0]) if row else 0

    async def migrate(self) -> list[int]:
        """Apply pending migrations, one transaction each; return the versions applied."""
        applied = []
        async with self._write_lock:
            current = await self.schema_version()
            for migration in load_migrations():
                if migration.version <= current:
                    continue
                script = (
                    f"BEGIN IMMEDIATE;\n{migration.sql}\n"
                    f"PRAGMA user_version = {migration.version};\nCOMMIT;"
                )
                try:
                    await self._w.executescript(script)
                except sqlite3.Error:
                    if self._w.in_transaction:
                        await self._exec(self._w, "ROLLBACK")
                    raise
                logger.info("db.migrated", extra={"version": migration.version})
                applied.append(migration.version)
        return applied

    # -- retention: no removed text left in the write-ahead log ---------------------

    async def truncate_wal(self) -> None:
        """Copy the write-ahead log into the file and cut it to zero bytes, so that old
        page images (holding text since removed) do not linger there."""
        async with self._write_lock:
            await self._pragma(self._w, "wal_checkpoint(TRUNCATE)")

    async def ping(self) -> None:
        await self._fetchone("SELECT 1")

"""The usage log required by client-data law: who did what, when; never content.

Rows are append-only (the schema refuses UPDATE and DELETE) and hash-chained,
keyed with a key kept outside the database (``audit_chain.py``), so that a row
changed or removed behind Kota's back is found by ``kota audit verify``.
HTTP handlers await ``record`` so the row is durable before they answer; the
call side uses ``post``, which never waits on the database, and a writer task
flushes posted rows in batches.
"""

from __future__ import annotations

import asyncio
import contextlib
import csv
import enum
import io
import json
import logging
import os
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from server.db import (
    Database,
    NewAuditEntry,
    RowHasher,
    Tx,
    db_time,
    parse_db_time,
)
from server.records import AuditRow

logger = logging.getLogger(__name__)

_CODE = re.compile(r"^[a-z0-9_.:-]{1,64}$")

Detail = Mapping[str, int | float | str | bool]


class Action(enum.StrEnum):
    """Usage-log actions on the HTTP side; each is listed in docs/audit.md."""

    STAFF_LOGIN = "staff.login"
    STAFF_LOGIN_FAILED = "staff.login_failed"
    STAFF_LOGOUT = "staff.logout"
    STAFF_CREATED = "staff.created"
    STAFF_PASSWORD_SET = "staff.password_set"  # noqa: S105
    APPOINTMENT_CREATED = "appointment.created"
    APPOINTMENT_LISTED = "appointment.listed"
    APPOINTMENT_READ = "appointment.read"
    APPOINTMENT_UPDATED = "appointment.updated"
    APPOINTMENT_CANCELLED = "appointment.cancelled"
    SESSION_REOPENED = "session.reopened"
    PARTICIPANT_ADDED = "participant.added"
    PARTICIPANT_REMOVED = "participant.removed"
    PARTICIPANT_DELIVERY_CHANGED = "participant.delivery_changed"
    LINK_ISSUED = "link.issued"
    LINK_READ = "link.read"
    LINK_OPENED = "link.opened"
    LINK_REFUSED = "link.refused"
    LINK_REVOKED = "link.revoked"
    AUDIT_EXPORTED = "audit.exported"
    CONNECTION_TEST_COMPLETED = "connection_test.completed"
    SERVER_LOST = "server.lost"
    BOOKING_HELD = "booking.held"
    BOOKING_CONFIRMED = "booking.confirmed"
    BOOKING_MOVED = "booking.moved"
    BOOKING_CANCELLED = "booking.cancelled"
    BOOKING_EXPIRED = "booking.expired"
    SERVICE_CREATED = "service.created"
    SERVICE_UPDATED = "service.updated"
    SERVICE_HOURS_SET = "service.hours_set"
    SERVICE_CLOSURE_ADDED = "service.closure_added"
    SERVICE_CLOSURE_REMOVED = "service.closure_removed"
    MESSAGE_SENT = "message.sent"
    MESSAGE_FAILED = "message.failed"
    MESSAGE_UNCONFIRMED = "message.unconfirmed"
    MESSAGE_RESENT = "message.resent"
    CALENDAR_FEED_CREATED = "calendar_feed.created"
    CALENDAR_FEED_REVOKED = "calendar_feed.revoked"
    CALENDAR_FEED_READ = "calendar_feed.read"
    LINE_CREATED = "line.created"
    LINE_UPDATED = "line.updated"
    LINE_DEACTIVATED = "line.deactivated"
    LINE_ENROLLED = "line.enrolled"
    LINE_ENROLMENT_REVOKED = "line.enrolment_revoked"
    LINE_CALLBACK_DONE = "line.callback_done"
    # -- access reports (client-data law 703/2023, section 11) --
    ACCESS_REPORT_READ = "access_report.read"
    ACCESS_REPORT_PRODUCED = "access_report.produced"
    # -- organisation reports
    SERVICE_TRAVEL_SET = "service.travel_set"
    REPORT_READ = "report.read"
    # Retention (docs/audit.md, "Retention")
    RETENTION_PERSONAL_DATA_REMOVED = "retention.personal_data_removed"
    AUDIT_PURGED = "audit.purged"


class ActorKind(enum.StrEnum):
    STAFF = "staff"
    PARTICIPANT = "participant"
    SYSTEM = "system"


@dataclass(frozen=True)
class Actor:
    kind: ActorKind
    id: int | None

    @classmethod
    def staff(cls, staff_id: int) -> Actor:
        return cls(ActorKind.STAFF, staff_id)

    @classmethod
    def participant(cls, participant_id: int) -> Actor:
        return cls(ActorKind.PARTICIPANT, participant_id)


SYSTEM = Actor(ActorKind.SYSTEM, None)


def encode_detail(detail: Detail | None) -> str:
    """Numbers and short codes only, so that no free text can reach the log."""
    if not detail:
        return ""
    for key, value in detail.items():
        if not _CODE.match(key):
            raise ValueError(f"usage-log detail key {key!r} is not a code")
        if isinstance(value, str) and not _CODE.match(value):
            raise ValueError(f"usage-log detail {key!r} is not a code")
    return json.dumps(dict(detail), sort_keys=True, separators=(",", ":"))


CSV_COLUMNS = (
    "id",
    "at",
    "actor_kind",
    "actor_id",
    "action",
    "appointment_id",
    "subject_id",
    "detail",
    "prev_hash",
    "hash",
)


def csv_header() -> str:
    out = io.StringIO()
    csv.writer(out).writerow(CSV_COLUMNS)
    return out.getvalue()


def csv_line(row: AuditRow) -> str:
    out = io.StringIO()
    csv.writer(out).writerow(
        [
            row.id,
            db_time(row.at),
            row.actor_kind,
            "" if row.actor_id is None else row.actor_id,
            row.action,
            "" if row.appointment_id is None else row.appointment_id,
            "" if row.subject_id is None else row.subject_id,
            row.detail,
            row.prev_hash,
            row.hash,
        ]
    )
    return out.getvalue()


# After a failed write the writer tries again this soon, doubling up to the cap.
RETRY_FIRST_SECONDS = 0.2
RETRY_MAX_SECONDS = 5.0
# At shutdown the last rows get this long to reach the database before they are spooled.
STOP_DEADLINE_SECONDS = 5.0


class AuditLog:
    """Appends usage-log rows; see the module docstring for the two paths.

    Queued rows are never dropped: a failed write puts its batch back at the front and
    the writer tries again with back-off; rows still unwritten at shutdown go to a spool
    file that the next start writes first. A crash loses at most the rows queued in
    the last ``flush_interval`` (docs/audit.md).
    """

    def __init__(
        self,
        db: Database,
        clock: Callable[[], datetime],
        chain: RowHasher,
        flush_interval: float = 0.2,
        spool_path: Path | None = None,
    ) -> None:
        self._db = db
        self._clock = clock
        self._chain = chain
        self._pending: list[NewAuditEntry] = []
        self._flushing = asyncio.Lock()
        self._wake = asyncio.Event()
        self._flush_interval = flush_interval
        self._spool_path = spool_path
        self._task: asyncio.Task[None] | None = None
        self._stop = asyncio.Event()

    @property
    def pending(self) -> int:
        """Rows queued and not yet stored."""
        return len(self._pending)

    def _entry(
        self,
        actor: Actor,
        action: str,
        appointment_id: int | None,
        subject_id: int | None,
        detail: Detail | None,
        at: datetime | None,
    ) -> NewAuditEntry:
        return NewAuditEntry(
            at=at or self._clock(),
            actor_kind=actor.kind.value,
            actor_id=actor.id,
            action=str(action),
            appointment_id=appointment_id,
            subject_id=subject_id,
            detail=encode_detail(detail),
        )

    async def record(
        self,
        actor: Actor,
        action: str,
        appointment_id: int | None = None,
        subject_id: int | None = None,
        detail: Detail | None = None,
        *,
        tx: Tx | None = None,
    ) -> None:
        """Write one row in ``tx`` (committed with the change it logs), else on its own."""
        entry = self._entry(actor, action, appointment_id, subject_id, detail, None)
        if tx is not None:
            await tx.append_audit_rows([entry], self._chain)
            return
        async with self._db.transaction() as own:
            await own.append_audit_rows([entry], self._chain)

    def post(
        self,
        actor: Actor,
        action: str,
        appointment_id: int | None = None,
        subject_id: int | None = None,
        detail: Detail | None = None,
        at: datetime | None = None,
    ) -> None:
        """Queue one row without touching the database; the writer task stores it."""
        self._pending.append(self._entry(actor, action, appointment_id, subject_id, detail, at))
        self._wake.set()

    async def flush(self) -> None:
        """Write every row queued so far; returns once they are stored (also those a
        flush already under way was writing), so a reader sees them next."""
        async with self._flushing:
            batch, self._pending = self._pending, []
            if batch:
                try:
                    async with self._db.transaction() as tx:
                        await tx.append_audit_rows(batch, self._chain)
                except BaseException:
                    self._pending[:0] = batch  # keep the rows; try again on the next flush
                    raise

    async def _run(self) -> None:
        retry = RETRY_FIRST_SECONDS
        while not self._stop.is_set():
            await self._wake.wait()
            self._wake.clear()
            pause = self._flush_interval
            try:
                await self.flush()
                retry = RETRY_FIRST_SECONDS
            except Exception:
                logger.exception("audit.flush_failed", extra={"pending": len(self._pending)})
                self._wake.set()  # the rows are still queued: try again after a pause
                pause, retry = retry, min(retry * 2, RETRY_MAX_SECONDS)
            with contextlib.suppress(TimeoutError):  # a pause between batches, cut short by stop
                await asyncio.wait_for(self._stop.wait(), pause)

    async def start(self) -> None:
        """Store rows a previous run spooled at shutdown, then start the writer."""
        await self._import_spool()
        self._task = asyncio.create_task(self._run(), name="audit-writer")

    async def stop(self) -> None:
        """Ends the writer between batches, never mid-write (a cancelled write would lose
        its rows and could leave the transaction open), then writes what is left."""
        if self._task is not None:
            self._stop.set()
            self._wake.set()
            await self._task
            self._task = None
        deadline = time.monotonic() + STOP_DEADLINE_SECONDS
        retry = RETRY_FIRST_SECONDS
        while self._pending:
            try:
                await self.flush()
            except Exception:
                if time.monotonic() + retry > deadline:
                    self._spool()
                    return
                await asyncio.sleep(retry)
                retry = min(retry * 2, RETRY_MAX_SECONDS)

    def _spool(self) -> None:
        """Rows the database would not take at shutdown: to the spool file, else the log."""
        rows = [json.dumps(_entry_json(entry)) for entry in self._pending]
        if self._spool_path is not None:
            try:
                fd = os.open(self._spool_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
                with os.fdopen(fd, "a") as spool:
                    spool.write("".join(f"{row}\n" for row in rows))
                    spool.flush()
                    os.fsync(spool.fileno())
                logger.error("audit.spooled", extra={"rows": len(rows)})
                self._pending = []
                return
            except OSError:
                logger.exception("audit.spool_failed")
        # Ids and codes only (never content), so the log may carry them as a last resort.
        for row in rows:
            logger.error("audit.unwritten", extra={"row": row})
        self._pending = []

    async def _import_spool(self) -> None:
        if self._spool_path is None or not self._spool_path.exists():
            return
        entries = [
            _entry_from_json(json.loads(line))
            for line in self._spool_path.read_text().splitlines()
            if line.strip()
        ]
        async with self._db.transaction() as tx:
            await tx.append_audit_rows(entries, self._chain)
        self._spool_path.unlink()
        logger.info("audit.spool_imported", extra={"rows": len(entries)})


def _entry_json(entry: NewAuditEntry) -> dict[str, str | int | None]:
    return {
        "at": db_time(entry.at),
        "actor_kind": entry.actor_kind,
        "actor_id": entry.actor_id,
        "action": entry.action,
        "appointment_id": entry.appointment_id,
        "subject_id": entry.subject_id,
        "detail": entry.detail,
    }


def _entry_from_json(data: dict[str, Any]) -> NewAuditEntry:
    return NewAuditEntry(
        at=parse_db_time(data["at"]),
        actor_kind=str(data["actor_kind"]),
        actor_id=data["actor_id"],
        action=str(data["action"]),
        appointment_id=data["appointment_id"],
        subject_id=data["subject_id"],
        detail=str(data["detail"]),
    )

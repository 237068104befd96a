"""Removing the personal data of past appointments once the retention period is over.

What goes: participants' names and contacts, bookings' names, contacts and topics, the
addresses messages went to, and the names of families' line links revoked that long
ago. What stays, as anonymous statistics: the appointments (times, kind, host, service),
participant rows (role, language, times), join links and every usage-log row. Each
object is one transaction with its ``retention.personal_data_removed`` row; the server
runs this at start and daily, ``kota retention run`` at once (docs/audit.md).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from server.audit import SYSTEM, Action, AuditLog
from server.db import Database
from server.periodic import Periodic

logger = logging.getLogger(__name__)

# Objects per read; each is still its own transaction, and the loop yields between them.
BATCH = 50
# The server's sweep: at start, then this often.
SWEEP_SECONDS = 24 * 3600.0


@dataclass
class RemovalTally:
    appointments: int = 0
    participants: int = 0
    bookings: int = 0
    enrolments: int = 0
    skipped_live: int = 0

    def text(self) -> str:
        return (f"removed the personal data of {self.appointments} appointments "
                f"({self.participants} participants), {self.bookings} bookings never "
                f"confirmed and {self.enrolments} revoked family links")


class PersonalDataRemoval:
    """One pass removes everything due; ``start`` runs passes at start and daily."""

    def __init__(
        self,
        db: Database,
        audit: AuditLog,
        clock: Callable[[], datetime],
        period: timedelta,
        is_live: Callable[[int], bool] = lambda _appointment_id: False,
        interval: float = SWEEP_SECONDS,
    ) -> None:
        self._db = db
        self._audit = audit
        self._clock = clock
        self._period = period
        self._is_live = is_live
        self._lock = asyncio.Lock()
        self._sweep = Periodic("retention.sweep", self.run, interval)

    async def run(self) -> RemovalTally:
        """Remove everything past the period now; safe to run again (idempotent)."""
        async with self._lock:
            tally = RemovalTally()
            cutoff = self._clock() - self._period
            await self._appointments(cutoff, tally)
            await self._bookings(cutoff, tally)
            await self._enrolments(cutoff, tally)
            await self._db.truncate_wal()
            if tally.appointments or tally.bookings or tally.enrolments:
                logger.info("retention.removed", extra={
                    "appointments": tally.appointments, "participants": tally.participants,
                    "bookings": tally.bookings, "enrolments": tally.enrolments})
            return tally

    async def _appointments(self, cutoff: datetime, tally: RemovalTally) -> None:
        skipped: set[int] = set()
        while True:
            due = [i for i in await self._db.list_appointments_to_strip(
                cutoff, BATCH + len(skipped)) if i not in skipped]
            if not due:
                return
            for appointment_id in due:
                if self._is_live(appointment_id):
                    skipped.add(appointment_id)  # a call still running: the next pass
                    tally.skipped_live += 1
                    continue
                async with self._db.transaction() as tx:
                    count = await tx.strip_appointment(appointment_id, self._clock())
                    if count is not None:
                        await self._audit.record(
                            SYSTEM, Action.RETENTION_PERSONAL_DATA_REMOVED, appointment_id,
                            detail={"participants": count}, tx=tx)
                if count is not None:
                    tally.appointments += 1
                    tally.participants += count
                await asyncio.sleep(0)  # let requests in between
            await self._db.truncate_wal()

    async def _bookings(self, cutoff: datetime, tally: RemovalTally) -> None:
        while due := await self._db.list_bookings_to_strip(cutoff, BATCH):
            for booking_id in due:
                async with self._db.transaction() as tx:
                    done = await tx.strip_booking(booking_id)
                    if done:
                        await self._audit.record(
                            SYSTEM, Action.RETENTION_PERSONAL_DATA_REMOVED,
                            detail={"booking": booking_id}, tx=tx)
                tally.bookings += done
                await asyncio.sleep(0)

    async def _enrolments(self, cutoff: datetime, tally: RemovalTally) -> None:
        while due := await self._db.list_enrolments_to_strip(cutoff, BATCH):
            for enrolment_id, line_id in due:
                async with self._db.transaction() as tx:
                    done = await tx.strip_enrolment(enrolment_id)
                    if done:
                        await self._audit.record(
                            SYSTEM, Action.RETENTION_PERSONAL_DATA_REMOVED,
                            detail={"line": line_id, "enrolment": enrolment_id}, tx=tx)
                tally.enrolments += done
                await asyncio.sleep(0)

    # -- the server's daily sweep ------------------------------------------------

    def start(self) -> None:
        self._sweep.start()

    async def stop(self) -> None:
        """Cancels between objects or mid-transaction (rolled back whole)."""
        await self._sweep.stop()

"""Settling the organisation report's facts of appointments whose call is over.

A day after an appointment ended (and once every spell in its call has ended) its figures can
no longer change: the participants by link who joined, their connected time, the waits
of its admissions and its marks (test verdicts, sound-only switches) are stored in
``report_facts``, counted exactly as the report counts them from the rows. A year's
report then reads one row per appointment instead of its call rows, and the figures
outlive the usage-log purge (``kota audit purge`` settles first). Anonymous numbers only.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime, timedelta
from typing import Final

from server.db import Database
from server.organisation_report import (
    PARTICIPANT_ACTIONS,
    WAITING_ACTIONS,
    facts_to_settle,
    rows_to_read,
)

logger = logging.getLogger(__name__)

# Past every join window and reconnect grace: a call over a day ago gets no new rows.
SETTLE_AFTER: Final = timedelta(days=1)
BATCH: Final = 1000
SWEEP_SECONDS: Final = 3600.0  # the server's run (server/app.py), at start and hourly


async def settle_report_facts(db: Database, now: datetime, *, batch: int = BATCH) -> int:
    """Stores the facts of every appointment that ended over ``SETTLE_AFTER`` ago and is
    not stored yet, one transaction per batch; returns how many were stored. Someone
    still in a call (an open spell) leaves that appointment for a later run."""
    ended_before = now - SETTLE_AFTER
    stored = 0
    after = 0
    while ids := await db.list_appointments_to_settle(ended_before, after, batch):
        after = ids[-1]
        people = await db.list_report_people_of(ids)
        lost = await db.list_server_lost_rows(0)
        with_calls, with_waits = rows_to_read(people, lost)
        rows = [*await db.list_report_rows_of(with_calls, PARTICIPANT_ACTIONS,
                                              participants_only=True),
                *await db.list_report_rows_of(with_waits, WAITING_ACTIONS)]
        marks = await db.list_report_marks_of(ids)
        facts = facts_to_settle(ids, people, rows, marks, lost, now)
        async with db.transaction() as tx:
            stored += await tx.save_report_facts(facts, ended_before, now)
        await asyncio.sleep(0)  # let requests in between batches
    if stored:
        logger.info("report.settled", extra={"appointments": stored})
    return stored

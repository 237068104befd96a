"""LineCallbacks: the call-backs families of personal lines asked for (a flag with the
time, never any text), as their professionals see and clear them. The request itself
comes over the line socket (``Tx.add_line_callback``, one open per family)."""

from __future__ import annotations

from datetime import datetime

from server.audit import Action, Actor, AuditLog
from server.db import Database
from server.errors import NotFound
from server.line_enrolments import line_for
from server.records import LineCallback, Staff


class LineCallbacks:
    def __init__(self, db: Database, audit: AuditLog) -> None:
        self.db = db
        self.audit = audit

    async def list_open(self, staff: Staff, line_id: int) -> list[LineCallback]:
        await line_for(self.db, staff, line_id)
        return await self.db.list_open_callbacks([line_id])

    async def mark_done(self, staff: Staff, line_id: int, callback_id: int,
                        now: datetime) -> LineCallback:
        """Idempotent: a second mark (a double click, two colleagues) keeps the first
        one's time and name and writes no second usage-log row."""
        async with self.db.transaction() as tx:
            await line_for(tx, staff, line_id)
            callback = await tx.get_line_callback(callback_id)
            if callback is None or callback.line_id != line_id:
                raise NotFound("callback_not_found", "No such call-back on this line.")
            if await tx.finish_line_callback(callback_id, staff.id, now):
                await self.audit.record(
                    Actor.staff(staff.id), Action.LINE_CALLBACK_DONE,
                    detail={"line": line_id, "enrolment": callback.enrolment_id}, tx=tx)
                callback = await tx.get_line_callback(callback_id)
                assert callback is not None
            return callback

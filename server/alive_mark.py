"""AliveMark: when this server was last seen alive, kept so a crash can be dated.

Every ``interval`` seconds one tiny row records the time; a clean shutdown marks it
clean. At start, a previous run that did not stop cleanly is logged as ``server.lost``
at its last mark, and attendance ends every call spell still open there
(``attendance.py``), so an outage is never counted as time in the call. Precision: the
interval (``KOTA_ALIVE_MARK_SECONDS``); the time between the last mark and the crash is
not counted either.

The mark is the only evidence of a crash, so it moves on only once ``server.lost`` is
stored (a start killed at once must not lose the first crash), and it says "clean" only
once the usage-log rows posted before it are stored (a stop killed half-way must not
claim the shutdown's ``call.disconnected`` rows that never reached the file).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from datetime import datetime

from server.audit import SYSTEM, Action, AuditLog
from server.db import Database

logger = logging.getLogger(__name__)


class AliveMark:
    def __init__(self, db: Database, audit: AuditLog, clock: Callable[[], datetime],
                 interval: float) -> None:
        self._db = db
        self._audit = audit
        self._clock = clock
        self._interval = interval
        self._started = clock()
        self._stop = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        previous = await self._db.get_server_alive()
        if previous is not None and not previous.clean:
            self._audit.post(SYSTEM, Action.SERVER_LOST, at=previous.alive_at)
            logger.warning("server.previous_run_lost",
                           extra={"last_alive": previous.alive_at.isoformat()})
            await self._audit.flush()  # stored before the mark that dates it is replaced
        await self._mark(clean=False)
        self._task = asyncio.create_task(self._run(), name="alive-mark")

    async def _mark(self, *, clean: bool) -> None:
        async with self._db.transaction() as tx:
            await tx.mark_server_alive(self._started, self._clock(), clean)

    async def _run(self) -> None:
        while not self._stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop.wait(), self._interval)
            if self._stop.is_set():
                return
            try:
                await self._mark(clean=False)
            except Exception:
                logger.exception("server.alive_mark_failed")

    async def stop(self) -> None:
        """A clean stop: the next start has nothing to date. Call it after the rooms have
        closed; if their rows cannot be stored, the stop is not marked clean."""
        self._stop.set()
        if self._task is not None:
            await self._task
            self._task = None
        try:
            await self._audit.flush()
            await self._mark(clean=True)
        except Exception:
            logger.exception("server.alive_mark_failed")

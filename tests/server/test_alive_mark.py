"""AliveMark: a crash is dated in the usage log before its evidence is overwritten, and a
stop is marked clean only once the call rows before it are stored.

Real database and usage log. The log's writer task is never started, as if the process
died before it ran: whatever these tests find stored, AliveMark stored itself.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from server.alive_mark import AliveMark
from server.audit import Actor, AuditLog
from server.audit_chain import AuditChain, new_key
from server.db import Database, ServerAlive
from server.records import AuditRow

T0 = datetime(2026, 3, 3, 8, 0, tzinfo=UTC)
LAST_ALIVE = T0 + timedelta(minutes=30)
RESTART = LAST_ALIVE + timedelta(seconds=67)


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[Database]:
    opened = Database(tmp_path / "kota.sqlite3")
    await opened.open()
    await opened.migrate()
    try:
        yield opened
    finally:
        await opened.close()


def usage_log(db: Database) -> AuditLog:
    """A usage log whose writer is not running: rows posted to it stay queued."""
    return AuditLog(db, lambda: RESTART, AuditChain(new_key()))


async def stored(db: Database) -> list[AuditRow]:
    return [row async for row in db.iter_audit_rows()]


async def test_a_crashed_run_is_logged_at_its_last_mark_before_the_mark_moves_on(
    db: Database,
) -> None:
    async with db.transaction() as tx:  # the previous run: last marked, then killed
        await tx.mark_server_alive(T0, LAST_ALIVE, clean=False)
    alive = AliveMark(db, usage_log(db), lambda: RESTART, interval=60)
    await alive.start()
    try:
        assert [(r.action, r.at, r.actor_kind) for r in await stored(db)] == [
            ("server.lost", LAST_ALIVE, "system")]
        assert await db.get_server_alive() == ServerAlive(RESTART, RESTART, clean=False)
    finally:
        await alive.stop()


async def test_a_clean_stop_stores_the_rows_before_it_and_the_next_start_logs_nothing(
    db: Database,
) -> None:
    audit = usage_log(db)
    alive = AliveMark(db, audit, lambda: T0, interval=60)
    await alive.start()
    assert await stored(db) == []  # a first start ever has no previous run to date
    audit.post(Actor.staff(2), "call.disconnected", 7, detail={"reason": "server_shutdown"})
    await alive.stop()
    assert [r.action for r in await stored(db)] == ["call.disconnected"]
    assert await db.get_server_alive() == ServerAlive(T0, T0, clean=True)

    again = AliveMark(db, usage_log(db), lambda: RESTART, interval=60)
    await again.start()
    await again.stop()
    assert [r.action for r in await stored(db)] == ["call.disconnected"]

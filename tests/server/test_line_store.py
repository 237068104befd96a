"""Lines in the database: what other parts read and write through ``db.py``."""

from __future__ import annotations

import asyncio
import hashlib
import sqlite3
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, time, timedelta

import pytest

from server.db import Conflict, Database
from server.records import (
    Language,
    LineClosure,
    LineHours,
    LineKind,
    LineModes,
    QueuedRow,
)
from server.settings import Settings
from tests.conftest import Accounts

NOW = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)


def _hash(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


@pytest.fixture
async def db(settings: Settings, accounts: Accounts) -> AsyncIterator[Database]:
    database = Database(settings.db_path)
    await database.open()
    try:
        yield database
    finally:
        await database.close()


async def _line(db: Database, accounts: Accounts, slug: str = "perhe",
                kind: LineKind = LineKind.PERSONAL) -> int:
    async with db.transaction() as tx:
        line_id = await tx.create_line(
            {"slug": slug, "name": "Perheen linja", "kind": kind.value,
             "modes": LineModes.BOTH.value, "queue_cap": 20, "grace_minutes": 10,
             "callback_after_minutes": 5},
            NOW,
        )
        await tx.set_line_staff(line_id, [accounts.worker.id, accounts.specialist.id])
        await tx.replace_line_hours(line_id, [LineHours(0, time(8), time(16)),
                                              LineHours(2, time(12), time(18, 30))])
        await tx.replace_line_closures(
            line_id, [LineClosure(date(2026, 12, 24), date(2026, 12, 26), "Joulu")])
    return line_id


async def _enrol(db: Database, accounts: Accounts, line_id: int, secret: str) -> int:
    async with db.transaction() as tx:
        return await tx.add_enrolment(
            line_id=line_id, family_name="Virtaset", language=Language.FI,
            staff_ids=[accounts.worker.id], secret_hash=_hash(secret),
            created_by=accounts.worker.id, now=NOW,
        )


async def test_line_round_trip(db: Database, accounts: Accounts) -> None:
    line_id = await _line(db, accounts)
    line = await db.get_line(line_id)
    assert line is not None
    assert line.kind is LineKind.PERSONAL and line.modes is LineModes.BOTH
    assert line.staff_ids == tuple(sorted([accounts.worker.id, accounts.specialist.id]))
    assert line.hours == (LineHours(0, time(8), time(16)), LineHours(2, time(12), time(18, 30)))
    assert line.closures == (LineClosure(date(2026, 12, 24), date(2026, 12, 26), "Joulu"),)
    assert await db.get_line_by_slug("perhe") == line
    assert [x.id for x in await db.lines_for_staff(accounts.worker.id)] == [line_id]
    assert await db.lines_for_staff(accounts.outsider.id) == []
    async with db.transaction() as tx:
        assert await tx.deactivate_line(line_id, NOW)
        assert not await tx.deactivate_line(line_id, NOW)
    assert await db.lines_for_staff(accounts.worker.id) == []
    assert await db.list_lines(active_only=True) == []
    assert [x.id for x in await db.list_lines()] == [line_id]


async def test_taken_slug_is_a_conflict(db: Database, accounts: Accounts) -> None:
    await _line(db, accounts)
    with pytest.raises(Conflict):
        await _line(db, accounts)


async def test_enrolment_by_secret_hash_and_revoke(db: Database, accounts: Accounts) -> None:
    line_id = await _line(db, accounts)
    eid = await _enrol(db, accounts, line_id, "s3cret")
    found = await db.enrolment_by_secret_hash(_hash("s3cret"))
    assert found is not None and found.id == eid and found.staff_ids == (accounts.worker.id,)
    assert found.language is Language.FI and found.last_used_at is None
    async with db.transaction() as tx:
        await tx.touch_enrolment(eid, NOW + timedelta(hours=1))
        assert await tx.revoke_enrolment(eid, NOW)
        assert not await tx.revoke_enrolment(eid, NOW)
    assert await db.enrolment_by_secret_hash(_hash("s3cret")) is None
    revoked = await db.enrolment_by_secret_hash(_hash("s3cret"), include_revoked=True)
    assert revoked is not None and revoked.revoked_at == NOW
    stored = await db.get_enrolment(eid)
    assert stored is not None and stored.revoked_at == NOW
    assert stored.last_used_at == NOW + timedelta(hours=1)
    assert [e.id for e in await db.list_enrolments(line_id)] == [eid]


async def test_one_open_callback_per_enrolment(db: Database, accounts: Accounts,
                                               settings: Settings) -> None:
    line_id = await _line(db, accounts)
    eid = await _enrol(db, accounts, line_id, "a")

    async def ask(minutes: int) -> tuple[int, bool]:
        async with db.transaction() as tx:
            callback, added = await tx.add_line_callback(
                eid, line_id, NOW + timedelta(minutes=minutes))
            return callback.id, added

    results = await asyncio.gather(*(ask(m) for m in range(10)))
    assert sum(added for _, added in results) == 1
    assert len({cid for cid, _ in results}) == 1
    [open_] = await db.list_open_callbacks([line_id])
    assert open_.family_name == "Virtaset" and open_.requested_at == NOW
    async with db.transaction() as tx:
        assert await tx.finish_line_callback(open_.id, accounts.worker.id, NOW)
        assert not await tx.finish_line_callback(open_.id, accounts.specialist.id, NOW)
    done = await db.get_line_callback(open_.id)
    assert done is not None and done.done_by == accounts.worker.id
    assert await db.list_open_callbacks([line_id]) == []
    cid, added = await ask(30)
    assert added and cid != open_.id
    with sqlite3.connect(settings.db_path) as conn, pytest.raises(sqlite3.IntegrityError):
        conn.execute("INSERT INTO line_callbacks (line_id, enrolment_id, requested_at)"
                     " VALUES (?, ?, '2026-12-07T10:00:00Z')", (line_id, eid))


async def test_stats_and_queue_rows(db: Database, accounts: Accounts) -> None:
    line_id = await _line(db, accounts, kind=LineKind.PUBLIC)
    stats = await db.get_line_stats(line_id)
    assert (stats.ewma_seconds, stats.samples) == (None, 0)
    row = QueuedRow(_hash("t1"), line_id, "video", NOW, None, (3, 2), False, "Kettu")
    async with db.transaction() as tx:
        await tx.save_line_stats(line_id, 321.5, 4, NOW)
        await tx.save_queue_entry(row)
        await tx.save_queue_entry(
            QueuedRow(_hash("t2"), line_id, "chat", NOW - timedelta(minutes=1), None, (),
                      False, ""))
    stats = await db.get_line_stats(line_id)
    assert (stats.ewma_seconds, stats.samples) == (321.5, 4)
    rows = await db.list_queue_entries()
    assert [r.ticket_hash for r in rows] == [_hash("t2"), _hash("t1")]
    assert rows[1].staff_ids == (2, 3) and rows[1].nickname == "Kettu"
    async with db.transaction() as tx:
        await tx.save_queue_entry(QueuedRow(_hash("t1"), line_id, "video", NOW, None, (), True,
                                            "Kettu"))
        await tx.delete_queue_entry(_hash("t2"))
    [moved] = await db.list_queue_entries()
    assert moved.front and moved.staff_ids == ()

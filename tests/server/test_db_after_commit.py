"""``Tx.after_commit``: what waits for a transaction's rows (the outbox worker's wake-up)
runs once they are committed, once however often it was asked for, never after a
rollback."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from server.db import Database


@pytest.fixture
async def db(tmp_path: Path) -> Database:
    database = Database(tmp_path / "kota.sqlite3")
    await database.open()
    await database.migrate()
    return database


async def test_runs_after_the_commit_once_and_sees_the_rows(db: Database) -> None:
    seen: list[int] = []

    def count_staff() -> None:
        # A second connection: only committed rows are visible to it.
        with sqlite3.connect(db.path) as other:
            seen.append(other.execute("SELECT COUNT(*) FROM staff").fetchone()[0])

    async with db.transaction() as tx:
        await tx._execute(
            "INSERT INTO staff (username, display_name, role, password_hash, created_at)"
            " VALUES ('a', 'A', 'professional', 'x', '2026-12-04T08:00:00Z')"
        )
        tx.after_commit(count_staff)
        tx.after_commit(count_staff)
        assert seen == []
    assert seen == [1]
    await db.close()


async def test_never_runs_after_a_rollback(db: Database) -> None:
    called: list[str] = []
    with pytest.raises(RuntimeError):
        async with db.transaction() as tx:
            tx.after_commit(lambda: called.append("woken"))
            raise RuntimeError("the change failed its checks")
    assert called == []
    async with db.transaction() as tx:
        pass  # a later transaction does not run the old callback
    assert called == []
    await db.close()

"""A storage fault while people join and leave a line: their usage-log and queue rows
wait and are written, in order, once the database takes writes again."""

from __future__ import annotations

import logging
import sqlite3

import pytest

from server.settings import Settings
from tests.conftest import Accounts, wait_until
from tests.server.conftest import run_kota
from tests.signalling_live.line_live import lines_server, usage


async def test_line_rows_wait_out_a_locked_database_and_keep_their_order(
        settings: Settings, accounts: Accounts, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="server.line_hub")
    async with lines_server(settings, accounts) as lines:
        line = await lines.make_line()
        await lines.staff("sanna", duty=[line["id"]])
        # Another program holds the write lock past the busy timeout.
        other = sqlite3.connect(settings.db_path, isolation_level=None)
        try:
            other.execute("BEGIN IMMEDIATE")
            first, _ = await lines.person(nickname="Kettu")
            await first.until("queue", position=1)
            second, _ = await lines.person(nickname="Karhu")
            await second.until("queue", position=2)
            await first.send("leave")
            await second.until("queue", position=1)
            await wait_until(lambda: "line.write_retry" in caplog.messages,
                             timeout=30, what="the line writer to meet the lock")
        finally:
            other.rollback()
            other.close()

        async def written() -> bool:
            return [a for a, _ in await usage(settings)
                    if a in ("line.joined", "line.left")] == [
                        "line.joined", "line.joined", "line.left"]

        await wait_until(written, timeout=30, what="the rows queued during the lock")
        with sqlite3.connect(settings.db_path) as conn:
            queued = conn.execute("SELECT COUNT(*) FROM line_queue_entries").fetchone()[0]
        assert queued == 1, "the queue rows are its shadow: one person still waits"
        assert "line.write_failed" not in caplog.messages
    verified = await run_kota(settings, "audit", "verify")
    assert verified.returncode == 0, verified.stdout + verified.stderr

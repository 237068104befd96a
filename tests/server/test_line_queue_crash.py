"""``kota run`` killed with SIGKILL while people join and leave a contact line, twice.

Each join and each leave is one transaction with its usage-log row, so after the kill the
queue rows are exactly the joins minus the leaves the log records, nothing half-written;
``kota audit verify`` passes; and after the restart a person whose place was stored
resumes it with the secret its page kept.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import random
import sqlite3
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import aiohttp
import pytest

from server.settings import Settings
from tests.conftest import Accounts, StaffClient
from tests.server.conftest import run_kota
from tests.server.line_helpers import line_body
from tests.server.test_sigkill_writes import kill_mid_burst, start_kota

ROUNDS = 2
JOINERS = 6


@dataclass
class Seen:
    secrets: list[str] = field(default_factory=list)  # from each welcome
    events: int = 0


def ws_url(settings: Settings) -> str:
    return settings.public_url.replace("http", "ws", 1) + "/ws/line"


async def _join_until_killed(session: aiohttp.ClientSession, url: str, seen: Seen,
                             rng: random.Random) -> None:
    """Join, and now and then leave again, until the server is gone."""
    try:
        while True:
            ws = await session.ws_connect(url)
            await ws.send_json({"type": "hello", "version": "1", "line": "yolinja",
                                "mode": "chat"})
            welcome = json.loads((await asyncio.wait_for(ws.receive(), 10)).data)
            assert welcome["type"] == "welcome", welcome
            seen.secrets.append(welcome["resume"])
            seen.events += 1
            if rng.random() < 0.4:
                await ws.send_json({"type": "leave"})
                seen.events += 1
    except (TimeoutError, aiohttp.ClientError, ConnectionError, TypeError, AttributeError):
        return  # the server was killed (a closed socket's frame has no JSON text)


def _count(conn: sqlite3.Connection, sql: str) -> int:
    found: int = conn.execute(sql).fetchone()[0]
    return found


async def test_sigkill_while_people_join_and_leave_a_line(
    settings: Settings, accounts: Accounts, tmp_path: Path
) -> None:
    now = datetime.now(ZoneInfo("Europe/Helsinki"))
    if now.hour == 23 and now.minute >= 55:
        pytest.skip("the line closes at 23:59")
    seed = random.randrange(1 << 32)
    rng = random.Random(seed)
    log = tmp_path / "kota-run.log"
    seen = Seen()
    for round_ in range(ROUNDS):
        process = await start_kota(settings, log)
        try:
            if round_ == 0:
                admin = StaffClient(settings.public_url)
                assert (await admin.login("admin")).status == 201
                resp = await admin.post("/api/lines", json=line_body(
                    accounts, slug="yolinja", name="Yölinja", queue_cap=1000,
                    hours=[{"weekday": d, "opens": "00:00", "closes": "23:59"}
                           for d in range(7)]))
                assert resp.status == 201, await resp.text()
                await admin.close()
            else:  # back after the kill: a stored place is resumed with its secret
                with sqlite3.connect(settings.db_path) as conn:
                    stored = {row[0] for row in conn.execute(
                        "SELECT ticket_hash FROM line_queue_entries")}
                kept = [s for s in seen.secrets
                        if hashlib.sha256(s.encode()).hexdigest() in stored]
                assert kept, (seed, "no place was stored before the kill")
                async with aiohttp.ClientSession() as session, \
                        session.ws_connect(ws_url(settings)) as ws:
                    await ws.send_json({"type": "hello", "version": "1", "resume": kept[0]})
                    assert json.loads((await ws.receive()).data)["type"] == "welcome"
                    assert json.loads((await ws.receive()).data)["type"] == "queue"
            # No connection limit: every joiner's socket stays open while it waits.
            async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as session:
                before = seen.events
                joiners = [asyncio.create_task(
                    _join_until_killed(session, ws_url(settings), seen, rng))
                    for _ in range(JOINERS)]
                await kill_mid_burst(process, joiners,
                                     lambda b=before: seen.events >= b + 20,  # type: ignore[misc]
                                     0.8, "joins to land before the kill")
        finally:
            if process.returncode is None:
                process.kill()
                await process.wait()
        with sqlite3.connect(settings.db_path) as conn:
            queued = _count(conn, "SELECT COUNT(*) FROM line_queue_entries")
            joined = _count(conn, "SELECT COUNT(*) FROM audit_log WHERE action = 'line.joined'")
            left = _count(conn, "SELECT COUNT(*) FROM audit_log WHERE action = 'line.left'")
            count, last = conn.execute("SELECT COUNT(*), MAX(id) FROM audit_log").fetchone()
        assert queued == joined - left, (seed, round_, queued, joined, left)
        assert count == last, "usage-log ids are not consecutive"
        verified = await run_kota(settings, "audit", "verify")
        assert verified.returncode == 0, (seed, round_, verified.stdout, verified.stderr)

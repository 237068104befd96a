"""``kota run`` killed with SIGKILL while admins create and replace contact lines, twice.

After every kill and restart: every line the server acknowledged is stored with the
settings of one whole request (never the hours of one and the staff of another), each
create and each replace has its one usage-log row, and ``kota audit verify`` passes.
"""

from __future__ import annotations

import asyncio
import json
import random
import sqlite3
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp

from server.settings import Settings
from tests.conftest import Accounts, StaffClient
from tests.server.conftest import run_kota
from tests.server.line_helpers import line_body
from tests.server.test_sigkill_writes import kill_mid_burst, start_kota

ROUNDS = 2
WRITERS = 4


@dataclass
class Acknowledged:
    created: dict[int, str] = field(default_factory=dict)  # line id → slug
    owner: dict[int, int] = field(default_factory=dict)  # line id → the writer that replaces it
    # Versions sent for each line, in order (one writer per line, so also commit order).
    versions: dict[int, list[int]] = field(default_factory=dict)
    acked_version: dict[int, int] = field(default_factory=dict)
    requests: int = 0


def _version_body(accounts: Accounts, slug: str, version: int) -> dict[str, Any]:
    """A line whose every part tells its version: the name, the cap, the hours, the staff."""
    staff = [accounts.worker.id] if version % 2 else [accounts.worker.id, accounts.specialist.id]
    closes = f"{12 + version % 8:02d}:00"
    return line_body(accounts, slug=slug, name=f"Linja {slug} v{version}",
                     queue_cap=5 + version % 40, staff_ids=staff,
                     hours=[{"weekday": d, "opens": "08:00", "closes": closes}
                            for d in range(version % 5 + 1)])


async def _write_until_killed(client: StaffClient, accounts: Accounts, worker: int,
                              acked: Acknowledged, rng: random.Random) -> None:
    serial = 0
    try:
        while True:
            mine = sorted(i for i, w in acked.owner.items() if w == worker)
            if not mine or rng.random() < 0.3:
                serial += 1
                slug = f"l{worker}-{serial}-{rng.randrange(1 << 20)}"
                resp = await client.post("/api/lines", json=_version_body(accounts, slug, 0))
                acked.requests += 1
                if resp.status == 201:
                    line_id = (await resp.json())["id"]
                    acked.created[line_id] = slug
                    acked.owner[line_id] = worker
                    acked.versions.setdefault(line_id, []).append(0)
                    acked.acked_version[line_id] = 0
                continue
            line_id = rng.choice(mine)
            version = len(acked.versions[line_id])  # unique per line, growing
            acked.versions[line_id].append(version)
            resp = await client.put(f"/api/lines/{line_id}", json=_version_body(
                accounts, acked.created[line_id], version))
            acked.requests += 1
            if resp.status == 200:
                acked.acked_version[line_id] = version
    except (TimeoutError, aiohttp.ClientError, ConnectionError):
        return  # the server was killed


def _stored_version(conn: sqlite3.Connection, line_id: int, accounts: Accounts) -> int:
    """The version the stored line carries; every part must agree on it."""
    name, cap = conn.execute("SELECT name, queue_cap FROM lines WHERE id = ?",
                             (line_id,)).fetchone()
    version = int(name.rpartition(" v")[2])
    staff = sorted(r[0] for r in conn.execute(
        "SELECT staff_id FROM line_staff WHERE line_id = ?", (line_id,)))
    hours = sorted(conn.execute(
        "SELECT weekday, opens, closes FROM line_hours WHERE line_id = ?", (line_id,)))
    expected = _version_body(accounts, "", version)
    assert cap == expected["queue_cap"], f"line {line_id}: cap of another version"
    assert staff == sorted(expected["staff_ids"]), f"line {line_id}: staff of another version"
    assert hours == sorted((h["weekday"], h["opens"], h["closes"]) for h in expected["hours"]), \
        f"line {line_id}: hours of another version"
    return version


def _check_whole(settings: Settings, accounts: Accounts, acked: Acknowledged) -> None:
    with sqlite3.connect(settings.db_path) as conn:
        stored = [row[0] for row in conn.execute("SELECT id FROM lines ORDER BY id")]
        created_rows = sorted(json.loads(row[0])["line"] for row in conn.execute(
            "SELECT detail FROM audit_log WHERE action = 'line.created'"))
        updated_rows = [json.loads(row[0])["line"] for row in conn.execute(
            "SELECT detail FROM audit_log WHERE action = 'line.updated'")]
        assert created_rows == stored, "a line without its one line.created row"
        for line_id in acked.created:
            assert line_id in stored, "an acknowledged line was lost"
        for line_id in stored:
            version = _stored_version(conn, line_id, accounts)
            if line_id in acked.acked_version:
                sent = acked.versions[line_id]
                # The acknowledged version, or the one sent after it if that committed
                # before the kill.
                later = sent[sent.index(acked.acked_version[line_id]):]
                assert version in later, f"line {line_id}: an acknowledged change was lost"
            if version:
                assert line_id in updated_rows, "a replaced line without its line.updated row"
        count, last = conn.execute("SELECT COUNT(*), MAX(id) FROM audit_log").fetchone()
        assert count == last, "usage-log ids are not consecutive"


async def test_sigkill_mid_line_setup_leaves_every_line_whole(
        settings: Settings, accounts: Accounts, tmp_path: Path) -> None:
    seed = random.randrange(1 << 32)
    rng = random.Random(seed)
    acked = Acknowledged()
    log = tmp_path / "kota-run.log"
    for round_ in range(ROUNDS):
        process = await start_kota(settings, log)
        clients: list[StaffClient] = []
        try:
            for _ in range(WRITERS):
                client = StaffClient(settings.public_url)
                clients.append(client)
                assert (await client.login("admin")).status == 201
            before = acked.requests
            tasks = [asyncio.create_task(_write_until_killed(c, accounts, i, acked, rng))
                     for i, c in enumerate(clients)]
            await kill_mid_burst(process, tasks,
                                 lambda b=before: acked.requests >= b + 30,  # type: ignore[misc]
                                 0.3, "line writes to land before the kill")
        finally:
            if process.returncode is None:
                process.kill()
                await process.wait()
            for client in clients:
                await client.close()
        _check_whole(settings, accounts, acked)
        verified = await run_kota(settings, "audit", "verify")
        assert verified.returncode == 0, (seed, round_, verified.stdout, verified.stderr)
    assert acked.created and any(acked.acked_version.values()), (seed, acked.requests)

"""``kota run`` killed with SIGKILL during a burst of enrolments and revokes, twice.

After every kill and restart: every enrolment the server acknowledged is stored and its
link works; none is half-made (each has its staff and its one ``line.enrolled`` row, and
each revoke its row); no secret reached the disk or the server's log; ``kota audit verify`` passes.
"""

from __future__ import annotations

import asyncio
import hashlib
import random
import sqlite3
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp

from server.settings import Settings
from tests.conftest import Accounts, StaffClient
from tests.server.conftest import run_kota
from tests.server.line_helpers import file_bytes, line_body
from tests.server.test_sigkill_writes import kill_mid_burst, start_kota

ROUNDS = 2
WRITERS = 8


@dataclass
class Acknowledged:
    enrolled: dict[int, str] = field(default_factory=dict)  # enrolment id → secret
    revoked: set[int] = field(default_factory=set)
    requests: int = 0


async def _personal_line(settings: Settings, accounts: Accounts) -> int:
    admin = StaffClient(settings.public_url)
    try:
        assert (await admin.login("admin")).status == 201
        resp = await admin.post("/api/lines", json=line_body(
            accounts, slug="oma", name="Oma linja", kind="personal"))
        assert resp.status == 201, await resp.text()
        line_id: int = (await resp.json())["id"]
        return line_id
    finally:
        await admin.close()


async def _enrol_until_killed(client: StaffClient, line_id: int, worker: int,
                              acked: Acknowledged, rng: random.Random) -> None:
    try:
        while True:
            resp = await client.post(f"/api/lines/{line_id}/enrolments", json={
                "family_name": "Perhe", "language": "fi", "staff_ids": [worker]})
            acked.requests += 1
            if resp.status == 201:
                body = await resp.json()
                acked.enrolled[body["enrolment"]["id"]] = body["link"].rpartition("#e=")[2]
            if acked.enrolled and rng.random() < 0.3:
                eid = rng.choice(sorted(acked.enrolled))
                resp = await client.delete(f"/api/lines/{line_id}/enrolments/{eid}")
                acked.requests += 1
                if resp.status == 204:
                    acked.revoked.add(eid)
    except (TimeoutError, aiohttp.ClientError, ConnectionError):
        return  # the server was killed


def _check_whole(settings: Settings, acked: Acknowledged, worker: int) -> None:
    with sqlite3.connect(settings.db_path) as conn:
        stored = {row[0]: (row[1], row[2]) for row in conn.execute(
            "SELECT id, secret_hash, revoked_at FROM line_enrolments")}
        staff = {row[0]: row[1] for row in conn.execute(
            "SELECT enrolment_id, group_concat(staff_id) FROM line_enrolment_staff"
            " GROUP BY enrolment_id")}
        logged = [row[0] for row in conn.execute(
            "SELECT json_extract(detail, '$.enrolment') FROM audit_log"
            " WHERE action = 'line.enrolled' ORDER BY id")]
        revoke_rows = [row[0] for row in conn.execute(
            "SELECT json_extract(detail, '$.enrolment') FROM audit_log"
            " WHERE action = 'line.enrolment_revoked' ORDER BY id")]
        count, last = conn.execute("SELECT COUNT(*), MAX(id) FROM audit_log").fetchone()
    assert sorted(logged) == sorted(stored), "an enrolment without its one usage-log row"
    assert staff == {eid: str(worker) for eid in stored}, "an enrolment without its staff"
    assert sorted(revoke_rows) == sorted(e for e, (_, at) in stored.items() if at), \
        "a revoke without its one usage-log row"
    for eid, secret in acked.enrolled.items():
        assert eid in stored, "an acknowledged enrolment was lost"
        assert stored[eid][0] == hashlib.sha256(secret.encode()).hexdigest()
    assert all(stored[eid][1] for eid in acked.revoked), "an acknowledged revoke was lost"
    assert count == last, "usage-log ids are not consecutive"
    on_disk = file_bytes(settings)
    assert not [s for s in acked.enrolled.values() if s.encode() in on_disk]


async def test_sigkill_mid_enrolments_leaves_no_half_enrolment(
        settings: Settings, accounts: Accounts, tmp_path: Path) -> None:
    seed = random.randrange(1 << 32)
    rng = random.Random(seed)
    acked = Acknowledged()
    log = tmp_path / "kota-run.log"
    line_id = 0
    for round_ in range(ROUNDS):
        process = await start_kota(settings, log)
        clients: list[StaffClient] = []
        try:
            if round_ == 0:
                line_id = await _personal_line(settings, accounts)
            for _ in range(WRITERS):
                client = StaffClient(settings.public_url)
                clients.append(client)
                assert (await client.login("sanna")).status == 201
            before = acked.requests
            tasks = [asyncio.create_task(_enrol_until_killed(
                c, line_id, accounts.worker.id, acked, rng)) for c in clients]
            await kill_mid_burst(process, tasks,
                                 lambda b=before: acked.requests >= b + 30,  # type: ignore[misc]
                                 0.3, "enrolments to land before the kill")
        finally:
            if process.returncode is None:
                process.kill()
                await process.wait()
            for client in clients:
                await client.close()
        _check_whole(settings, acked, accounts.worker.id)
        verified = await run_kota(settings, "audit", "verify")
        assert verified.returncode == 0, (seed, round_, verified.stdout, verified.stderr)
    assert acked.enrolled and acked.revoked, (seed, acked.requests)
    written = log.read_text()
    assert "/api/lines/" in written  # the server's request log
    assert not [s for s in acked.enrolled.values() if s in written]

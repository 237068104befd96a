"""``kota run`` killed with SIGKILL in the middle of concurrent staff writes, many times.

After every kill and restart: every write the server acknowledged is stored, no object is
half-written (an appointment without its people, a participant without a join link) and
none lacks its usage-log rows; ``kota audit verify`` passes.
"""

from __future__ import annotations

import asyncio
import base64
import json
import random
import signal
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import aiohttp

from server.settings import Settings
from tests.conftest import Accounts, StaffClient, wait_until
from tests.server.conftest import KOTA_COMMAND, appointment_body, hours_ahead, kota_env, run_kota

ROUNDS = 6
WRITERS = ("admin", "sanna", "pekka", "olli")


@dataclass
class Acknowledged:
    """What the server answered with success: it must all be there after the crash."""

    appointments: dict[int, set[int]] = field(default_factory=dict)  # id -> participant ids
    participants: set[int] = field(default_factory=set)
    links: set[str] = field(default_factory=set)  # jti of each issued link
    revoked: set[int] = field(default_factory=set)  # participants whose link was revoked
    requests: int = 0


def _jti(url: str) -> str:
    payload = url.split("#", 1)[1].split(".")[1]
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    return str(claims["jti"])


async def spawn_kota(settings: Settings, log: Path, **env: str) -> asyncio.subprocess.Process:
    """``kota run`` on the settings' port, appending its output to ``log``, not yet
    answering (to kill it while it starts)."""
    with log.open("ab") as sink:
        return await asyncio.create_subprocess_exec(
            str(KOTA_COMMAND), "run", stdout=sink, stderr=asyncio.subprocess.STDOUT,
            env=kota_env(settings, **env), cwd=settings.data_dir.parent,
        )


async def start_kota(settings: Settings, log: Path, **env: str) -> asyncio.subprocess.Process:
    """``kota run`` on the settings' port, appending its output to ``log``, once it
    answers ``/healthz``."""
    process = await spawn_kota(settings, log, **env)

    async def healthy() -> bool:
        assert process.returncode is None, f"kota run exited early; see {log}"
        try:
            async with aiohttp.ClientSession() as session:
                return (await session.get(f"{settings.public_url}/healthz")).status == 200
        except aiohttp.ClientConnectionError:
            return False

    await wait_until(healthy, timeout=30, what="kota run to answer /healthz")
    return process


async def kill_mid_burst(process: asyncio.subprocess.Process, writers: list[asyncio.Task[None]],
                         landed: Callable[[], bool], pause: float, what: str) -> None:
    """Once ``landed`` holds, SIGKILL the server after up to ``pause`` seconds (a random
    moment), then wait for the writers to notice it is gone."""
    await wait_until(landed, timeout=60, what=what)
    await asyncio.sleep(random.uniform(0.0, pause))
    process.send_signal(signal.SIGKILL)
    await process.wait()
    await asyncio.wait_for(asyncio.gather(*writers), 30)


async def book_until_killed(client: StaffClient, booked: list[int]) -> None:
    """Book appointment after appointment (their ids into ``booked``) until the server
    goes away: staff writing beside a long job that is killed."""
    slot = 0
    try:
        while True:
            slot += 1
            resp = await client.post("/api/appointments", json=appointment_body(
                hours_ahead(2) + timedelta(hours=slot)))
            if resp.status == 201:
                booked.append((await resp.json())["id"])
    except (TimeoutError, aiohttp.ClientError, ConnectionError):
        return


async def _write_until_killed(
    client: StaffClient, slot: int, acked: Acknowledged, rng: random.Random
) -> None:
    """Book, add people, renew and revoke links, until the server goes away."""
    try:
        while True:
            start = hours_ahead(2) + timedelta(hours=slot)
            slot += 1
            body = appointment_body(start, participants=[
                {"display_name": "Maija", "role": "guardian"},
                {"display_name": "Matti", "role": "child"},
            ])
            resp = await client.post("/api/appointments", json=body)
            acked.requests += 1
            if resp.status != 201:
                continue
            made = await resp.json()
            people = {p["id"] for p in made["participants"]}
            acked.appointments[made["id"]] = people
            acked.participants |= people
            base = f"/api/appointments/{made['id']}/participants"
            resp = await client.post(base, json={"display_name": "Tuula", "role": "interpreter"})
            acked.requests += 1
            if resp.status == 201:
                added = (await resp.json())["id"]
                acked.appointments[made["id"]].add(added)
                acked.participants.add(added)
            pid = rng.choice(sorted(people))
            resp = await client.post(f"{base}/{pid}/link")
            acked.requests += 1
            if resp.status == 201:
                acked.links.add(_jti((await resp.json())["url"]))
            if rng.random() < 0.5:
                resp = await client.delete(f"{base}/{pid}/link")
                acked.requests += 1
                if resp.status == 204:
                    acked.revoked.add(pid)
    except (TimeoutError, aiohttp.ClientError, ConnectionError):
        return  # the server was killed


def _query(conn: sqlite3.Connection, sql: str) -> list[Any]:
    return [row[0] for row in conn.execute(sql)]


def _check_whole(db_path: Path, acked: Acknowledged) -> None:
    with sqlite3.connect(db_path) as conn:
        assert _query(conn, "SELECT a.id FROM appointments a WHERE NOT EXISTS (SELECT 1 FROM"
                            " audit_log l WHERE l.action = 'appointment.created'"
                            " AND l.appointment_id = a.id)") == [], "appointment without its row"
        assert _query(conn, "SELECT p.id FROM participants p WHERE NOT EXISTS (SELECT 1 FROM"
                            " audit_log l WHERE l.action = 'participant.added'"
                            " AND l.subject_id = p.id)") == [], "participant without its row"
        assert _query(conn, "SELECT p.id FROM participants p WHERE NOT EXISTS (SELECT 1 FROM"
                            " join_links j WHERE j.participant_id = p.id)") == [], \
            "participant without a join link"
        assert _query(conn, "SELECT p.id FROM participants p WHERE (SELECT COUNT(*) FROM"
                            " join_links j WHERE j.participant_id = p.id) != (SELECT COUNT(*)"
                            " FROM audit_log l WHERE l.action = 'link.issued'"
                            " AND l.subject_id = p.id)") == [], "link without link.issued"
        assert _query(conn, "SELECT a.id FROM appointments a WHERE NOT EXISTS (SELECT 1 FROM"
                            " participants p WHERE p.appointment_id = a.id)") == [], \
            "appointment stored without its people"
        stored: dict[int, set[int]] = {
            row[0]: set() for row in conn.execute("SELECT id FROM appointments")
        }
        for appointment_id, participant_id in conn.execute(
            "SELECT appointment_id, id FROM participants"
        ):
            stored[appointment_id].add(participant_id)
        jtis = set(_query(conn, "SELECT jti FROM join_links"))
        revoked_rows = set(_query(conn, "SELECT subject_id FROM audit_log"
                                        " WHERE action = 'link.revoked'"))
        count, last = conn.execute("SELECT COUNT(*), MAX(id) FROM audit_log").fetchone()
    for appointment_id, people in acked.appointments.items():
        assert appointment_id in stored, f"acknowledged appointment {appointment_id} lost"
        assert people <= stored[appointment_id], f"acknowledged people of {appointment_id} lost"
    assert acked.links <= jtis, "an acknowledged link was lost"
    assert acked.revoked <= revoked_rows, "an acknowledged revocation has no link.revoked row"
    assert count == last, "usage-log ids are not consecutive"


async def test_sigkill_mid_writes_leaves_no_half_object_and_a_verifiable_log(
    settings: Settings, accounts: Accounts, tmp_path: Path
) -> None:
    seed = random.randrange(1 << 32)
    rng = random.Random(seed)
    acked = Acknowledged()
    log = tmp_path / "kota-run.log"
    for round_ in range(ROUNDS):
        process = await start_kota(settings, log)
        clients = [StaffClient(settings.public_url) for _ in WRITERS]
        try:
            for client, name in zip(clients, WRITERS, strict=True):
                assert (await client.login(name)).status == 201
            before = acked.requests
            writers = [
                asyncio.create_task(_write_until_killed(c, round_ * 400 + 100 * i, acked, rng))
                for i, c in enumerate(clients)
            ]
            # Let at least a few writes land, then kill at a random moment.
            await kill_mid_burst(process, writers,
                                 lambda b=before: acked.requests >= b + 8,  # type: ignore[misc]
                                 0.8, "writes to land before the kill")
        finally:
            if process.returncode is None:
                process.kill()
                await process.wait()
            for client in clients:
                await client.close()
        _check_whole(settings.db_path, acked)
        verified = await run_kota(settings, "audit", "verify")
        assert verified.returncode == 0, (seed, round_, verified.stdout, verified.stderr)
    assert len(acked.appointments) >= ROUNDS, (seed, acked.requests)

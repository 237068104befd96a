"""``kota run`` killed with SIGKILL during a burst of holds and confirms, a few times.

After every kill and restart: every hold and confirm the server acknowledged is stored;
no object is half-made (a confirmed booking always has its appointment, its guardian,
a join link and the invitation in the outbox, and every booking its confirm message and
usage-log row); no professional is double-booked; ``kota audit verify`` passes.
"""

from __future__ import annotations

import asyncio
import random
import signal
import sqlite3
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp

from server.db import parse_db_time
from server.settings import Settings
from tests.conftest import Accounts, StaffClient, wait_until
from tests.server.booking_helpers import SLUG, bookings, confirm_token, messaging_env
from tests.server.conftest import run_kota
from tests.server.test_sigkill_writes import start_kota

ROUNDS = 3
BOOKERS = 12


@dataclass
class Acknowledged:
    held: set[str] = field(default_factory=set)  # contacts whose hold got 201
    confirmed: set[str] = field(default_factory=set)  # contacts whose confirm got 200
    requests: int = 0


async def _make_service(settings: Settings, accounts: Accounts) -> None:
    admin = StaffClient(settings.public_url)
    try:
        assert (await admin.login("admin")).status == 201
        resp = await admin.post("/api/services", json={
            "slug": SLUG, "name": "Perheneuvola, Inari", "slot_minutes": 10,
            "buffer_minutes": 0, "notice_minutes": 0, "horizon_days": 3, "max_per_day": 100,
            "hold_minutes": 10, "staff_ids": [accounts.worker.id, accounts.specialist.id]})
        service = await resp.json()
        assert resp.status == 201, service
        hours = [{"staff_id": s, "weekday": d, "opens": "00:00", "closes": "23:50"}
                 for s in (accounts.worker.id, accounts.specialist.id) for d in range(7)]
        resp = await admin.request("PUT", f"/api/services/{service['id']}/hours",
                                   json={"hours": hours})
        assert resp.status == 200, await resp.text()
    finally:
        await admin.close()


async def _book_until_killed(settings: Settings, n: int, acked: Acknowledged,
                             rng: random.Random) -> None:
    async with aiohttp.ClientSession(base_url=settings.public_url) as http:
        try:
            for i in range(10_000):
                resp = await http.get(f"/api/book/{SLUG}/times?days=2")
                times = [t["starts_at"] for d in (await resp.json())["days"] for t in d["times"]]
                contact = f"b{n}-{i}-{rng.randrange(1 << 30)}@example.fi"
                resp = await http.post(f"/api/book/{SLUG}/holds", json={
                    "starts_at": rng.choice(times[:20]), "display_name": f"Perhe {n}",
                    "contact": contact, "language": "se"},
                    headers={"X-Forwarded-For": f"10.0.{n}.{i % 250}"})
                acked.requests += 1
                if resp.status != 201:
                    continue
                acked.held.add(contact)
                booking = next(b for b in bookings(settings) if b.contact == contact)
                resp = await http.post("/api/book/confirm",
                                       json={"token": confirm_token(settings, booking)})
                acked.requests += 1
                if resp.status == 200:
                    acked.confirmed.add(contact)
        except (TimeoutError, aiohttp.ClientError, ConnectionError):
            return  # the server was killed


def _ids(conn: sqlite3.Connection, sql: str) -> list[Any]:
    return [row[0] for row in conn.execute(sql)]


def _check_whole(settings: Settings, acked: Acknowledged) -> None:
    now = datetime.now(UTC)
    with sqlite3.connect(settings.db_path) as conn:
        confirmed_without = _ids(conn, """
            SELECT b.id FROM bookings b WHERE b.state = 'confirmed' AND NOT (
              EXISTS (SELECT 1 FROM appointments a WHERE a.id = b.appointment_id
                      AND a.host_id = b.staff_id AND a.created_by = b.staff_id
                      AND a.starts_at = b.starts_at)
              AND EXISTS (SELECT 1 FROM participants p WHERE p.id = b.participant_id
                          AND p.appointment_id = b.appointment_id AND p.role = 'guardian'
                          AND p.delivery = b.channel AND p.contact = b.contact)
              AND EXISTS (SELECT 1 FROM join_links j WHERE j.participant_id = b.participant_id
                          AND j.revoked_at IS NULL)
              AND EXISTS (SELECT 1 FROM outbox o WHERE o.participant_id = b.participant_id
                          AND o.purpose = 'invitation')
              AND EXISTS (SELECT 1 FROM audit_log l WHERE l.action = 'booking.confirmed'
                          AND l.subject_id = b.participant_id))""")
        assert confirmed_without == [], "a confirmed booking is missing a part"
        assert _ids(conn, """
            SELECT a.id FROM appointments a WHERE NOT EXISTS (SELECT 1 FROM bookings b
             WHERE b.appointment_id = a.id AND b.state = 'confirmed')""") == [], \
            "an appointment whose booking was not confirmed"
        assert _ids(conn, """
            SELECT b.id FROM bookings b WHERE NOT EXISTS (SELECT 1 FROM outbox o
             WHERE o.booking_id = b.id AND o.purpose = 'booking_confirm')""") == [], \
            "a booking without its confirm message"
        held_rows = conn.execute(
            "SELECT COUNT(*) FROM audit_log WHERE action = 'booking.held'").fetchone()[0]
        assert held_rows == conn.execute("SELECT COUNT(*) FROM bookings").fetchone()[0]
        taken = [(staff, parse_db_time(a), parse_db_time(b)) for staff, a, b in conn.execute(
            "SELECT staff_id, starts_at, ends_at FROM bookings WHERE state = 'confirmed'"
            " OR (state = 'held' AND hold_expires_at > ?)",
            (now.strftime("%Y-%m-%dT%H:%M:%SZ"),))]
        contacts = {row[0]: row[1] for row in conn.execute("SELECT contact, state FROM bookings")}
        count, last = conn.execute("SELECT COUNT(*), MAX(id) FROM audit_log").fetchone()
    for i, (staff, start, end) in enumerate(taken):
        for other_staff, other_start, other_end in taken[i + 1:]:
            assert not (staff == other_staff and start < other_end and other_start < end), \
                "a professional is double-booked"
    assert acked.held <= set(contacts), "an acknowledged hold was lost"
    assert all(contacts[c] == "confirmed" for c in acked.confirmed), \
        "an acknowledged confirm was lost"
    assert count == last, "usage-log ids are not consecutive"


async def test_sigkill_mid_booking_leaves_no_half_booking(
        settings: Settings, accounts: Accounts, tmp_path: Path) -> None:
    seed = random.randrange(1 << 32)
    rng = random.Random(seed)
    acked = Acknowledged()
    log = tmp_path / "kota-run.log"
    env = {"KOTA_TRUSTED_PROXY": "true", **messaging_env(tmp_path)}
    for round_ in range(ROUNDS):
        process = await start_kota(settings, log, **env)
        try:
            if round_ == 0:
                await _make_service(settings, accounts)
            before = acked.requests
            tasks = [asyncio.create_task(_book_until_killed(settings, n, acked, rng))
                     for n in range(BOOKERS)]
            await wait_until(lambda b=before: acked.requests >= b + 20,  # type: ignore[misc]
                             timeout=60, what="holds to land before the kill")
            await asyncio.sleep(rng.uniform(0.0, 0.5))
            process.send_signal(signal.SIGKILL)
            await process.wait()
            await asyncio.wait_for(asyncio.gather(*tasks), 30)
        finally:
            if process.returncode is None:
                process.kill()
                await process.wait()
        _check_whole(settings, acked)
        verified = await run_kota(settings, "audit", "verify")
        assert verified.returncode == 0, (seed, round_, verified.stdout, verified.stderr)
    assert acked.confirmed, (seed, acked.requests)

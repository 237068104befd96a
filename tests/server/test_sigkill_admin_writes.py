"""``kota run`` killed with SIGKILL in the middle of the writes issue 13 added, many times:
an admin setting up services (create, weekly hours, closures), a worker changing how a
family's link goes, and a professional renewing and revoking a calendar feed.

After every kill and restart: every acknowledged write is stored whole, with its
usage-log row; a service's hours are exactly one of the week plans sent for it (never a
mix of two); no message is pending to an address the person no longer has; a calendar
feed exists exactly when its last logged change made one; ``kota audit verify`` passes.
"""

from __future__ import annotations

import asyncio
import hashlib
import random
import sqlite3
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp

from server.settings import Settings
from tests.conftest import Accounts, StaffClient
from tests.server.booking_helpers import messaging_env
from tests.server.conftest import appointment_body, hours_ahead, run_kota
from tests.server.test_sigkill_writes import kill_mid_burst, start_kota

ROUNDS = 4
FEED_API = "/api/staff/me/calendar-feed"
Week = frozenset[tuple[int, int, str, str]]  # (staff, weekday, opens, closes)


@dataclass
class Acknowledged:
    services: set[int] = field(default_factory=set)
    weeks: dict[int, list[Week]] = field(default_factory=dict)  # every week sent, in order
    closures: set[int] = field(default_factory=set)
    sent_contacts: dict[int, list[str]] = field(default_factory=dict)  # in order sent
    acked_contact: dict[int, int] = field(default_factory=dict)  # index of the last acked
    feed_secret: str | None = None  # the last acknowledged feed's secret (None: revoked)
    feed_creates_sent: int = 0
    feed_creates_acked: int = 0
    requests: int = 0


def _week(rng: random.Random, staff_id: int) -> Week:
    days = rng.sample(range(7), rng.randint(1, 5))
    opens = rng.choice(["08:00", "09:00", "10:00"])
    return frozenset((staff_id, d, opens, "15:00") for d in days)


async def _services_until_killed(admin: StaffClient, staff_id: int, tag: str,
                                 acked: Acknowledged, rng: random.Random) -> None:
    n = 0
    try:
        while True:
            n += 1
            resp = await admin.post("/api/services", json={
                "slug": f"palvelu-{tag}-{n}", "name": f"Palvelu {n}", "slot_minutes": 30,
                "kinds": ["family_counselling"], "staff_ids": [staff_id]})
            acked.requests += 1
            if resp.status != 201:
                continue
            service_id = (await resp.json())["id"]
            acked.services.add(service_id)
            for _ in range(3):
                week = _week(rng, staff_id)
                acked.weeks.setdefault(service_id, []).append(week)
                resp = await admin.put(f"/api/services/{service_id}/hours", json={"hours": [
                    {"staff_id": s, "weekday": d, "opens": o, "closes": c}
                    for s, d, o, c in sorted(week)]})
                acked.requests += 1
            resp = await admin.post(f"/api/services/{service_id}/closures", json={
                "starts_local": "2027-06-20T00:00", "ends_local": "2027-06-21T00:00",
                "note": "Juhannus"})
            acked.requests += 1
            if resp.status == 201:
                acked.closures.add((await resp.json())["id"])
    except (TimeoutError, aiohttp.ClientError, ConnectionError):
        return


async def _deliveries_until_killed(worker: StaffClient, base: str, participant_id: int,
                                   acked: Acknowledged, rng: random.Random) -> None:
    n = 0
    try:
        while True:
            n += 1
            if rng.random() < 0.5:
                body = {"delivery": "email", "contact": f"maija.{n}@kota.test"}
            else:
                body = {"delivery": "sms", "contact": f"+35840{n:07d}"}
            sent = acked.sent_contacts.setdefault(participant_id, [])
            sent.append(body["contact"])
            resp = await worker.put(f"{base}/{participant_id}/delivery", json=body)
            acked.requests += 1
            if resp.status == 200:
                acked.acked_contact[participant_id] = len(sent) - 1
    except (TimeoutError, aiohttp.ClientError, ConnectionError):
        return


async def _feeds_until_killed(professional: StaffClient, acked: Acknowledged,
                              rng: random.Random) -> None:
    try:
        while True:
            if rng.random() < 0.7:
                acked.feed_creates_sent += 1
                resp = await professional.post(FEED_API)
                acked.requests += 1
                if resp.status == 201:
                    url = (await resp.json())["url"]
                    acked.feed_secret = url.rsplit("/", 1)[1].removesuffix(".ics")
                    acked.feed_creates_acked += 1
            else:
                resp = await professional.delete(FEED_API)
                acked.requests += 1
                if resp.status in (200, 204):
                    acked.feed_secret = None
    except (TimeoutError, aiohttp.ClientError, ConnectionError):
        return


def _rows(conn: sqlite3.Connection, sql: str, *args: Any) -> list[Any]:
    return [row[0] for row in conn.execute(sql, args)]


def _check_whole(db_path: Path, acked: Acknowledged, feed_staff: int) -> None:
    with sqlite3.connect(db_path) as conn:
        services = set(_rows(conn, "SELECT id FROM services"))
        assert acked.services <= services, "an acknowledged service was lost"
        logged = set(_rows(conn, "SELECT json_extract(detail, '$.service') FROM audit_log"
                                 " WHERE action = 'service.created'"))
        assert services == logged, "a service without its service.created row"
        for service_id in services:
            stored = frozenset(conn.execute(
                "SELECT staff_id, weekday, opens, closes FROM service_hours"
                " WHERE service_id = ?", (service_id,)))
            weeks = acked.weeks.get(service_id, [])
            assert stored == frozenset() or stored in weeks, \
                f"service {service_id}: hours {sorted(stored)} are no week that was sent"
            hour_rows = _rows(conn, "SELECT COUNT(*) FROM audit_log WHERE action ="
                                    " 'service.hours_set' AND json_extract(detail,"
                                    " '$.service') = ?", service_id)[0]
            assert (stored == frozenset()) == (hour_rows == 0), \
                f"service {service_id}: hours and their service.hours_set rows disagree"
        closures = set(_rows(conn, "SELECT id FROM service_closures"))
        assert acked.closures <= closures, "an acknowledged closure was lost"
        assert closures == set(_rows(conn, "SELECT json_extract(detail, '$.closure') FROM"
                                           " audit_log WHERE action = 'service.closure_added'"))

        for participant_id, last in acked.acked_contact.items():
            contacts = acked.sent_contacts[participant_id]
            current = _rows(conn, "SELECT contact FROM participants WHERE id = ?",
                            participant_id)[0]
            # The last acknowledged address, or one sent after it whose change committed
            # just before the kill; never an older one.
            assert current in contacts[last:], (participant_id, current, contacts[last:])
            changes = _rows(conn, "SELECT COUNT(*) FROM audit_log WHERE action ="
                                  " 'participant.delivery_changed' AND subject_id = ?",
                            participant_id)[0]
            assert last + 1 <= changes <= len(contacts), (participant_id, changes, last)
        stray = conn.execute(
            "SELECT o.id, o.state, o.purpose, o.recipient, p.contact FROM outbox o"
            " JOIN participants p ON p.id = o.participant_id"
            " WHERE (o.state = 'pending' OR (o.state = 'sending' AND o.withdrawn_at IS NULL))"
            " AND o.recipient != p.contact").fetchall()
        assert not stray, f"messages pending to an address the person no longer has: {stray}"

        kinds = _rows(conn, "SELECT action FROM audit_log WHERE subject_id = ? AND action IN"
                            " ('calendar_feed.created', 'calendar_feed.revoked')"
                            " ORDER BY id", feed_staff)
        feed = _rows(conn, "SELECT secret_hash FROM calendar_feeds WHERE staff_id = ?",
                     feed_staff)
        assert bool(feed) == bool(kinds and kinds[-1] == "calendar_feed.created"), \
            (feed, kinds[-3:])
        created = kinds.count("calendar_feed.created")
        assert acked.feed_creates_acked <= created <= acked.feed_creates_sent, \
            (created, acked.feed_creates_acked, acked.feed_creates_sent)
        if acked.feed_secret is not None and feed and created == acked.feed_creates_acked:
            # No unanswered create committed: the feed is the acknowledged one.
            assert feed[0] == hashlib.sha256(acked.feed_secret.encode()).hexdigest()
        count, last = conn.execute("SELECT COUNT(*), MAX(id) FROM audit_log").fetchone()
    assert count == last, "usage-log ids are not consecutive"


async def test_sigkill_mid_admin_delivery_and_feed_writes(
    settings: Settings, accounts: Accounts, tmp_path: Path
) -> None:
    seed = random.randrange(1 << 32)
    rng = random.Random(seed)
    acked = Acknowledged()
    log = tmp_path / "kota-run.log"
    env = messaging_env(tmp_path)
    for round_ in range(ROUNDS):
        process = await start_kota(settings, log, **env)
        names = ("admin", "sanna", "pekka")
        clients = {name: StaffClient(settings.public_url) for name in names}
        try:
            for name, client in clients.items():
                assert (await client.login(name)).status == 201
            worker = clients["sanna"]
            resp = await worker.post("/api/appointments", json=appointment_body(
                hours_ahead(30 + round_), participants=[
                    {"display_name": "Maija", "role": "guardian", "delivery": "email",
                     "contact": "maija@kota.test"}]))
            assert resp.status == 201, await resp.text()
            made = await resp.json()
            base = f"/api/appointments/{made['id']}/participants"
            before = acked.requests
            writers = [
                asyncio.create_task(_services_until_killed(
                    clients["admin"], accounts.worker.id, f"{round_}", acked, rng)),
                asyncio.create_task(_deliveries_until_killed(
                    worker, base, made["participants"][0]["id"], acked, rng)),
                asyncio.create_task(_feeds_until_killed(clients["pekka"], acked, rng)),
            ]
            await kill_mid_burst(process, writers,
                                 lambda b=before: acked.requests >= b + 12,  # type: ignore[misc]
                                 0.8, "writes to land before the kill")
        finally:
            if process.returncode is None:
                process.kill()
                await process.wait()
            for client in clients.values():
                await client.close()
        _check_whole(settings.db_path, acked, accounts.specialist.id)
        verified = await run_kota(settings, "audit", "verify")
        assert verified.returncode == 0, (seed, round_, verified.stdout, verified.stderr)
    assert acked.services and acked.acked_contact, (seed, acked.requests)

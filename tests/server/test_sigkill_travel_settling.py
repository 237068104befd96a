"""``kota run`` killed with SIGKILL in the middle of two write paths of the organisation
report: admins replacing services' travel distances, and the report's settling at start.

Travel: after every kill and restart each service's list is exactly one whole list that
was sent for it (never a mix of two, never older than the last acknowledged one), and its
``service.travel_set`` rows are exactly those of the replacements that committed.

Settling: a kill while the start-up settling stores its batches, then a restart whose
settling finishes the job: each appointment has one facts row and the organisation
report is the one read from the call rows before anything was settled.
"""

from __future__ import annotations

import asyncio
import json
import random
import signal
import sqlite3
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp.test_utils import TestServer

from server.app import create_app
from server.audit_checkpoints import Checkpointer, open_chain
from server.db import Database, NewAuditEntry, NewParticipant
from server.records import AppointmentKind, ParticipantRole
from server.report_settling import BATCH, SETTLE_AFTER
from server.settings import Settings
from tests.conftest import Accounts, StaffClient, wait_until
from tests.server.booking_helpers import make_service
from tests.server.conftest import run_kota
from tests.server.test_organisation_report_property import entry
from tests.server.test_sigkill_writes import kill_mid_burst, spawn_kota, start_kota

ROUNDS = 3
SERVICES = 3
# Three settling batches: a kill once the first has committed lands before the last.
APPOINTMENTS = 2 * BATCH + BATCH // 2
Distance = tuple[str, float, int]  # (municipality, km, minutes)


@dataclass
class Sent:
    """One service's replacements in the order sent, and how far they are known."""

    lists: list[frozenset[Distance]] = field(default_factory=list)
    acked: int = -1  # index of the last acknowledged list
    committed: list[int] = field(default_factory=list)  # indexes that reached the file


def _distances(service_id: int, n: int, rng: random.Random) -> frozenset[Distance]:
    """The ``n``th list for a service: its names carry ``n``, so no two lists share one."""
    return frozenset((f"Kunta {service_id}-{n}-{k}", float(rng.randint(0, 300)),
                      rng.randint(0, 240)) for k in range(rng.randint(1, 6)))


async def _replace_until_killed(admin: StaffClient, service_id: int, sent: Sent,
                                counter: list[int], rng: random.Random) -> None:
    try:
        while True:
            n = len(sent.lists)
            distances = _distances(service_id, n, rng)
            sent.lists.append(distances)
            resp = await admin.put(f"/api/services/{service_id}/travel", json={"distances": [
                {"municipality": m, "km": km, "minutes": minutes}
                for m, km, minutes in rng.sample(sorted(distances), len(distances))]})
            counter[0] += 1
            if resp.status == 200:
                body = await resp.json()
                assert {(d["municipality"], d["km"], d["minutes"])
                        for d in body["distances"]} == distances, body
                sent.acked = n
    except (TimeoutError, aiohttp.ClientError, ConnectionError):
        return


def _stored(conn: sqlite3.Connection, service_id: int) -> frozenset[Distance]:
    return frozenset(conn.execute("SELECT municipality, km, minutes FROM travel_distances"
                                  " WHERE service_id = ?", (service_id,)))


def _logged_counts(conn: sqlite3.Connection, service_id: int) -> list[int]:
    return [json.loads(d)["count"] for (d,) in conn.execute(
        "SELECT detail FROM audit_log WHERE action = 'service.travel_set'"
        " AND json_extract(detail, '$.service') = ? ORDER BY id", (service_id,))]


def _check_travel(db_path: Path, sent: dict[int, Sent], round_first: dict[int, int]) -> None:
    """The stored list of each service is one whole list sent for it; the replacements
    of this round up to that one committed (they are sent one after another), later ones
    did not; the usage log has one row for each committed replacement and no other."""
    with sqlite3.connect(db_path) as conn:
        for service_id, one in sent.items():
            stored = _stored(conn, service_id)
            if stored == frozenset():  # no replacement has committed yet
                assert not one.committed and one.acked == -1, service_id
                assert _logged_counts(conn, service_id) == [], service_id
                continue
            found = [n for n, distances in enumerate(one.lists) if distances == stored]
            assert found, f"service {service_id}: {sorted(stored)} is no list that was sent"
            (n,) = found
            assert n >= one.acked, f"service {service_id}: an acknowledged list was lost"
            one.committed.extend(range(round_first[service_id], n + 1))
            assert _logged_counts(conn, service_id) == \
                [len(one.lists[i]) for i in one.committed], \
                f"service {service_id}: service.travel_set rows are not one per committed PUT"
        count, last = conn.execute("SELECT COUNT(*), MAX(id) FROM audit_log").fetchone()
    assert count == last, "usage-log ids are not consecutive"


async def test_sigkill_mid_travel_distance_replacements_leaves_whole_lists(
    settings: Settings, accounts: Accounts, tmp_path: Path
) -> None:
    seed = random.randrange(1 << 32)
    rng = random.Random(seed)
    log = tmp_path / "kota-run.log"
    sent: dict[int, Sent] = {}
    counter = [0]
    for round_ in range(ROUNDS):
        process = await start_kota(settings, log)
        admins = [StaffClient(settings.public_url) for _ in range(SERVICES)]
        try:
            for admin in admins:
                assert (await admin.login("admin")).status == 201
            if not sent:
                for n in range(SERVICES):
                    made = await make_service(admins[0], accounts, slug=f"matka-{n}")
                    sent[made["id"]] = Sent()
            round_first = {service_id: len(one.lists) for service_id, one in sent.items()}
            before = counter[0]
            writers = [asyncio.create_task(_replace_until_killed(admin, service_id, one,
                                                                 counter, rng))
                       for admin, (service_id, one) in zip(admins, sent.items(), strict=True)]
            await kill_mid_burst(process, writers,
                                 lambda b=before: counter[0] >= b + 9,  # type: ignore[misc]
                                 0.8, "replacements to land before the kill")
        finally:
            if process.returncode is None:
                process.kill()
                await process.wait()
            for admin in admins:
                await admin.close()
        _check_travel(settings.db_path, sent, round_first)
        verified = await run_kota(settings, "audit", "verify")
        assert verified.returncode == 0, (seed, round_, verified.stdout, verified.stderr)
    assert all(one.committed for one in sent.values()), (seed, counter)


# -- settling ----------------------------------------------------------------------


async def _seed_calls(settings: Settings, host_id: int, ended_by: datetime) -> None:
    """APPOINTMENTS past appointments, all ending within the ten hours before
    ``ended_by``, each with its call rows chained with the usage-log key: a guardian
    waits, is admitted and joins; every third also a child who joins late; all leave."""
    db = Database(settings.db_path)
    await db.open()
    try:
        chain, log = await open_chain(db, settings)
        step = timedelta(hours=10) / APPOINTMENTS
        rows: list[NewAuditEntry] = []
        async with db.transaction() as tx:
            for n in range(APPOINTMENTS):
                start = ended_by - timedelta(hours=10, minutes=45) + n * step
                people = [NewParticipant("Maija", ParticipantRole.GUARDIAN, None, None)]
                if n % 3 == 0:
                    people.append(NewParticipant("Matti", ParticipantRole.CHILD, None, None))
                appointment, ids = await tx.create_appointment(
                    starts_at=start, ends_at=start + timedelta(minutes=45),
                    kind=AppointmentKind.FAMILY_COUNSELLING, host_id=host_id, staff_ids=(),
                    participants=people, created_by=host_id,
                    now=start - timedelta(days=2))
                guardian = ids[0]
                rows += [
                    entry(start, "participant", guardian, "waiting.entered", appointment,
                          guardian),
                    entry(start + timedelta(minutes=1 + n % 4), "staff", host_id,
                          "admission.admitted", appointment, guardian),
                    entry(start + timedelta(minutes=1 + n % 4), "participant", guardian,
                          "call.joined", appointment, guardian),
                    entry(start + timedelta(minutes=10 + n % 30), "participant", guardian,
                          "call.left", appointment, guardian, {"reason": "left"}),
                ]
                if len(ids) > 1:
                    rows += [
                        entry(start + timedelta(minutes=5), "participant", ids[1],
                              "call.joined", appointment, ids[1]),
                        entry(start + timedelta(minutes=40), "participant", ids[1],
                              "call.left", appointment, ids[1], {"reason": "left"}),
                    ]
            rows.sort(key=lambda row: row.at)
            await tx.append_audit_rows(rows, chain)
        await Checkpointer(db, log, chain, lambda: datetime.now(UTC), 0).checkpoint()
    finally:
        await db.close()


def _facts(db_path: Path) -> tuple[int, int]:
    """Facts rows stored, and appointments they cover (0, 0 while the file is busy)."""
    try:
        with sqlite3.connect(db_path) as conn:
            stored, covered = conn.execute(
                "SELECT COUNT(*), COUNT(DISTINCT appointment_id) FROM report_facts").fetchone()
    except sqlite3.OperationalError:
        return 0, 0
    return int(stored), int(covered)


async def _report(base: str, months: dict[str, str]) -> dict[str, Any]:
    admin = StaffClient(base)
    try:
        assert (await admin.login("admin")).status == 201
        resp = await admin.get("/api/reports/organisation", params=months)
        body: dict[str, Any] = await resp.json()
        assert resp.status == 200, body
        return body
    finally:
        await admin.close()


async def test_sigkill_mid_settling_then_a_restart_settles_each_appointment_once(
    settings: Settings, accounts: Accounts, tmp_path: Path
) -> None:
    now = datetime.now(UTC)
    # Ended over a day before ``now`` (so ``kota run`` settles them at start), but not yet
    # a day before ``earlier`` (so a server on that clock reads them from the rows).
    earlier = now - SETTLE_AFTER - timedelta(minutes=30)
    await _seed_calls(settings, accounts.worker.id, earlier - timedelta(minutes=30))
    months = {"from": (now - timedelta(days=3)).strftime("%Y-%m"),
              "to": now.strftime("%Y-%m")}
    server = TestServer(create_app(settings, lambda: datetime.now(UTC) - (now - earlier)),
                        host="127.0.0.1", port=settings.port)
    await server.start_server()
    try:
        before = await _report(settings.public_url, months)
    finally:
        await server.close()
    assert _facts(settings.db_path) == (0, 0), "settled before the test's kill"
    assert before["totals"]["participants_joined"] > APPOINTMENTS, before["totals"]

    log = tmp_path / "kota-run.log"
    process = await spawn_kota(settings, log)
    try:
        await kill_mid_burst(process, [], lambda: 0 < _facts(settings.db_path)[0] < 2 * BATCH,
                             0.0, "the first settling batch to commit")
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    stored, covered = _facts(settings.db_path)
    assert 0 < stored == covered < APPOINTMENTS, "the kill did not land mid-settling"

    process = await start_kota(settings, log)
    try:
        await wait_until(lambda: _facts(settings.db_path)[0] == APPOINTMENTS, timeout=120,
                         what="the restart's settling to finish")
        after = await _report(settings.public_url, months)
    finally:
        process.send_signal(signal.SIGTERM)
        await process.wait()
    assert _facts(settings.db_path) == (APPOINTMENTS, APPOINTMENTS)
    assert after == before
    verified = await run_kota(settings, "audit", "verify")
    assert verified.returncode == 0, (verified.stdout, verified.stderr)

"""``kota run`` killed with SIGKILL while its start-up removal of old personal data runs
and staff write beside it: every appointment is either wholly removed (marked, every
participant cleared, exactly one usage-log row) or wholly untouched; the log verifies;
the next start finishes the job."""

from __future__ import annotations

import asyncio
import json
import signal
import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from server.appointments import AppointmentIn, ParticipantIn, Scheduler
from server.audit import AuditLog
from server.audit_checkpoints import Checkpointer, open_chain
from server.db import Database
from server.join_links import JoinLinks
from server.join_tokens import SigningKey
from server.message_plan import MessagePlan
from server.records import AppointmentKind, ParticipantRole
from server.settings import Settings
from tests.conftest import Accounts, StaffClient, wait_until
from tests.server.conftest import run_kota
from tests.server.test_sigkill_writes import book_until_killed, kill_mid_burst, start_kota

OLD = 1500
ENV = {"KOTA_RETENTION_DAYS": "30"}


async def _seed_old_appointments(settings: Settings, accounts: Accounts) -> None:
    """Appointments booked and held a year ago, through the real scheduler."""
    db = Database(settings.db_path)
    await db.open()
    try:
        await db.migrate()
        chain, checkpoint_log = await open_chain(db, settings)
        past = datetime.now(UTC).replace(microsecond=0, second=0) - timedelta(days=400)
        log = AuditLog(db, lambda: past, chain)
        links = JoinLinks(db, log, SigningKey.load_or_create(settings.signing_key_path),
                          settings.public_url, settings.join_grace)
        scheduler = Scheduler(db, log, links, settings.timezone,
                              MessagePlan.from_settings(settings))
        for i in range(OLD):
            start = past + timedelta(hours=1 + i)
            await scheduler.create(accounts.worker, AppointmentIn(
                starts_at=start, ends_at=start + timedelta(minutes=45),
                kind=AppointmentKind.FAMILY_COUNSELLING,
                participants=[ParticipantIn(display_name=f"Vanha Perhe {i}",
                                            role=ParticipantRole.GUARDIAN,
                                            contact=f"perhe{i}@example.fi"),
                              ParticipantIn(display_name=f"Vanha Lapsi {i}",
                                            role=ParticipantRole.CHILD)]), past)
        await Checkpointer(db, checkpoint_log, chain, lambda: datetime.now(UTC), 0).checkpoint()
    finally:
        await db.close()


def _query(db_path: Path, sql: str) -> list[tuple[Any, ...]]:
    with sqlite3.connect(db_path) as conn:
        return list(conn.execute(sql))


def _removed_count(db_path: Path) -> int:
    try:
        [(count,)] = _query(db_path, "SELECT COUNT(*) FROM audit_log"
                                     " WHERE action = 'retention.personal_data_removed'")
    except sqlite3.OperationalError:
        return 0
    return int(count)


def _check_whole(db_path: Path) -> tuple[int, int]:
    """(removed, untouched) appointments; fails on any half-removed one."""
    rows = _query(db_path, """
        SELECT a.id, a.personal_data_removed_at IS NOT NULL,
               (SELECT COUNT(*) FROM participants p WHERE p.appointment_id = a.id
                AND (p.display_name != '' OR p.contact IS NOT NULL)),
               (SELECT COUNT(*) FROM participants p WHERE p.appointment_id = a.id),
               (SELECT group_concat(detail) FROM audit_log l WHERE l.appointment_id = a.id
                AND l.action = 'retention.personal_data_removed')
        FROM appointments a WHERE a.starts_at < strftime('%Y-%m-%dT%H:%M:%SZ', 'now')""")
    removed = untouched = 0
    for appointment_id, marked, named, people, logged in rows:
        if marked:
            assert named == 0, f"appointment {appointment_id} marked but still holds names"
            assert logged is not None and json.loads(logged) == {"participants": people}, \
                (appointment_id, logged)
            removed += 1
        else:
            assert named == people == 2 and logged is None, f"appointment {appointment_id} half"
            untouched += 1
    return removed, untouched


async def test_a_kill_during_removal_leaves_whole_appointments_and_a_verifiable_log(
    settings: Settings, accounts: Accounts, tmp_path: Path
) -> None:
    await _seed_old_appointments(settings, accounts)
    log = tmp_path / "kota.log"
    process = await start_kota(settings, log, **ENV)
    sanna = StaffClient(settings.public_url)
    try:
        assert (await sanna.login("sanna")).status == 201
        booked: list[int] = []
        writer = asyncio.create_task(book_until_killed(sanna, booked))
        await kill_mid_burst(process, [writer], lambda: _removed_count(settings.db_path) > 0,
                             0.3, "the start-up removal to begin")
    finally:
        await sanna.close()
    removed, untouched = _check_whole(settings.db_path)
    assert removed > 0 and removed + untouched == OLD
    # Staff writes beside the removal were not lost or mixed up with it.
    assert all(_query(settings.db_path, f"SELECT personal_data_removed_at FROM appointments"  # noqa: S608
                                        f" WHERE id = {i}") == [(None,)] for i in booked)
    verified = await run_kota(settings, "audit", "verify")
    assert verified.returncode == 0, verified.stdout

    process = await start_kota(settings, log, **ENV)
    try:
        await wait_until(lambda: _removed_count(settings.db_path) == OLD, timeout=120,
                         what="the next start to finish the removal")
    finally:
        process.send_signal(signal.SIGTERM)
        await process.wait()
    assert _check_whole(settings.db_path) == (OLD, 0)
    verified = await run_kota(settings, "audit", "verify")
    assert verified.returncode == 0, verified.stdout

"""Two ``kota audit purge`` runs at once on one database, while ``kota run`` writes
usage-log rows beside them (an operator's cron job and a hand-run purge overlapping) and
``kota audit verify`` runs again and again.

Neither purge crashes, each says what it did, no row is purged twice (each purge record
starts where the one before it ended, and carries the hash the chain had there), each
record has its ``audit.purged`` row, no booking is lost, and the log verifies — also
every verify made while the purges ran (a purge is no gap in the log). A purge that
finds the write lock held says it waits, and goes on once it is free; one that cannot
get it at all stops with a clear message, having purged nothing half.
"""

from __future__ import annotations

import asyncio
import json
import signal
import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from server.audit import AuditLog
from server.audit_checkpoints import open_chain
from server.audit_purge import PurgeBusy, Verdict, purge_batches, purge_once, verify_log
from server.db import Database, NewParticipant
from server.records import AppointmentKind, ParticipantRole
from server.settings import Settings
from tests.conftest import Accounts, StaffClient
from tests.server.conftest import KOTA_COMMAND, kota_env, run_kota
from tests.server.test_audit_purge import RETENTION_DAYS, _query, _verify, _write_old_rows
from tests.server.test_sigkill_writes import book_until_killed, start_kota

OLD_ROWS = 6000
BATCH = "100"


async def _purge(settings: Settings) -> tuple[int, str, str]:
    process = await asyncio.create_subprocess_exec(
        str(KOTA_COMMAND), "audit", "purge", "--batch", BATCH,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        env=kota_env(settings, KOTA_USAGE_LOG_RETENTION_DAYS=RETENTION_DAYS),
        cwd=settings.data_dir.parent)
    out, err = await asyncio.wait_for(process.communicate(), 120)
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


async def _verify_until(done: asyncio.Event, settings: Settings) -> list[tuple[int, str]]:
    """``kota audit verify`` over and over until ``done`` is set (at least once)."""
    verdicts: list[tuple[int, str]] = []
    while not verdicts or not done.is_set():
        run = await run_kota(settings, "audit", "verify")
        verdicts.append((run.returncode, run.stdout + run.stderr))
    return verdicts


def _purged_count(out: str) -> int:
    """The rows a run says it purged (0 when it found them gone already)."""
    words = out.split()
    assert out.startswith("purged ") and words[2:4] == ["usage-log", "rows"], out
    return int(words[1])


async def test_two_purges_at_once_beside_the_server_purge_each_row_once(
    settings: Settings, accounts: Accounts, tmp_path: Path
) -> None:
    await _write_old_rows(settings, OLD_ROWS)
    old_hashes = dict(_query(settings, "SELECT id, hash FROM audit_log"))
    server = await start_kota(settings, tmp_path / "kota.log")
    sanna = StaffClient(settings.public_url)
    booked: list[int] = []
    try:
        assert (await sanna.login("sanna")).status == 201
        writer = asyncio.create_task(book_until_killed(sanna, booked))
        done = asyncio.Event()
        verifier = asyncio.create_task(_verify_until(done, settings))
        try:
            runs = await asyncio.gather(_purge(settings), _purge(settings))
        finally:
            done.set()
            verdicts = await verifier
    finally:
        server.send_signal(signal.SIGTERM)
        await server.wait()
        await asyncio.wait_for(writer, 30)
        await sanna.close()
    for code, out, err in runs:
        assert code == 0 and "Traceback" not in err, (code, out, err)
    assert all(code == 0 for code, _ in verdicts), verdicts
    assert sum(_purged_count(out) for _, out, _ in runs) == OLD_ROWS, runs
    purges = _query(settings, "SELECT first_id, prev_hash, removed FROM audit_purges"
                              " ORDER BY id")
    starts = [1] + [first_id for first_id, _, _ in purges[:-1]]
    assert [(first_id - start) for (first_id, _, _), start in zip(purges, starts,
                                                                   strict=True)] == \
        [removed for _, _, removed in purges], "a purge record overlaps or skips rows"
    assert purges[-1][0] == OLD_ROWS + 1
    assert [prev_hash for _, prev_hash, _ in purges] == \
        [old_hashes[first_id - 1] for first_id, _, _ in purges], "a record's hash is wrong"
    marks = [json.loads(str(d)) for (d,) in _query(
        settings, "SELECT detail FROM audit_log WHERE action = 'audit.purged' ORDER BY id")]
    assert [(m["before"], m["rows"]) for m in marks] == \
        [(first_id, removed) for first_id, _, removed in purges]
    assert _query(settings, "SELECT MIN(id) FROM audit_log") == [(OLD_ROWS + 1,)]
    assert booked
    assert len(_query(settings, "SELECT id FROM appointments")) == len(booked)
    code, out = await _verify(settings)
    assert code == 0, out


async def test_verifying_while_a_purge_commits_batch_after_batch_never_finds_a_gap(
    settings: Settings
) -> None:
    """One process purges ten rows per transaction while another walks the chain, again
    and again: each walk sees one state of the file, before or after each purge."""
    await _write_old_rows(settings, 2000)
    purging, verifying = Database(settings.db_path), Database(settings.db_path)
    await purging.open()
    await verifying.open()
    try:
        chain, _ = await open_chain(purging, settings)
        log = AuditLog(purging, lambda: datetime.now(UTC), chain)
        cutoff = datetime.now(UTC) - timedelta(days=3650)

        async def purge_all() -> int:
            total = 0
            while removed := await purge_once(purging, log, chain, datetime.now(UTC),
                                              cutoff, batch=10):
                total += removed
                await asyncio.sleep(0)
            return total

        purge = asyncio.create_task(purge_all())
        verdicts: list[Verdict] = []
        while not purge.done():
            verdicts.append(await verify_log(verifying, chain.key,
                                             settings.audit_checkpoint_path))
        assert await purge == 2000
    finally:
        await purging.close()
        await verifying.close()
    assert len(verdicts) > 1 and all(v.ok for v in verdicts), \
        [v.text for v in verdicts if not v.ok]


async def _past_appointment(settings: Settings, host_id: int) -> None:
    """An appointment held a week ago: the purge settles its report facts first."""
    db = Database(settings.db_path)
    await db.open()
    try:
        start = datetime.now(UTC) - timedelta(days=7)
        async with db.transaction() as tx:
            await tx.create_appointment(
                starts_at=start, ends_at=start + timedelta(minutes=30),
                kind=AppointmentKind.FAMILY_COUNSELLING, host_id=host_id, staff_ids=(),
                participants=[NewParticipant("Maija", ParticipantRole.GUARDIAN, None, None)],
                created_by=host_id, now=start - timedelta(days=1))
    finally:
        await db.close()


async def test_a_purge_waits_for_a_write_lock_held_elsewhere_and_says_so(
    settings: Settings, accounts: Accounts
) -> None:
    await _write_old_rows(settings, 500)
    await _past_appointment(settings, accounts.worker.id)
    holder = sqlite3.connect(settings.db_path, isolation_level=None)
    try:
        holder.execute("BEGIN IMMEDIATE")  # a long write of another process
        process = await asyncio.create_subprocess_exec(
            str(KOTA_COMMAND), "audit", "purge",
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
            env=kota_env(settings, KOTA_USAGE_LOG_RETENTION_DAYS=RETENTION_DAYS),
            cwd=settings.data_dir.parent)
        assert process.stderr is not None
        said = b""
        while b"waiting" not in said:
            line = await asyncio.wait_for(process.stderr.readline(), 60)
            assert line, said  # the purge ended without waiting
            said += line
        assert b"locked by another writer" in said, said
        holder.execute("ROLLBACK")
        out, err = await asyncio.wait_for(process.communicate(), 60)
    finally:
        holder.close()
    assert process.returncode == 0, (out, said + err)
    assert out.decode().startswith("purged 500 usage-log rows"), out
    assert b"Traceback" not in said + err
    assert _query(settings, "SELECT COUNT(*) FROM report_facts") == [(1,)]
    assert (await _verify(settings))[0] == 0


async def test_a_purge_that_never_gets_the_lock_stops_whole(settings: Settings) -> None:
    await _write_old_rows(settings, 50)
    db = Database(settings.db_path)
    await db.open()
    holder = sqlite3.connect(settings.db_path, isolation_level=None)
    waited: list[None] = []
    try:
        chain, _ = await open_chain(db, settings)
        log = AuditLog(db, lambda: datetime.now(UTC), chain)
        holder.execute("BEGIN IMMEDIATE")
        with pytest.raises(PurgeBusy) as busy:
            await purge_batches(db, log, chain, lambda: datetime.now(UTC),
                                datetime.now(UTC) - timedelta(days=3650), 20,
                                lambda: waited.append(None), tries=2)
        assert busy.value.removed == 0
        holder.execute("ROLLBACK")
    finally:
        holder.close()
        await db.close()
    assert waited == [None]  # said once that it waits, then gave up
    assert _query(settings, "SELECT COUNT(*), MIN(id) FROM audit_log") == [(50, 1)]
    assert (await _verify(settings))[0] == 0

"""``kota audit purge`` gives up the usage log's oldest rows and leaves a chain that
``kota audit verify`` checks from the purge point; every tampering still shows.

Old rows are written with the real keyed chain (their times years back), a real server
adds new ones and stops (its shutdown checkpoint is written), then the real commands run.
"""

from __future__ import annotations

import asyncio
import json
import signal
import sqlite3
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestServer

from server.app import create_app
from server.audit import AuditLog
from server.audit_checkpoints import Checkpointer, open_chain
from server.audit_purge import purge_once
from server.db import Database, NewAuditEntry
from server.settings import Settings
from tests.conftest import Accounts, StaffClient
from tests.server import test_audit_tamper as tamper_moves
from tests.server.conftest import (
    KOTA_COMMAND,
    book,
    hours_ahead,
    kota_env,
    run_kota,
)
from tests.server.test_sigkill_writes import book_until_killed, kill_mid_burst, start_kota

OLD_ROWS = 120
RETENTION_DAYS = "3650"


async def _write_old_rows(settings: Settings, count: int, days_ago: int = 4000) -> None:
    """Rows from long ago, hashed with the usage-log key as the server would have."""
    db = Database(settings.db_path)
    await db.open()
    try:
        await db.migrate()
        chain, log = await open_chain(db, settings)
        at = datetime.now(UTC).replace(microsecond=0) - timedelta(days=days_ago)
        entries = [NewAuditEntry(at + timedelta(minutes=i), "staff", 2, "appointment.read",
                                 i + 1, None, "") for i in range(count)]
        for start in range(0, count, 5000):
            async with db.transaction() as tx:
                await tx.append_audit_rows(entries[start:start + 5000], chain)
        await Checkpointer(db, log, chain, lambda: datetime.now(UTC), 0).checkpoint()
    finally:
        await db.close()


async def _write_activity(settings: Settings, bookings: int = 10) -> None:
    """A real server books appointments (three rows each), then stops cleanly."""
    server = TestServer(create_app(settings), host="127.0.0.1", port=settings.port)
    await server.start_server()
    sanna = StaffClient(str(server.make_url("")).rstrip("/"))
    try:
        assert (await sanna.login("sanna")).status == 201
        for i in range(bookings):
            await book(sanna, start=hours_ahead(2) + timedelta(hours=i))
    finally:
        await sanna.close()
        await server.close()


def _query(settings: Settings, sql: str, *params: object) -> list[tuple[Any, ...]]:
    with sqlite3.connect(settings.db_path) as conn:
        return list(conn.execute(sql, params))


def _tamper(settings: Settings, *statements: str) -> None:
    """An insider with the file: drops the guarding triggers first, as they could."""
    with sqlite3.connect(settings.db_path) as conn:
        for trigger in ("audit_log_no_update", "audit_log_no_delete",
                        "audit_purges_no_update", "audit_purges_no_delete"):
            conn.execute(f"DROP TRIGGER IF EXISTS {trigger}")
        for sql in statements:
            conn.execute(sql)


async def _purge(settings: Settings, *args: str, **env: str) -> tuple[int, str, str]:
    done = await run_kota(settings, "audit", "purge", *args,
                          **{"KOTA_USAGE_LOG_RETENTION_DAYS": RETENTION_DAYS, **env})
    return done.returncode, done.stdout, done.stderr


async def _verify(settings: Settings) -> tuple[int, str]:
    done = await run_kota(settings, "audit", "verify")
    assert "Traceback" not in done.stderr, done.stderr
    return done.returncode, done.stdout


async def _purged_log(settings: Settings) -> int:
    """Old rows, new activity, one purge; returns the first kept id."""
    await _write_old_rows(settings, OLD_ROWS)
    await _write_activity(settings)
    code, out, err = await _purge(settings)
    assert code == 0, out + err
    assert f"purged {OLD_ROWS} usage-log rows" in out
    return OLD_ROWS + 1


async def test_a_purge_removes_the_old_prefix_and_the_rest_verifies(
    settings: Settings, accounts: Accounts
) -> None:
    await _write_old_rows(settings, OLD_ROWS)
    await _write_activity(settings)
    [(total, head)] = _query(settings, "SELECT COUNT(*), MAX(id) FROM audit_log")
    code, out, _ = await _purge(settings, "--dry-run")
    assert code == 0 and f"would purge {OLD_ROWS} rows (before row {OLD_ROWS + 1})" in out
    assert _query(settings, "SELECT COUNT(*) FROM audit_log") == [(total,)]
    code, out, err = await _purge(settings)
    assert code == 0, out + err
    # Exactly the old prefix went; the newer rows are untouched; audit.purged follows.
    assert _query(settings, "SELECT MIN(id), COUNT(*) FROM audit_log") == [
        (OLD_ROWS + 1, total - OLD_ROWS + 1)]
    [(row_id, actor, detail)] = _query(
        settings, "SELECT id, actor_kind, detail FROM audit_log WHERE action = 'audit.purged'")
    assert row_id == head + 1 and actor == "system"
    assert json.loads(str(detail)) == {"rows": OLD_ROWS, "before": OLD_ROWS + 1}
    [(first_id, removed)] = _query(settings, "SELECT first_id, removed FROM audit_purges")
    assert (first_id, removed) == (OLD_ROWS + 1, OLD_ROWS)
    code, out = await _verify(settings)
    assert code == 0, out
    assert f"usage log intact: {total - OLD_ROWS + 1} rows from row {OLD_ROWS + 1}" in out
    assert f"({head + 1} rows) matches" in out  # the purge wrote a checkpoint
    # Nothing more is old enough: a second purge removes nothing and adds no row.
    code, out, _ = await _purge(settings)
    assert code == 0 and "purged 0 usage-log rows" in out
    assert _query(settings, "SELECT COUNT(*) FROM audit_purges") == [(1,)]


async def test_a_large_purge_runs_in_whole_batches(
    settings: Settings, accounts: Accounts
) -> None:
    await _write_old_rows(settings, OLD_ROWS)
    await _write_activity(settings, bookings=2)
    code, out, err = await _purge(settings, "--batch", "50")
    assert code == 0, out + err
    details = [json.loads(str(d)) for (d,) in _query(
        settings, "SELECT detail FROM audit_log WHERE action = 'audit.purged' ORDER BY id")]
    assert details == [{"rows": 50, "before": 51}, {"rows": 50, "before": 101},
                       {"rows": 20, "before": 121}]
    assert (await _verify(settings))[0] == 0


async def test_the_log_can_still_be_exported_after_a_purge(
    settings: Settings, accounts: Accounts
) -> None:
    first = await _purged_log(settings)
    server = TestServer(create_app(settings), host="127.0.0.1", port=settings.port)
    await server.start_server()
    admin = StaffClient(str(server.make_url("")).rstrip("/"))
    try:
        assert (await admin.login("admin")).status == 201
        today = date.today().isoformat()
        resp = await admin.get(f"/api/audit.csv?from={today}&to={today}")
        assert resp.status == 200
        lines = (await resp.text()).splitlines()
    finally:
        await admin.close()
        await server.close()
    ids = [int(line.split(",", 1)[0]) for line in lines[1:]]
    assert min(ids) >= first
    assert any(",audit.purged," in line for line in lines)
    assert (await _verify(settings))[0] == 0


async def test_retention_zero_keeps_the_log_for_ever(
    settings: Settings, accounts: Accounts
) -> None:
    await _write_old_rows(settings, 10)
    code, out, _ = await _purge(settings, KOTA_USAGE_LOG_RETENTION_DAYS="0")
    assert code == 0 and "kept for ever" in out
    assert _query(settings, "SELECT COUNT(*) FROM audit_log") == [(10,)]


async def test_purging_without_the_key_is_refused(
    settings: Settings, accounts: Accounts
) -> None:
    await _write_old_rows(settings, OLD_ROWS)
    settings.audit_key_path.rename(settings.data_dir / "elsewhere.key")
    code, _, err = await _purge(settings)
    assert code == 2 and "nothing purged" in err
    assert not settings.audit_key_path.exists()  # no new key made up
    assert _query(settings, "SELECT COUNT(*) FROM audit_log") == [(OLD_ROWS,)]


async def test_a_broken_log_is_not_purged(settings: Settings, accounts: Accounts) -> None:
    """Purging would remove the evidence: the purge verifies first."""
    await _write_old_rows(settings, OLD_ROWS)
    _tamper(settings, "UPDATE audit_log SET actor_id = 999 WHERE id = 5")
    code, _, err = await _purge(settings)
    assert code == 1 and "BROKEN at row 5" in err and "nothing purged" in err
    assert _query(settings, "SELECT COUNT(*) FROM audit_log") == [(OLD_ROWS,)]


async def test_the_schema_refuses_a_delete_outside_a_recorded_purge(
    settings: Settings, accounts: Accounts
) -> None:
    first = await _purged_log(settings)
    with sqlite3.connect(settings.db_path) as conn:
        for sql in (f"DELETE FROM audit_log WHERE id = {first}",  # noqa: S608
                    "UPDATE audit_purges SET first_id = first_id + 5",
                    "DELETE FROM audit_purges"):
            with pytest.raises(sqlite3.IntegrityError, match="append-only"):
                conn.execute(sql)


TAMPERS_AFTER_PURGE: dict[str, tuple[Callable[[int], list[str]], Callable[[int], str]]] = {
    "delete the first kept row": (
        lambda f: [f"DELETE FROM audit_log WHERE id = {f}"],  # noqa: S608
        lambda f: f"BROKEN at row {f + 1}: row {f} is missing",
    ),
    "delete a row after the purge point": (
        lambda f: [f"DELETE FROM audit_log WHERE id = {f + 5}"],  # noqa: S608
        lambda f: f"BROKEN at row {f + 6}: row {f + 5} is missing",
    ),
    "delete the purge record": (
        lambda f: ["DELETE FROM audit_purges"],
        lambda f: f"BROKEN at row {f}: row 1-{f - 1} is missing",
    ),
    "move the purge point on by editing the record": (
        lambda f: [f"DELETE FROM audit_log WHERE id < {f + 10}",  # noqa: S608
                   f"UPDATE audit_purges SET first_id = {f + 10}, prev_hash = (SELECT"  # noqa: S608
                   f" prev_hash FROM audit_log WHERE id = {f + 10})"],
        lambda f: "BROKEN: purge record 1 is not signed with this key",
    ),
    "forge a later purge record": (
        lambda f: [f"DELETE FROM audit_log WHERE id < {f + 10}",  # noqa: S608
                   "INSERT INTO audit_purges (at, first_id, prev_hash, removed, mac) VALUES"  # noqa: S608
                   f" ('2026-12-04T10:00:00Z', {f + 10}, (SELECT prev_hash FROM audit_log"
                   f" WHERE id = {f + 10}), 10, '{'0' * 64}')"],
        lambda f: "BROKEN: purge record 2 is not signed with this key",
    ),
    "delete every row after the purge point": (
        lambda f: ["DELETE FROM audit_log"],
        lambda f: "-",  # the checkpoint's rows are missing; checked below
    ),
    "edit a kept row": (
        lambda f: [f"UPDATE audit_log SET actor_id = 999 WHERE id = {f + 3}"],  # noqa: S608
        lambda f: f"BROKEN at row {f + 3}: content does not match its hash",
    ),
}


@pytest.mark.parametrize("name", list(TAMPERS_AFTER_PURGE))
async def test_tampering_after_a_purge_is_detected(
    settings: Settings, accounts: Accounts, name: str
) -> None:
    first = await _purged_log(settings)
    statements, expected = TAMPERS_AFTER_PURGE[name]
    _tamper(settings, *statements(first))
    code, out = await _verify(settings)
    assert code == 1, (name, out)
    if name == "delete every row after the purge point":
        assert "BROKEN: rows " in out and "are missing (the checkpoint of" in out, out
    else:
        assert expected(first) in out, (name, out)


def _last_id(settings: Settings) -> int:
    [(last,)] = _query(settings, "SELECT MAX(id) FROM audit_log")
    return int(last)


# The insider's other moves from test_audit_tamper.py, made on a purged log.
MOVES_AFTER_PURGE: dict[str, tuple[Callable[[Settings, int], None], Callable[[int, int], str]]] = {
    "reorder two kept rows": (
        lambda s, f: tamper_moves._swap_contents(s, f + 5, f + 6),
        lambda f, n: f"BROKEN at row {f + 5}: does not follow the row before it",
    ),
    "renumber after a deletion": (
        lambda s, f: _tamper(s, f"DELETE FROM audit_log WHERE id = {f + 10}",  # noqa: S608
                             f"UPDATE audit_log SET id = id - 1 WHERE id > {f + 10}"),  # noqa: S608
        lambda f, n: f"BROKEN at row {f + 10}: does not follow the row before it",
    ),
    "append a forged row": (
        lambda s, f: tamper_moves._append_forged(s),
        lambda f, n: f"BROKEN at row {n + 1}: content does not match its hash",
    ),
    "rewrite with recomputed plain hashes": (
        lambda s, f: tamper_moves._rewrite_plain(s),
        lambda f, n: f"BROKEN at row {f}: does not follow the row before it",
    ),
}


@pytest.mark.parametrize("name", list(MOVES_AFTER_PURGE))
async def test_other_rewrites_after_a_purge_are_detected(
    settings: Settings, accounts: Accounts, name: str
) -> None:
    first = await _purged_log(settings)
    last = _last_id(settings)
    move, expected = MOVES_AFTER_PURGE[name]
    move(settings, first)
    code, out = await _verify(settings)
    assert code == 1, (name, out)
    assert expected(first, last) in out, (name, out)


async def test_a_checkpoint_older_than_the_purge_point_still_verifies(
    settings: Settings, accounts: Accounts
) -> None:
    """A purge of every row, killed before its checkpoint: the newest checkpoint names a
    row the signed purge gave up; the log still verifies."""
    await _write_old_rows(settings, 30)
    db = Database(settings.db_path)
    await db.open()
    try:
        chain, _ = await open_chain(db, settings)
        log = AuditLog(db, lambda: datetime.now(UTC), chain)
        now = datetime.now(UTC)
        removed = await purge_once(db, log, chain, now, now - timedelta(days=3650))
    finally:
        await db.close()
    assert removed == 30
    code, out = await _verify(settings)
    assert code == 0, out
    assert "usage log intact: 1 rows from row 31" in out and "(30 rows) matches" in out


async def test_a_prefix_deleted_without_the_key_is_detected(
    settings: Settings, accounts: Accounts
) -> None:
    """An insider "purges" by hand: without the key they cannot sign a purge record."""
    await _write_old_rows(settings, OLD_ROWS)
    await _write_activity(settings, bookings=2)
    _tamper(settings, "DELETE FROM audit_log WHERE id < 100")
    code, out = await _verify(settings)
    assert code == 1 and "BROKEN at row 100: row 1-99 is missing" in out, out


async def test_a_purge_killed_midway_leaves_whole_batches_and_a_verifiable_log(
    settings: Settings, accounts: Accounts, tmp_path: Path
) -> None:
    """The server runs and staff book while a long purge (many batches) runs beside it;
    SIGKILL of the purge at a random moment: every batch that committed has its record
    and its audit.purged row, no booking was lost, the log verifies, and a second run
    finishes the job."""
    rows = 30_000
    await _write_old_rows(settings, rows)
    server = await start_kota(settings, tmp_path / "kota.log")
    sanna = StaffClient(settings.public_url)
    booked: list[int] = []
    try:
        assert (await sanna.login("sanna")).status == 201
        writer = asyncio.create_task(book_until_killed(sanna, booked))
        purge = await asyncio.create_subprocess_exec(
            str(KOTA_COMMAND), "audit", "purge", "--batch", "100",
            stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL,
            env=kota_env(settings, KOTA_USAGE_LOG_RETENTION_DAYS=RETENTION_DAYS),
            cwd=settings.data_dir.parent)

        def landed() -> bool:
            try:
                return bool(_query(settings, "SELECT 1 FROM audit_purges LIMIT 1"))
            except sqlite3.OperationalError:
                return False  # the file is busy

        await kill_mid_burst(purge, [], landed, 0.2, "the first purge batch")
    finally:
        server.send_signal(signal.SIGTERM)
        await server.wait()
        await asyncio.wait_for(writer, 30)
        await sanna.close()
    assert booked
    assert len(_query(settings, "SELECT id FROM appointments")) == len(booked)
    purges = _query(settings, "SELECT first_id, removed FROM audit_purges ORDER BY id")
    marks = [json.loads(str(d)) for (d,) in _query(
        settings, "SELECT detail FROM audit_log WHERE action = 'audit.purged' ORDER BY id")]
    assert [(m["before"], m["rows"]) for m in marks] == purges
    assert _query(settings, "SELECT MIN(id) FROM audit_log") == [(purges[-1][0],)]
    code, out = await _verify(settings)
    assert code == 0, out
    code, out, err = await _purge(settings)
    assert code == 0, out + err
    assert _query(settings, "SELECT MIN(id) FROM audit_log") == [(rows + 1,)]
    code, out = await _verify(settings)
    assert code == 0, out

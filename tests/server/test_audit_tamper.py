"""An insider with the database file tries to rewrite the usage log; ``kota audit verify``
finds every attempt. The insider drops the append-only triggers first, as they could.

The server runs, writes rows, and stops (its shutdown checkpoint is written); then the
file is changed and the real ``kota audit verify`` command is run.
"""

from __future__ import annotations

import json
import os
import socket
import sqlite3
import stat
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from aiohttp.test_utils import TestServer

from server.app import create_app
from server.audit_chain import GENESIS, AuditChain, AuditKeyError, chain_hash, read_key
from server.db import Database, NewAuditEntry, parse_db_time
from server.records import AuditRow
from server.settings import Settings
from tests.conftest import Accounts, StaffClient, wait_until
from tests.server.conftest import Completed, book, hours_ahead, run_kota

BOOKINGS = 20  # three rows each, so there are more than 50 rows to cut off


async def _write_activity(settings: Settings) -> int:
    """A real server books appointments, then stops cleanly; returns the row count."""
    server = TestServer(create_app(settings), host="127.0.0.1", port=settings.port)
    await server.start_server()
    sanna = StaffClient(str(server.make_url("")).rstrip("/"))
    try:
        assert (await sanna.login("sanna")).status == 201
        for i in range(BOOKINGS):
            await book(sanna, start=hours_ahead(2) + timedelta(hours=i))
    finally:
        await sanna.close()
        await server.close()
    with sqlite3.connect(settings.db_path) as conn:
        count: int = conn.execute("SELECT COUNT(*) FROM audit_log").fetchone()[0]
    return count


def _tamper(settings: Settings, *statements: str) -> None:
    with sqlite3.connect(settings.db_path) as conn:
        conn.execute("DROP TRIGGER IF EXISTS audit_log_no_update")
        conn.execute("DROP TRIGGER IF EXISTS audit_log_no_delete")
        for sql in statements:
            conn.execute(sql)


def _rows(settings: Settings) -> list[AuditRow]:
    with sqlite3.connect(settings.db_path) as conn:
        conn.row_factory = sqlite3.Row
        return [
            AuditRow(**{**dict(r), "at": parse_db_time(r["at"])})
            for r in conn.execute("SELECT * FROM audit_log ORDER BY id")
        ]


def _rewrite_plain(settings: Settings) -> None:
    """Recompute every hash with the plain SHA-256 chain, as an insider without the key."""
    prev = GENESIS
    updates = []
    for row in _rows(settings):
        digest = chain_hash(prev, row)
        updates.append((prev, digest, row.id))
        prev = digest
    _tamper(settings)
    with sqlite3.connect(settings.db_path) as conn:
        conn.executemany("UPDATE audit_log SET prev_hash = ?, hash = ? WHERE id = ?", updates)


def _swap_contents(settings: Settings, a: int, b: int) -> None:
    columns = ("at, actor_kind, actor_id, action, appointment_id, subject_id, detail,"
               " prev_hash, hash")
    _tamper(settings)
    with sqlite3.connect(settings.db_path) as conn:
        first = conn.execute(f"SELECT {columns} FROM audit_log WHERE id = ?", (a,)).fetchone()  # noqa: S608
        second = conn.execute(f"SELECT {columns} FROM audit_log WHERE id = ?", (b,)).fetchone()  # noqa: S608
        sets = ", ".join(f"{c.strip()} = ?" for c in columns.split(","))
        conn.execute(f"UPDATE audit_log SET {sets} WHERE id = ?", (*second, a))  # noqa: S608
        conn.execute(f"UPDATE audit_log SET {sets} WHERE id = ?", (*first, b))  # noqa: S608


def _append_forged(settings: Settings) -> None:
    last = _rows(settings)[-1]
    forged = AuditRow(last.id + 1, last.at, "staff", 2, "appointment.read", 1, None, "",
                      last.hash, "")
    _tamper(settings, "SELECT 1")
    with sqlite3.connect(settings.db_path) as conn:
        conn.execute(
            "INSERT INTO audit_log (id, at, actor_kind, actor_id, action, appointment_id,"
            " subject_id, detail, prev_hash, hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (forged.id, "2026-12-04T10:00:00Z", forged.actor_kind, forged.actor_id,
             forged.action, forged.appointment_id, None, "", last.hash,
             chain_hash(last.hash, forged)),
        )


Tamper = Callable[[Settings, int], None]
TAMPERS: dict[str, tuple[Tamper, Callable[[int], str]]] = {
    "edit a row": (
        lambda s, n: _tamper(s, "UPDATE audit_log SET actor_id = 999 WHERE id = 5"),
        lambda n: "BROKEN at row 5: content does not match its hash",
    ),
    "delete a middle row": (
        lambda s, n: _tamper(s, "DELETE FROM audit_log WHERE id = 10"),
        lambda n: "BROKEN at row 11: row 10 is missing",
    ),
    "delete the first row": (
        lambda s, n: _tamper(s, "DELETE FROM audit_log WHERE id = 1"),
        lambda n: "BROKEN at row 2: row 1 is missing",
    ),
    "delete the last row": (
        lambda s, n: _tamper(s, f"DELETE FROM audit_log WHERE id = {n}"),  # noqa: S608
        lambda n: f"BROKEN: row {n} is missing",
    ),
    "delete the last 50 rows": (
        lambda s, n: _tamper(s, f"DELETE FROM audit_log WHERE id > {n - 50}"),  # noqa: S608
        lambda n: f"BROKEN: rows {n - 49}-{n} are missing",
    ),
    "delete every row": (
        lambda s, n: _tamper(s, "DELETE FROM audit_log"),
        lambda n: f"BROKEN: rows 1-{n} are missing",
    ),
    "reorder two rows": (
        lambda s, n: _swap_contents(s, 5, 6),
        lambda n: "BROKEN at row 5: does not follow the row before it",
    ),
    "renumber after a deletion": (
        lambda s, n: _tamper(
            s, "DELETE FROM audit_log WHERE id = 10",
            "UPDATE audit_log SET id = id - 1 WHERE id > 10",
        ),
        lambda n: "BROKEN at row 10: does not follow the row before it",
    ),
    "append a forged row": (
        lambda s, n: _append_forged(s),
        lambda n: f"BROKEN at row {n + 1}: content does not match its hash",
    ),
    "rewrite with recomputed plain hashes": (
        lambda s, n: _rewrite_plain(s),
        lambda n: "BROKEN at row 1: content does not match its hash",
    ),
}


async def _verify(settings: Settings) -> Completed:
    return await run_kota(settings, "audit", "verify")


async def test_an_untouched_log_verifies_against_key_and_checkpoint(
    settings: Settings, accounts: Accounts
) -> None:
    rows = await _write_activity(settings)
    done = await _verify(settings)
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"usage log intact: {rows} rows; the checkpoint of" in done.stdout
    assert f"({rows} rows) matches" in done.stdout
    mode = stat.S_IMODE(settings.audit_key_path.stat().st_mode)
    assert mode == 0o600
    assert stat.S_IMODE(settings.audit_checkpoint_path.stat().st_mode) == 0o600
    assert settings.audit_key_path.read_bytes() not in settings.db_path.read_bytes()


@pytest.mark.parametrize("name", list(TAMPERS))
async def test_every_tamper_is_detected(
    settings: Settings, accounts: Accounts, name: str
) -> None:
    rows = await _write_activity(settings)
    assert rows > 50
    tamper, expected = TAMPERS[name]
    tamper(settings, rows)
    done = await _verify(settings)
    assert done.returncode == 1, (name, done.stdout, done.stderr)
    assert expected(rows) in done.stdout, (name, done.stdout)
    assert "Traceback" not in done.stderr


async def test_a_changed_checkpoint_line_is_detected(
    settings: Settings, accounts: Accounts
) -> None:
    rows = await _write_activity(settings)
    path = settings.audit_checkpoint_path
    lines = path.read_text().splitlines()
    last = json.loads(lines[-1])
    assert last["rows"] == rows
    # Cut the log and lower the checkpoint to match: without the key the MAC is wrong.
    _tamper(settings, f"DELETE FROM audit_log WHERE id > {rows - 5}")  # noqa: S608
    last.update(rows=rows - 5, last_id=rows - 5, last_hash=_rows(settings)[-1].hash)
    path.write_text("\n".join([*lines[:-1], json.dumps(last)]) + "\n")
    done = await _verify(settings)
    assert done.returncode == 1
    assert "BROKEN: the checkpoint file's last line is not signed with this key" in done.stdout


async def test_a_world_readable_key_is_refused(settings: Settings, accounts: Accounts) -> None:
    await _write_activity(settings)
    os.chmod(settings.audit_key_path, 0o644)
    with pytest.raises(AuditKeyError, match="readable by everyone"):
        read_key(settings.audit_key_path)
    done = await _verify(settings)
    assert done.returncode == 2
    assert "readable by everyone" in done.stderr


async def test_a_key_from_its_own_file_is_used(
    settings: Settings, accounts: Accounts, tmp_path: Path
) -> None:
    """KOTA_AUDIT_KEY_FILE: a key kept elsewhere (another volume, a secrets manager)."""
    key_path = tmp_path / "secrets" / "kota-audit.key"
    key_path.parent.mkdir()
    key_path.write_text("k" * 64)
    key_path.chmod(0o600)
    elsewhere = Settings(**{**settings.__dict__, "audit_key_file": key_path})
    await _write_activity(elsewhere)
    assert not (settings.data_dir / "audit.key").exists()
    done = await run_kota(elsewhere, "audit", "verify", KOTA_AUDIT_KEY_FILE=str(key_path))
    assert done.returncode == 0, done.stdout
    rows = _rows(settings)
    assert rows[0].hash == AuditChain(b"k" * 64).row_hash(GENESIS, 1, rows[0])


async def test_checkpoints_reach_a_syslog_socket(
    settings: Settings, accounts: Accounts, tmp_path: Path
) -> None:
    address = str(tmp_path / "syslog.sock")
    receiver = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    receiver.bind(address)
    receiver.setblocking(False)
    try:
        logged = Settings(**{**settings.__dict__, "audit_syslog": address,
                             "audit_checkpoint_seconds": 0.1})
        rows = await _write_activity(logged)
        lines: list[str] = []

        def drain() -> bool:
            try:
                while True:
                    lines.append(receiver.recv(4096).decode())
            except BlockingIOError:
                pass
            return any(f'"rows":{rows},' in line for line in lines)

        await wait_until(drain, what="the shutdown checkpoint on the syslog socket")
        assert all(line.startswith("<") and "kota-audit: {" in line for line in lines)
        on_file = settings.audit_checkpoint_path.read_text().splitlines()
        assert lines[-1].split("kota-audit: ", 1)[1] == on_file[-1]
    finally:
        receiver.close()


class _PlainChain:
    """How Kota chained rows before the key existed."""

    genesis = GENESIS

    def row_hash(self, prev_hash: str, row_id: int, entry: NewAuditEntry) -> str:
        return chain_hash(prev_hash, entry)


async def test_a_log_from_before_the_key_keeps_verifying_and_is_keyed_from_then_on(
    settings: Settings, accounts: Accounts
) -> None:
    """An upgraded server: earlier plain rows verify as they are; new rows are keyed."""
    db = Database(settings.db_path)
    await db.open()
    try:
        async with db.transaction() as tx:
            old = NewAuditEntry(datetime.now(UTC), "system", None, "staff.created", None, 1, "")
            await tx.append_audit_rows([old, old, old], _PlainChain())
    finally:
        await db.close()
    rows = await _write_activity(settings)
    checkpoint = json.loads(settings.audit_checkpoint_path.read_text().splitlines()[0])
    assert checkpoint["keyed_from"] == 4
    done = await _verify(settings)
    assert done.returncode == 0, done.stdout
    assert f"usage log intact: {rows} rows" in done.stdout
    _tamper(settings, "UPDATE audit_log SET subject_id = 3 WHERE id = 2")
    done = await _verify(settings)
    assert "BROKEN at row 2: content does not match its (pre-key) hash" in done.stdout

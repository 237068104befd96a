"""A full disk, for real: the database lives on a small tmpfs that the test fills up.

Writes are refused with ``507 storage_full`` (nothing half-saved), ``/readyz`` turns
unready, call events queued for the usage log wait instead of being dropped, and once
space returns everything queued is written and the server is ready again.
"""

from __future__ import annotations

import contextlib
import dataclasses
import errno
import os
import sqlite3
import subprocess
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from server.app_keys import AUDIT
from server.db import StorageError, StorageUnavailable, storage_error
from server.settings import Settings
from tests.conftest import StaffClient, assert_error, wait_until
from tests.server.conftest import appointment_body, hours_ahead, run_kota
from tests.signalling_live.conftest import Call, wait_for_row

DISK_SIZE = "4m"


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 4 MiB tmpfs of the test's own (root may mount; CI runs as root)."""
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root")
    disk = tmp_path / "disk"
    disk.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={DISK_SIZE}", "tmpfs", str(disk)],
                   check=True)
    try:
        yield disk
    finally:
        subprocess.run(["umount", "-l", str(disk)], check=False)


@pytest.fixture
def settings(settings: Settings, small_disk: Path) -> Settings:
    data = small_disk / "data"
    return dataclasses.replace(settings, data_dir=data, db_path=data / "kota.sqlite3")


@contextlib.contextmanager
def disk_filled(disk: Path) -> Iterator[None]:
    """Fill the file system to its last byte; give the space back on exit."""
    filler = disk / "filler"
    with filler.open("wb", buffering=0) as out:
        for chunk in (1 << 16, 1 << 12, 1 << 9, 1):
            try:
                while True:
                    out.write(b"\0" * chunk)
            except OSError as exc:
                assert exc.errno == errno.ENOSPC, exc
    try:
        yield
    finally:
        filler.unlink()


async def _readyz(call: Call) -> tuple[int, dict[str, object]]:
    resp = await call.sanna.get("/readyz")
    return resp.status, await resp.json()


async def test_a_full_disk_refuses_writes_clearly_and_loses_no_usage_row(
    call: Call, settings: Settings, small_disk: Path
) -> None:
    audit = call.kota.app[AUDIT]
    assert (await _readyz(call))[0] == 200
    with disk_filled(small_disk):
        # A booking: refused as a whole, with a code the page can translate.
        resp = await call.sanna.post(
            "/api/appointments", json=appointment_body(hours_ahead(30))
        )
        body = await assert_error(resp, 507, "storage_full")
        assert resp.headers["Retry-After"].isdigit(), body
        # Sign-in needs a write (the session row): it says why it cannot work.
        pekka = StaffClient(str(call.kota.make_url("")).rstrip("/"))
        try:
            await assert_error(await pekka.login("pekka"), 507, "storage_full")
        finally:
            await pekka.close()
        status, ready = await _readyz(call)
        assert (status, ready["database"]) == (503, "storage_full"), ready

        # A staff member joins and leaves the call: the rows wait in the queue.
        host = await call.staff("sanna")
        await host.send("leave")
        await wait_until(lambda: audit.pending >= 2, what="call rows queued during the fault")
        status, ready = await _readyz(call)
        assert status == 503 and ready["usage_log_pending"] >= 2, ready  # type: ignore[operator]

    # Space is back: the queued rows are written, in the chain, and writes work again.
    await wait_for_row(settings, call.id, "call.joined")
    await wait_for_row(settings, call.id, "call.left")
    await wait_until(lambda: audit.pending == 0, what="the usage-log queue to drain")
    assert (await _readyz(call))[0] == 200
    resp = await call.sanna.post(
        "/api/appointments", json=appointment_body(hours_ahead(30) + timedelta(hours=2))
    )
    assert resp.status == 201, await resp.text()
    verified = await run_kota(settings, "audit", "verify")
    assert verified.returncode == 0, verified.stdout + verified.stderr


async def test_a_database_locked_by_another_program_answers_storage_unavailable(
    call: Call, settings: Settings
) -> None:
    """Another program (a backup tool, an operator's sqlite3 shell) holds the write lock
    past the busy timeout: the write is refused plainly, and works once the lock is gone."""
    other = sqlite3.connect(settings.db_path, isolation_level=None)
    try:
        other.execute("BEGIN IMMEDIATE")
        resp = await call.sanna.post("/api/appointments", json=appointment_body(hours_ahead(30)))
        await assert_error(resp, 503, "storage_unavailable")
        assert resp.headers["Retry-After"].isdigit()
    finally:
        other.rollback()
        other.close()
    await wait_until(lambda: _ready_again(call), what="readiness after the lock went")
    resp = await call.sanna.post("/api/appointments", json=appointment_body(hours_ahead(30)))
    assert resp.status == 201, await resp.text()


async def _ready_again(call: Call) -> bool:
    return (await _readyz(call))[0] == 200


@pytest.mark.parametrize(
    ("make_fault", "expected"),
    [
        ("read_only", StorageUnavailable),
        ("locked", StorageUnavailable),
    ],
)
def test_real_sqlite_faults_map_to_storage_errors(
    tmp_path: Path, make_fault: str, expected: type[StorageError]
) -> None:
    path = tmp_path / "fault.sqlite3"
    with sqlite3.connect(path) as setup:
        setup.execute("CREATE TABLE t (x)")
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    try:
        uri = f"file:{path}?mode=ro" if make_fault == "read_only" else f"file:{path}"
        conn = sqlite3.connect(uri, uri=True, timeout=0.05)
        with pytest.raises(sqlite3.OperationalError) as caught:
            conn.execute("INSERT INTO t VALUES (1)")
        conn.close()
    finally:
        holder.rollback()
        holder.close()
    assert isinstance(storage_error(caught.value), expected), caught.value
    assert storage_error(sqlite3.IntegrityError("UNIQUE constraint failed")) is None

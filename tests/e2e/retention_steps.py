"""Retention in browser tests: age an appointment past KOTA_RETENTION_DAYS in the shared
server's file, then run the real removal (``kota retention run``) against it."""

from __future__ import annotations

import asyncio
import os
import sqlite3
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

from tests.e2e.kota_server import KotaProcess

# Past the default KOTA_RETENTION_DAYS (730); no other test's appointment is that old.
AGE = timedelta(days=800)


async def age_appointment(kota: KotaProcess, appointment_id: int, start: datetime) -> None:
    """Move the appointment (and its links' expiry) back by ``AGE`` in the server's file."""
    def as_db(moment: datetime) -> str:
        return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")

    def write() -> None:
        with sqlite3.connect(kota.data_dir / "kota.sqlite3", timeout=30) as conn:
            conn.execute("UPDATE appointments SET starts_at = ?, ends_at = ? WHERE id = ?",
                         (as_db(start - AGE), as_db(start - AGE + timedelta(minutes=30)),
                          appointment_id))
            conn.execute("UPDATE join_links SET expires_at = ? WHERE appointment_id = ?",
                         (as_db(start - AGE + timedelta(hours=2)), appointment_id))

    await asyncio.to_thread(write)


async def retention_run(kota: KotaProcess) -> str:
    """``kota retention run`` against the running server's data directory."""
    env = {**os.environ, "KOTA_DATA_DIR": str(kota.data_dir), "KOTA_HOST": "127.0.0.1",
           "KOTA_PORT": str(kota.port), "KOTA_PUBLIC_URL": kota.base,
           "KOTA_TIMEZONE": "Europe/Helsinki", **kota.env}
    process = await asyncio.create_subprocess_exec(
        str(Path(sys.executable).parent / "kota"), "retention", "run", env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT)
    out, _ = await process.communicate()
    assert process.returncode == 0, out.decode()
    return out.decode()

"""Storage: migrations from an empty file and from every earlier version; WAL; foreign keys."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from server.db import Database, load_migrations
from server.records import AppointmentKind
from server.settings import Settings
from tests.server.conftest import run_kota

MIGRATION_FILES = sorted((Path(__file__).parents[2] / "server" / "migrations").glob("*.sql"))
TABLES = {
    "staff",
    "staff_sessions",
    "appointments",
    "appointment_staff",
    "participants",
    "join_links",
    "audit_log",
}


def _tables(path: Path) -> set[str]:
    with sqlite3.connect(path) as conn:
        rows = conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'").fetchall()
    return {name for (name,) in rows}


def test_every_migration_file_is_loaded_in_order() -> None:
    assert MIGRATION_FILES, "no migrations found"
    assert [m.version for m in load_migrations()] == list(range(1, len(MIGRATION_FILES) + 1))


async def test_migration_from_an_empty_file(tmp_path: Path) -> None:
    path = tmp_path / "kota.sqlite3"
    path.touch()
    db = Database(path)
    await db.open()
    try:
        applied = await db.migrate()
        version = await db.schema_version()
    finally:
        await db.close()
    assert applied == list(range(1, len(MIGRATION_FILES) + 1))
    assert version == len(MIGRATION_FILES)
    assert _tables(path) >= TABLES
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone() == ("wal",)
        assert conn.execute("PRAGMA user_version").fetchone() == (len(MIGRATION_FILES),)


@pytest.mark.parametrize("start", range(len(MIGRATION_FILES)))
async def test_migration_from_every_earlier_version(tmp_path: Path, start: int) -> None:
    """A file left at ``start`` by an older Kota is brought up to date, keeping its rows."""
    path = tmp_path / "kota.sqlite3"
    with sqlite3.connect(path) as conn:
        for migration in load_migrations()[:start]:
            conn.executescript(migration.sql)
        conn.execute(f"PRAGMA user_version = {start}")
    db = Database(path)
    await db.open()
    try:
        assert await db.migrate() == list(range(start + 1, len(MIGRATION_FILES) + 1))
        assert await db.schema_version() == len(MIGRATION_FILES)
    finally:
        await db.close()
    assert _tables(path) >= TABLES


async def test_migrating_twice_applies_nothing(tmp_path: Path) -> None:
    db = Database(tmp_path / "kota.sqlite3")
    await db.open()
    try:
        assert await db.migrate()
        assert await db.migrate() == []
        assert await db.schema_version() == len(MIGRATION_FILES)
    finally:
        await db.close()


async def test_foreign_keys_are_enforced(tmp_path: Path) -> None:
    db = Database(tmp_path / "kota.sqlite3")
    await db.open()
    await db.migrate()
    now = datetime.now(UTC)
    try:
        with pytest.raises(sqlite3.IntegrityError, match="FOREIGN KEY"):
            async with db.transaction() as tx:
                await tx.create_appointment(
                starts_at=now,
                ends_at=now + timedelta(hours=1),
                kind=AppointmentKind.OTHER,
                host_id=999,
                staff_ids=[],
                participants=[],
                created_by=999,
                now=now,
            )
        # The failed transaction was rolled back and the writer is usable again.
        assert (
            await db.list_appointments_between(now - timedelta(days=1), now + timedelta(days=1))
            == []
        )
    finally:
        await db.close()


async def test_kota_migrate_command(settings: Settings) -> None:
    first = await run_kota(settings, "migrate")
    assert first.returncode == 0, first.stderr
    assert f"schema version {len(MIGRATION_FILES)}" in first.stdout
    assert "0001" in first.stdout
    assert _tables(settings.db_path) >= TABLES
    second = await run_kota(settings, "migrate")
    assert second.returncode == 0, second.stderr
    assert "nothing to do" in second.stdout

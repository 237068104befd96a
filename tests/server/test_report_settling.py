"""Settled report facts: stored a day after the call, never while someone's spell has
no end, dropped when the appointment moves into the future; the report stays the same."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from server.audit_chain import AuditChain
from server.db import Database, NewParticipant
from server.records import AppointmentKind, ParticipantRole, StaffRole
from server.report_reader import month_range, read_organisation_report
from server.report_settling import settle_report_facts
from tests.server.test_organisation_report_property import HELSINKI, entry

START = datetime(2026, 3, 10, 9, 0, tzinfo=UTC)
NOW = datetime(2026, 3, 20, 12, 0, tzinfo=UTC)


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[Database]:
    found = Database(tmp_path / "kota.sqlite3")
    await found.open()
    await found.migrate()
    try:
        yield found
    finally:
        await found.close()


async def _call(db: Database, start: datetime, *, leaves: bool) -> int:
    """An appointment whose guardian waits a minute, is admitted and joins; leaves after
    20 minutes unless ``leaves`` is false (still in the call, as far as the rows say)."""
    async with db.transaction() as tx:
        host = await tx.create_staff(f"s{start.day}", "Sanna", StaffRole.PROFESSIONAL, "x",
                                     start - timedelta(days=30))
        appointment_id, (guardian,) = await tx.create_appointment(
            starts_at=start, ends_at=start + timedelta(minutes=30),
            kind=AppointmentKind.FAMILY_COUNSELLING, host_id=host.id, staff_ids=(),
            participants=[NewParticipant("Maija", ParticipantRole.GUARDIAN, None, None)],
            created_by=host.id, now=start - timedelta(days=1))
        rows = [
            entry(start, "participant", guardian, "waiting.entered", appointment_id, guardian),
            entry(start + timedelta(minutes=1), "staff", host.id, "admission.admitted",
                  appointment_id, guardian),
            entry(start + timedelta(minutes=1), "participant", guardian, "call.joined",
                  appointment_id, guardian),
        ]
        if leaves:
            rows.append(entry(start + timedelta(minutes=21), "participant", guardian,
                              "call.left", appointment_id, guardian, {"reason": "left"}))
        await tx.append_audit_rows(rows, AuditChain(b"k" * 32))
    return appointment_id


def _settled(db: Database) -> list[int]:
    with sqlite3.connect(db.path) as conn:
        return [r[0] for r in conn.execute("SELECT appointment_id FROM report_facts")]


async def _report(db: Database, now: datetime) -> dict[str, object]:
    report = await read_organisation_report(db, month_range("2026-03", "2026-03"),
                                            HELSINKI, now)
    return report.totals


async def test_only_calls_over_a_day_ago_with_every_spell_ended_settle(db: Database) -> None:
    done = await _call(db, START, leaves=True)
    still_in = await _call(db, START + timedelta(days=1), leaves=False)
    recent = await _call(db, NOW - timedelta(hours=3), leaves=True)
    before = await _report(db, NOW)
    assert await settle_report_facts(db, NOW) == 1
    assert _settled(db) == [done]
    assert await _report(db, NOW) == before
    # A spell without its end counts nothing (time nobody saw), but a later leave or
    # crash row may still end it: that appointment waits.
    assert before["participant_minutes"] == 40 and before["participants_joined"] == 3
    assert await settle_report_facts(db, NOW + timedelta(days=1)) == 1  # ``recent`` now
    assert sorted(_settled(db)) == sorted([done, recent]) and still_in not in _settled(db)


async def test_two_settling_runs_at_once_store_each_appointment_once(db: Database) -> None:
    """The server's hourly run and ``kota audit purge`` may settle together."""
    made = [await _call(db, START + timedelta(days=n), leaves=True) for n in range(5)]
    first, second = await asyncio.gather(settle_report_facts(db, NOW, batch=2),
                                         settle_report_facts(db, NOW, batch=2))
    assert first + second == len(made)
    assert sorted(_settled(db)) == sorted(made)


async def test_an_appointment_moved_into_the_future_is_counted_from_its_rows_again(
        db: Database) -> None:
    moved = await _call(db, START, leaves=True)
    assert await settle_report_facts(db, NOW) == 1
    new_start = NOW + timedelta(days=7)
    async with db.transaction() as tx:
        await tx.update_appointment(moved, starts_at=new_start,
                                    ends_at=new_start + timedelta(minutes=30),
                                    kind=AppointmentKind.FAMILY_COUNSELLING, host_id=1,
                                    staff_ids=None, now=NOW)
    assert _settled(db) == []
    assert await settle_report_facts(db, NOW) == 0  # it ends in the future now

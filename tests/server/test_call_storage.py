"""Saved call seats (migration 0002) and the call settings: what a restart relies on."""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from server.db import Database, NewParticipant
from server.records import AppointmentKind, ParticipantRole, StaffRole, StoredCall, StoredSeat
from server.settings import SettingsError, load_settings

NOW = datetime(2026, 3, 3, 8, 0, tzinfo=UTC)


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[Database]:
    database = Database(tmp_path / "kota.sqlite3")
    await database.open()
    await database.migrate()
    yield database
    await database.close()


async def _appointment(db: Database) -> tuple[int, int, int]:
    async with db.transaction() as tx:
        staff = await tx.create_staff("sanna", "Sanna Aikio", StaffRole.PROFESSIONAL, "x", NOW)
        appointment_id, (participant_id,) = await tx.create_appointment(
            starts_at=NOW, ends_at=NOW + timedelta(hours=1), kind=AppointmentKind.OTHER,
            host_id=staff.id, staff_ids=[], created_by=staff.id, now=NOW,
            participants=[NewParticipant("Maija", ParticipantRole.GUARDIAN, None)])
    return appointment_id, staff.id, participant_id


async def _save(db: Database, call: StoredCall) -> None:
    async with db.transaction() as tx:
        await tx.save_call(call, NOW)


async def test_a_saved_call_reads_back_and_a_new_save_replaces_it(db: Database) -> None:
    appointment_id, staff_id, participant_id = await _appointment(db)
    assert await db.get_call(appointment_id) is None
    call = StoredCall(appointment_id, 2, False, (
        StoredSeat(staff_id, None, 1, "a" * 64, None),
        StoredSeat(None, participant_id, 2, "b" * 64, NOW + timedelta(seconds=60)),
    ))
    await _save(db, call)
    assert await db.get_call(appointment_id) == call
    ended = StoredCall(appointment_id, 2, True, ())
    await _save(db, ended)
    assert await db.get_call(appointment_id) == ended


async def test_a_seat_names_exactly_one_holder(db: Database) -> None:
    appointment_id, staff_id, participant_id = await _appointment(db)
    for bad in (StoredSeat(staff_id, participant_id, 1, "a", None),
                StoredSeat(None, None, 1, "a", None)):
        with pytest.raises(sqlite3.IntegrityError):
            await _save(db, StoredCall(appointment_id, 1, False, (bad,)))
    assert await db.get_call(appointment_id) is None  # the failed save left nothing


def test_call_settings_have_defaults_and_named_errors() -> None:
    settings = load_settings({})
    assert (settings.reconnect_grace_seconds, settings.max_participants,
            settings.hello_timeout_seconds, settings.ws_heartbeat_seconds,
            settings.ws_rate_per_second, settings.ws_burst, settings.ws_send_queue) == (
        60, 6, 10, 20, 20, 200, 256)
    assert load_settings({"KOTA_RECONNECT_GRACE_SECONDS": "0.5"}).reconnect_grace == (
        timedelta(seconds=0.5))


@pytest.mark.parametrize(("name", "value"), [
    ("KOTA_RECONNECT_GRACE_SECONDS", "soon"), ("KOTA_RECONNECT_GRACE_SECONDS", "nan"),
    ("KOTA_MAX_PARTICIPANTS", "1"), ("KOTA_HELLO_TIMEOUT_SECONDS", "0"),
    ("KOTA_WS_HEARTBEAT_SECONDS", "inf"), ("KOTA_WS_RATE_PER_SECOND", "-1"),
    ("KOTA_WS_BURST", "5"), ("KOTA_WS_SEND_QUEUE", "1e3"),
])
def test_bad_call_settings_name_the_variable(name: str, value: str) -> None:
    with pytest.raises(SettingsError, match=name):
        load_settings({name: value})

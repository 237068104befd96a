"""Whether a session has ended, when the end is still queued in the CallStore's writer:
the overlap check, the reopen and the file all agree with the room, not with a stale file."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any, cast

from server.calls.store import CallStore
from server.db import Database
from server.records import StoredCall
from server.settings import load_settings
from signalling.ports import CallSnapshot
from tests.server.test_call_storage import NOW, _appointment, _save, db

__all__ = ["db"]  # the fixture


def _store(db: Database, tmp_path: Path) -> CallStore:
    """Only the session-state side is used: no usage log or links are touched."""
    settings = load_settings({"KOTA_DATA_DIR": str(tmp_path)})
    return CallStore(db, cast(Any, None), cast(Any, None), settings, lambda: NOW)


async def test_an_end_still_queued_frees_the_slot_and_a_reopen_outlasts_it(
    db: Database, tmp_path: Path
) -> None:
    appointment_id, host_id, _ = await _appointment(db)
    store = _store(db, tmp_path)
    window = (NOW, NOW + timedelta(hours=1))
    assert await db.find_overlapping_appointment(host_id, *window) == appointment_id
    assert await store.session_ended(db, appointment_id) is False

    store.save(CallSnapshot(str(appointment_id), True, 2, ()))  # the room ended; not written
    assert await db.get_call(appointment_id) is None
    assert await store.session_ended(db, appointment_id) is True
    assert await db.find_overlapping_appointment(
        host_id, *window, queued=store.queued_sessions()) is None

    async with db.transaction() as tx:  # what a reopen writes
        await tx.reopen_call(appointment_id, NOW)
    store.reopened(appointment_id)
    assert await store.session_ended(db, appointment_id) is False
    assert await db.find_overlapping_appointment(
        host_id, *window, queued=store.queued_sessions()) == appointment_id
    await store.stop()  # writes what is queued: the ended snapshot never lands after it
    stored = await db.get_call(appointment_id)
    assert stored is not None and not stored.ended


async def test_the_file_decides_when_nothing_is_queued(db: Database, tmp_path: Path) -> None:
    appointment_id, host_id, _ = await _appointment(db)
    await _save(db, StoredCall(appointment_id, 3, True, ()))
    store = _store(db, tmp_path)
    assert await store.session_ended(db, appointment_id) is True
    assert await db.find_overlapping_appointment(host_id, NOW, NOW + timedelta(hours=1)) is None
    async with db.transaction() as tx:
        await tx.reopen_call(appointment_id, NOW)
    store.reopened(appointment_id)  # nothing queued: nothing to do
    assert store.queued_sessions() == {}
    stored = await db.get_call(appointment_id)
    assert stored is not None and not stored.ended and stored.seats_taken == 3

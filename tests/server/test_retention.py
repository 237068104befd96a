"""Personal data of past appointments is removed after KOTA_RETENTION_DAYS; anonymous
statistics stay.

A real server on a clock the test moves: a family books and confirms, another family's
hold runs out, staff book, cancel and remove people, a family's line link is revoked;
then the clock moves past the retention period and the server's own removal runs.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
from datetime import timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestServer

from server.app_keys import AUDIT, RETENTION, ROOMS
from server.db import REMOVED_NAME
from server.settings import Settings
from tests.conftest import Accounts, assert_error
from tests.server.booking_helpers import (
    booking_settings,
    bookings,
    confirm_token,
    hold,
    local,
    make_service,
)
from tests.server.conftest import Clock, SignIn, book, run_kota
from tests.server.line_helpers import file_bytes, make_line

RETENTION_DAYS = 30
# Every piece of personal text the old objects hold; none may survive anywhere in the file.
OLD_TEXTS = ("Maija Kuusela", "maija.kuusela@example.fi", "Huoltajuusriita",
             "Kerttu Unohdettu", "kerttu.unohdettu@example.fi", "Matti Mielikainen",
             "0401112233", "Tuula Poistettu", "Peruttu Perhe", "Virtaset Vanhat")
# The young appointment's and the active link's: these stay.
YOUNG_TEXTS = ("Nuori Pysyva", "0409998877", "Aktiiviset Perheet")


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return booking_settings(tmp_path, KOTA_RETENTION_DAYS=str(RETENTION_DAYS))


def _rows(settings: Settings, sql: str, *params: Any) -> list[tuple[Any, ...]]:
    with sqlite3.connect(settings.db_path) as conn:
        return list(conn.execute(sql, params))


def _person(name: str, contact: str | None = None, role: str = "guardian") -> dict[str, Any]:
    return {"display_name": name, "role": role, **({"contact": contact} if contact else {})}


async def _populate(kota: TestServer, settings: Settings, staff_client: SignIn,
                    accounts: Accounts, clock: Clock) -> dict[str, int]:
    """Old objects in the first week of January 2027, a young one at its end."""
    clock.set(local(4, 7, 30))
    admin = await staff_client("admin")
    sanna = await staff_client("sanna")
    await make_service(admin, accounts)
    async with aiohttp.ClientSession(base_url=kota.make_url("")) as family:
        status, _ = await hold(family, local(5, 10), display_name="Maija Kuusela",
                               contact="maija.kuusela@example.fi",
                               topic="Huoltajuusriita ja tapaamiset")
        assert status == 201
        status, _ = await hold(family, local(5, 11), display_name="Kerttu Unohdettu",
                               contact="kerttu.unohdettu@example.fi")
        assert status == 201
        first = bookings(settings)[0]
        resp = await family.post("/api/book/confirm",
                                 json={"token": confirm_token(settings, first)})
        assert resp.status == 200, await resp.json()
    booked = bookings(settings)[0].appointment_id
    assert booked is not None
    held = await book(sanna, start=local(6, 12), participants=[
        _person("Matti Mielikainen", "0401112233"), _person("Lapsi", None, "child")])
    resp = await sanna.post(f"/api/appointments/{held['id']}/participants",
                            json=_person("Tuula Poistettu", None, "interpreter"))
    tuula = (await resp.json())["id"]
    resp = await sanna.delete(f"/api/appointments/{held['id']}/participants/{tuula}")
    assert resp.status in (200, 204)
    cancelled = await book(sanna, start=local(7, 9), participants=[_person("Peruttu Perhe")])
    resp = await sanna.post(f"/api/appointments/{cancelled['id']}/cancel")
    assert resp.status == 200, await resp.json()
    line = await make_line(admin, accounts, slug="sannan-perheet", name="Sannan perheet",
                           kind="personal")
    enrolments = {}
    for name in ("Virtaset Vanhat", "Aktiiviset Perheet"):
        resp = await admin.post(f"/api/lines/{line['id']}/enrolments",
                                json={"family_name": name, "language": "fi"})
        enrolments[name] = (await resp.json())["enrolment"]["id"]
    resp = await admin.delete(
        f"/api/lines/{line['id']}/enrolments/{enrolments['Virtaset Vanhat']}")
    assert resp.status in (200, 204)
    young = await book(sanna, start=local(29, 10), participants=[
        _person("Nuori Pysyva", "0409998877")])
    return {"booked": booked, "held": held["id"], "cancelled": cancelled["id"],
            "young": young["id"], "line": line["id"],
            "old_enrolment": enrolments["Virtaset Vanhat"],
            "expired_booking": bookings(settings)[1].id}


# The columns removal clears or sets; every other column of these tables must stay as it
# was (also columns other parts add, such as an appointment's service and travel).
PERSONAL = {"display_name", "contact", "topic", "recipient", "family_name",
            "personal_data_removed_at"}
# Columns the outbox worker changes on its own while the test runs.
MOVING = {"state", "attempts", "next_attempt_at", "last_error", "updated_at", "sent_at",
          "withdrawn_at"}


def _table(settings: Settings, table: str) -> list[dict[str, Any]]:
    with sqlite3.connect(settings.db_path) as conn:
        conn.row_factory = sqlite3.Row
        rows = conn.execute(f"SELECT * FROM {table} ORDER BY rowid").fetchall()  # noqa: S608
    return [{k: v for k, v in dict(row).items() if k not in PERSONAL | MOVING} for row in rows]


def _statistics(settings: Settings) -> dict[str, list[dict[str, Any]]]:
    """What the organisation's reports are made of: none of it may change."""
    return {table: _table(settings, table) for table in (
        "appointments", "participants", "appointment_staff", "join_links", "bookings",
        "outbox", "line_enrolments", "line_callbacks", "call_sessions")}


def _removal_rows(settings: Settings) -> list[tuple[Any, ...]]:
    return _rows(settings, "SELECT actor_kind, actor_id, appointment_id, detail FROM audit_log"
                           " WHERE action = 'retention.personal_data_removed' ORDER BY id")


async def test_removal_clears_exactly_the_old_personal_data_and_keeps_statistics(
    kota: TestServer, settings: Settings, staff_client: SignIn, accounts: Accounts,
    clock: Clock,
) -> None:
    made = await _populate(kota, settings, staff_client, accounts, clock)
    clock.set(local(4, 0) + timedelta(days=RETENTION_DAYS + 5))  # the young one is 20 days on
    await kota.app[AUDIT].flush()
    before = _statistics(settings)
    log_before = _rows(settings, "SELECT * FROM audit_log ORDER BY id")
    assert all(text.encode() in file_bytes(settings) for text in OLD_TEXTS[:3])

    tally = await kota.app[RETENTION].run()

    assert (tally.appointments, tally.participants, tally.bookings, tally.enrolments) == (
        3, 5, 1, 1)
    assert _statistics(settings) == before
    # The usage log only grew: one row per object, actor system, no names.
    log_after = _rows(settings, "SELECT * FROM audit_log ORDER BY id")
    assert log_after[:len(log_before)] == log_before
    assert sorted(_removal_rows(settings), key=str) == sorted([
        ("system", None, made["booked"], '{"participants":1}'),
        ("system", None, made["held"], '{"participants":3}'),
        ("system", None, made["cancelled"], '{"participants":1}'),
        ("system", None, None, f'{{"booking":{made["expired_booking"]}}}'),
        ("system", None, None,
         f'{{"enrolment":{made["old_enrolment"]},"line":{made["line"]}}}'),
    ], key=str)
    old = (made["booked"], made["held"], made["cancelled"])
    assert _rows(settings, "SELECT DISTINCT display_name, contact FROM participants"
                           " WHERE appointment_id IN (?, ?, ?)", *old) == [("", None)]
    assert _rows(settings, "SELECT display_name, contact FROM participants"
                           " WHERE appointment_id = ?", made["young"]) == [
        ("Nuori Pysyva", "0409998877")]
    assert _rows(settings, "SELECT id FROM appointments WHERE personal_data_removed_at"
                           " IS NOT NULL ORDER BY id") == [(i,) for i in sorted(old)]
    assert _rows(settings, "SELECT DISTINCT display_name, contact, topic FROM bookings") == [
        ("", "", "")]
    assert _rows(settings, "SELECT DISTINCT recipient FROM outbox WHERE appointment_id"
                           " IN (?, ?, ?) OR booking_id IS NOT NULL", *old) == [("",)]
    assert _rows(settings, "SELECT family_name FROM line_enrolments ORDER BY id") == [
        (REMOVED_NAME,), ("Aktiiviset Perheet",)]
    # Nothing of the removed text is left in the file, its free pages or its log.
    raw = file_bytes(settings)
    assert [t for t in OLD_TEXTS if t.encode() in raw] == []
    assert all(text.encode() in raw for text in YOUNG_TEXTS)

    # Idempotent: a second run finds nothing and writes nothing.
    again = await kota.app[RETENTION].run()
    assert (again.appointments, again.bookings, again.enrolments) == (0, 0, 0)
    assert len(_removal_rows(settings)) == 5


async def test_a_removed_appointment_cannot_be_given_personal_data_again(
    kota: TestServer, settings: Settings, staff_client: SignIn, accounts: Accounts,
    clock: Clock,
) -> None:
    made = await _populate(kota, settings, staff_client, accounts, clock)
    clock.set(local(4, 0) + timedelta(days=RETENTION_DAYS + 5))
    await kota.app[RETENTION].run()
    sanna = await staff_client("sanna")
    resp = await sanna.post(f"/api/appointments/{made['held']}/participants",
                            json=_person("Uusi Nimi", "0405556677"))
    await assert_error(resp, 409, "appointment_over")
    resp = await sanna.patch(f"/api/appointments/{made['held']}",
                             json={"kind": "family_counselling"})
    await assert_error(resp, 409, "appointment_over")
    assert _rows(settings, "SELECT COUNT(*) FROM participants WHERE display_name != ''"
                           " AND appointment_id = ?", made["held"]) == [(0,)]


async def test_a_staff_write_racing_the_removal_leaves_one_consistent_state(
    kota: TestServer, settings: Settings, staff_client: SignIn, accounts: Accounts,
    clock: Clock,
) -> None:
    """Staff add a person to each of many ended appointments while the removal runs:
    each add either lands first (and is then cleared) or is refused; never a name in a
    removed appointment, and each removal row counts the rows it cleared."""
    clock.set(local(4, 7, 30))
    sanna = await staff_client("sanna")
    ids = [(await book(sanna, start=local(4, 9) + timedelta(hours=i),
                       participants=[_person(f"Vanha {i}")]))["id"] for i in range(12)]
    clock.set(local(4, 0) + timedelta(days=RETENTION_DAYS + 5))
    sanna = await staff_client("sanna")  # the earlier session ran out with the clock

    async def add(appointment_id: int) -> int:
        resp = await sanna.post(f"/api/appointments/{appointment_id}/participants",
                                json=_person("Kilpailija Lisatty", "0401231231"))
        status: int = resp.status
        return status

    statuses, _ = await asyncio.gather(asyncio.gather(*(add(i) for i in ids)),
                                       kota.app[RETENTION].run())
    assert set(statuses) <= {201, 409}, statuses
    assert _rows(settings, "SELECT COUNT(*) FROM participants WHERE display_name != ''") == [
        (0,)]
    counted = {row[2]: json.loads(row[3])["participants"] for row in _removal_rows(settings)}
    assert set(counted) == set(ids)
    for appointment_id, status in zip(ids, statuses, strict=True):
        assert counted[appointment_id] == (2 if status == 201 else 1)
        [(rows,)] = _rows(settings, "SELECT COUNT(*) FROM participants WHERE"
                                    " appointment_id = ?", appointment_id)
        assert rows == counted[appointment_id]
    assert b"Kilpailija" not in file_bytes(settings)


async def test_a_live_call_is_never_touched(
    kota: TestServer, settings: Settings, staff_client: SignIn, accounts: Accounts,
    clock: Clock,
) -> None:
    """An appointment whose room is live waits for the next pass, whatever its age."""
    clock.set(local(4, 7, 30))
    sanna = await staff_client("sanna")
    made = await book(sanna, start=local(4, 8), participants=[_person("Puhelussa Oleva")])
    clock.set(local(4, 8, 5))
    rooms = kota.app[ROOMS]
    live = await rooms.enter(str(made["id"]))
    clock.set(local(4, 0) + timedelta(days=RETENTION_DAYS + 5))
    tally = await kota.app[RETENTION].run()
    assert (tally.appointments, tally.skipped_live) == (0, 1)
    assert _rows(settings, "SELECT display_name FROM participants") == [("Puhelussa Oleva",)]
    rooms.drop(live)
    tally = await kota.app[RETENTION].run()
    assert tally.appointments == 1
    assert _rows(settings, "SELECT display_name FROM participants") == [("",)]


async def test_nothing_younger_than_the_period_is_touched(
    kota: TestServer, settings: Settings, staff_client: SignIn, accounts: Accounts,
    clock: Clock,
) -> None:
    made = await _populate(kota, settings, staff_client, accounts, clock)
    # A day short of the period for the last old appointment (Thursday the 7th).
    clock.set(local(7, 9) + timedelta(days=RETENTION_DAYS - 1))
    await kota.app[RETENTION].run()
    removed = {row[2] for row in _removal_rows(settings)}
    assert made["cancelled"] not in removed and made["young"] not in removed
    assert _rows(settings, "SELECT display_name FROM participants WHERE appointment_id = ?",
                 made["cancelled"]) == [("Peruttu Perhe",)]


async def test_the_command_removes_the_same_at_once(
    kota: TestServer, settings: Settings, staff_client: SignIn, accounts: Accounts,
    clock: Clock,
) -> None:
    """``kota retention run`` (real time: the January 2027 objects are not yet old, so
    the period is the minimum and the test's objects are moved back a year)."""
    made = await _populate(kota, settings, staff_client, accounts, clock)
    await kota.close()
    year = "-1 year"
    with sqlite3.connect(settings.db_path) as conn:
        conn.execute("UPDATE appointments SET starts_at = strftime('%Y-%m-%dT%H:%M:%SZ',"
                     " starts_at, ?), ends_at = strftime('%Y-%m-%dT%H:%M:%SZ', ends_at, ?)"
                     " WHERE id != ?", (year, year, made["young"]))
    done = await run_kota(settings, "retention", "run", KOTA_RETENTION_DAYS="2")
    assert done.returncode == 0, done.stderr
    assert "removed the personal data of 3 appointments (5 participants)" in done.stdout
    assert _rows(settings, "SELECT COUNT(*) FROM participants WHERE display_name != ''") == [
        (1,)]
    verified = await run_kota(settings, "audit", "verify")
    assert verified.returncode == 0, verified.stdout


async def test_the_access_report_by_contact_no_longer_finds_removed_people(
    kota: TestServer, settings: Settings, staff_client: SignIn, accounts: Accounts,
    clock: Clock,
) -> None:
    """The contact is what an access report by contact searches; once removed it
    matches nothing (docs/audit.md)."""
    await _populate(kota, settings, staff_client, accounts, clock)
    clock.set(local(4, 0) + timedelta(days=RETENTION_DAYS + 5))
    await kota.app[RETENTION].run()
    assert _rows(settings, "SELECT COUNT(*) FROM participants WHERE contact = ?",
                 "0401112233") == [(0,)]
    assert _rows(settings, "SELECT COUNT(*) FROM bookings WHERE contact = ? COLLATE NOCASE",
                 "maija.kuusela@example.fi") == [(0,)]

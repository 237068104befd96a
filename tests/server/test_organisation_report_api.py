"""The organisation report over HTTP: JSON, CSV and XLSX say the same, only admins read
it, every read is logged, bad ranges are refused, and a booked appointment belongs to
its service (docs/reports.md)."""

from __future__ import annotations

import asyncio
import csv
import io
import json
import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import openpyxl
import pytest
from aiohttp.test_utils import TestServer

from server.app_keys import AUDIT
from server.audit import SYSTEM, Actor
from server.db import Database, load_migrations
from server.report_exports import LINE_COLUMNS, ROW_COLUMNS, flat
from server.settings import Settings
from signalling.effects import CallAction
from tests.conftest import Accounts, StaffClient, assert_error
from tests.server.booking_helpers import (
    HELSINKI,
    booking_settings,
    bookings,
    confirm_token,
    hold,
    local,
    make_service,
    open_service,
)
from tests.server.conftest import Clock, SignIn, appointment_body

DAY = datetime(2027, 1, 11, 10, 0, tzinfo=HELSINKI)  # a Monday a week after MONDAY


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    """Messaging on: a family's hold needs a way to send its confirm link."""
    return booking_settings(tmp_path)


def report_reads(settings: Settings) -> list[dict[str, Any]]:
    with sqlite3.connect(settings.db_path) as conn:
        found = conn.execute("SELECT actor_id, detail FROM audit_log"
                             " WHERE action = 'report.read' ORDER BY id").fetchall()
    return [{"actor": a, **json.loads(d)} for a, d in found]


async def _book(client: StaffClient, start: datetime, **fields: Any) -> dict[str, Any]:
    resp = await client.post("/api/appointments", json=appointment_body(start, 60, **fields))
    body: dict[str, Any] = await resp.json()
    assert resp.status == 201, body
    return body


async def _a_month_of_calls(kota: TestServer, staff_client: SignIn, accounts: Accounts,
                            clock: Clock) -> tuple[StaffClient, dict[str, Any]]:
    """Two held calls (one over midnight), one no-show, one cancelled, a test, a
    sound-only switch and a line served — the call rows posted as the call posts them."""
    admin, service = await open_service(staff_client, accounts, clock)
    evil = await make_service(admin, accounts, slug="toinen", name="=HYPERLINK(\"x\")")
    resp = await admin.put(f"/api/services/{service['id']}/travel",
                           json={"distances": [{"municipality": "Inari", "km": 42,
                                                "minutes": 45}]})
    assert resp.status == 200
    sanna = await staff_client("sanna")
    held = await _book(sanna, DAY, service_id=service["id"], municipality="Inari")
    late = await _book(sanna, DAY.replace(hour=23, minute=30), service_id=evil["id"],
                       travel_km=5.5, travel_minutes=10)
    await _book(sanna, DAY + timedelta(days=1), service_id=service["id"])  # nobody comes
    cancelled = await _book(sanna, DAY + timedelta(days=2), service_id=service["id"])
    resp = await sanna.post(f"/api/appointments/{cancelled['id']}/cancel")
    assert resp.status == 200
    log = kota.app[AUDIT]
    staff = Actor.staff(accounts.worker.id)
    for appointment, wait, minutes in ((held, 95, 40), (late, 300, 50)):
        pid = appointment["participants"][0]["id"]
        family = Actor.participant(pid)
        start = datetime.fromisoformat(appointment["starts_at"])
        log.post(family, CallAction.WAITING_ENTERED, appointment["id"], pid, at=start)
        admitted = start + timedelta(seconds=wait)
        log.post(staff, CallAction.ADMISSION_ADMITTED, appointment["id"], pid, at=admitted)
        log.post(family, CallAction.CALL_JOINED, appointment["id"], pid, at=admitted)
        log.post(family, CallAction.CALL_LEFT, appointment["id"], pid, {"reason": "left"},
                 at=admitted + timedelta(minutes=minutes))
    pid = held["participants"][0]["id"]
    log.post(Actor.participant(pid), "connection_test.completed", held["id"], pid,
             {"verdict": "audio_only"}, at=DAY)
    log.post(Actor.participant(pid), "call.sound_only", held["id"], pid,
             {"on": True, "weak": True}, at=DAY + timedelta(minutes=5))
    log.post(staff, "line.taken", detail={"line": 1, "waited_s": 120}, at=DAY)
    log.post(SYSTEM, "line.left",
             detail={"line": 1, "reason": "left", "waited_s": 30}, at=DAY)
    clock.set(DAY + timedelta(days=5))
    return admin, service


async def test_json_csv_and_xlsx_agree_and_each_read_is_logged(
    kota: TestServer, staff_client: SignIn, accounts: Accounts, clock: Clock,
    settings: Settings,
) -> None:
    await _a_month_of_calls(kota, staff_client, accounts, clock)
    admin = await staff_client("admin")  # the clock moved past the first sign-in
    resp = await admin.get("/api/reports/organisation?from=2027-01&to=2027-01")
    report = await resp.json()
    assert resp.status == 200, report
    assert resp.headers["Cache-Control"] == "no-store"
    assert (report["from"], report["to"], report["timezone"]) == (
        "2027-01", "2027-01", "Europe/Helsinki")
    by_service = {r["service"]: r for r in report["rows"]}
    main = by_service["Perheneuvola, Inari"]
    assert (main["appointments"], main["held"], main["no_show"], main["cancelled"]) == (
        3, 1, 1, 1)
    assert (main["participant_minutes"], main["participants_joined"],
            main["waiting_median_s"], main["tests"]["audio_only"],
            main["sound_only_switches"], main["travel_km"], main["travel_hours"]) == (
        40.0, 1, 95, 1, 1, 84.0, 1.5)
    late = by_service['=HYPERLINK("x")']
    # Over midnight: all 50 minutes, in the month it started.
    assert (late["participant_minutes"], late["month"], late["travel_km"],
            late["travel_hours"]) == (50.0, "2027-01", 11.0, 0.33)
    assert report["totals"]["held"] == 2 and report["totals"]["participant_minutes"] == 90.0
    assert report["totals"]["waiting_median_s"] == 95
    assert report["totals"]["waiting_p90_s"] == 300
    assert [(r["staff_id"], r["served"], r["left_waiting"]) for r in report["lines"]] == [
        (accounts.worker.id, 1, 0), (None, 0, 1)]

    resp = await admin.get("/api/reports/organisation.csv?from=2027-01&to=2027-01")
    assert resp.status == 200
    assert resp.headers["Content-Type"].startswith("text/csv")
    assert resp.headers["Cache-Control"] == "no-store"
    assert resp.headers["Content-Disposition"] == (
        'attachment; filename="kota-report-2027-01-2027-01.csv"')
    text = (await resp.read()).decode("utf-8-sig")
    rows_part, lines_part = text.split("\r\n\r\n")
    rows = list(csv.DictReader(io.StringIO(rows_part)))
    lines = list(csv.DictReader(io.StringIO(lines_part)))
    expected = [*(flat(r) for r in report["rows"]), {"month": "total", **flat(report["totals"])}]

    def as_text(row: dict[str, Any], columns: tuple[str, ...]) -> dict[str, str]:
        return {c: "" if row.get(c) is None else str(row.get(c)) for c in columns}

    # A name a spreadsheet would run as a formula is shown as text.
    safe = [{**as_text(r, ROW_COLUMNS),
             "service": "'" + r["service"] if str(r.get("service")).startswith("=")
             else as_text(r, ROW_COLUMNS)["service"]} for r in expected]
    assert rows == safe
    assert lines == [as_text(r, LINE_COLUMNS) for r in report["lines"]]

    resp = await admin.get("/api/reports/organisation.xlsx?from=2027-01&to=2027-01")
    assert resp.status == 200
    assert resp.headers["Content-Disposition"].endswith('.xlsx"')
    book = openpyxl.load_workbook(io.BytesIO(await resp.read()))
    assert book.sheetnames == ["report", "lines"]

    def sheet(name: str) -> list[dict[str, Any]]:
        header, *body = book[name].iter_rows(values_only=True)
        return [dict(zip(header, row, strict=True)) for row in body]

    assert sheet("report") == [{c: r.get(c) for c in ROW_COLUMNS} for r in expected]
    assert sheet("lines") == [{c: r.get(c) for c in LINE_COLUMNS} for r in report["lines"]]
    cell = book["report"].cell(row=3, column=3)
    assert cell.data_type == "s"  # the "=" name is text, never a formula
    assert report_reads(settings) == [
        {"actor": accounts.admin.id, "format": f, "months": 1} for f in ("json", "csv", "xlsx")]


async def test_a_confirmed_booking_belongs_to_its_service(
    kota: TestServer, staff_client: SignIn, accounts: Accounts, clock: Clock,
    settings: Settings, family: aiohttp.ClientSession,
) -> None:
    _, service = await open_service(staff_client, accounts, clock)
    status, body = await hold(family, local(4, 10))
    assert status == 201, body
    [held] = bookings(settings)
    resp = await family.post("/api/book/confirm", json={"token": confirm_token(settings, held)})
    assert resp.status == 200, await resp.text()
    [confirmed] = bookings(settings)
    sanna = await staff_client("sanna")
    admin = await staff_client("admin")
    for client in (sanna, admin):
        resp = await client.get(f"/api/appointments/{confirmed.appointment_id}")
        if resp.status == 200:
            assert (await resp.json())["service_id"] == service["id"]
            break
    else:
        raise AssertionError("nobody could read the appointment")


async def test_the_migration_gives_booked_appointments_their_service(tmp_path: Path) -> None:
    """0012 on a file at 0011 with a confirmed booking fills the appointment's service."""
    db = Database(tmp_path / "kota.sqlite3")
    await db.open()
    try:
        async with db._write_lock:
            await db._w.executescript(
                "BEGIN;" + "".join(m.sql for m in load_migrations() if m.version <= 11)
                + "PRAGMA user_version = 11; COMMIT;")
        await db._w.executescript("""
            INSERT INTO staff VALUES (1, 's', 'S', 'professional', 'x', 1, 'T0');
            INSERT INTO services (id, slug, name, slot_minutes, created_at)
                VALUES (7, 'p', 'P', 30, 'T0');
            INSERT INTO appointments (id, starts_at, ends_at, kind, host_id, created_by,
                created_at, updated_at) VALUES
                (1, 'T0', 'T1', 'other', 1, 1, 'T0', 'T0'),
                (2, 'T0', 'T1', 'other', 1, 1, 'T0', 'T0');
            INSERT INTO bookings (service_id, staff_id, kind, starts_at, ends_at, state,
                hold_expires_at, display_name, contact, channel, language, confirm_nonce,
                manage_nonce, appointment_id, created_at) VALUES
                (7, 1, 'other', 'T0', 'T1', 'confirmed', 'T0', 'M',
                 'm@x.fi', 'email', 'fi', 'a', 'b', 1, 'T0');
        """)
        assert 12 in await db.migrate()
        found = await db._fetchall("SELECT id, service_id FROM appointments ORDER BY id")
        assert [tuple(r) for r in found] == [(1, 7), (2, None)]
    finally:
        await db.close()


@pytest.mark.parametrize("query", [
    "", "?from=2027-01", "?to=2027-01", "?from=2027-13&to=2027-12", "?from=2027-1&to=2027-02",
    "?from=abcd-ef&to=2027-01", "?from=2027-01%0A&to=2027-01", "?from=2027-00&to=2027-01",
    "?from=2027-02&to=2027-01", "?from=2024-01&to=2027-01", "?from=1969-12&to=1970-01",
    "?from=%EF%BC%92%EF%BC%90%EF%BC%92%EF%BC%97-01&to=2027-01",  # full-width digits
])
async def test_bad_months_are_422_and_not_logged(
    staff_client: SignIn, settings: Settings, query: str,
) -> None:
    admin = await staff_client("admin")
    for ext in ("", ".csv", ".xlsx"):
        resp = await admin.get(f"/api/reports/organisation{ext}{query}")
        await assert_error(resp, 422, "invalid_field")
    assert report_reads(settings) == []


async def test_thirty_six_months_is_the_longest_report(
    staff_client: SignIn, settings: Settings,
) -> None:
    admin = await staff_client("admin")
    resp = await admin.get("/api/reports/organisation?from=2024-02&to=2027-01")
    body = await resp.json()
    assert resp.status == 200, body
    assert body["rows"] == [] and body["lines"] == [] and body["totals"]["held"] == 0
    assert report_reads(settings)[0]["months"] == 36


async def test_only_admins_read_reports(
    kota: TestServer, staff_client: SignIn, settings: Settings,
) -> None:
    sanna = await staff_client("sanna")
    async with aiohttp.ClientSession() as anonymous:
        for ext in ("", ".csv", ".xlsx"):
            path = f"/api/reports/organisation{ext}?from=2027-01&to=2027-01"
            await assert_error(await sanna.get(path), 403, "admin_only")
            await assert_error(await anonymous.get(kota.make_url(path)), 401, "not_signed_in")
    assert report_reads(settings) == []


def test_month_bounds_are_local_midnights() -> None:
    from server.report_reader import month_range

    start, end = month_range("2026-03", "2026-10").bounds(HELSINKI)
    assert start.astimezone(UTC) == datetime(2026, 2, 28, 22, tzinfo=UTC)
    assert end.astimezone(UTC) == datetime(2026, 10, 31, 22, tzinfo=UTC)


async def test_a_chosen_service_kind_or_professional_is_counted_exactly(
    kota: TestServer, staff_client: SignIn, accounts: Accounts, clock: Clock,
    settings: Settings,
) -> None:
    """The server narrows the rows and counts the totals and months afresh, so a wait's
    median and 90th percentile over the choice are exact, not mixed from groups."""
    _, service = await _a_month_of_calls(kota, staff_client, accounts, clock)
    admin = await staff_client("admin")

    async def read(query: str, ext: str = "") -> Any:
        resp = await admin.get(f"/api/reports/organisation{ext}?from=2027-01&to=2027-01{query}")
        assert resp.status == 200, await resp.text()
        return await resp.json() if not ext else (await resp.read()).decode("utf-8-sig")

    everything = await read("")
    choices = everything["choices"]
    evil = next(c["id"] for c in choices["services"] if c["id"] != service["id"])
    assert {c["id"] for c in choices["services"]} == {service["id"], evil}
    assert [c["id"] for c in choices["staff"]] == [accounts.worker.id]
    kind = everything["rows"][0]["kind"]
    assert choices["kinds"] == [kind]
    assert [m["month"] for m in everything["months"]] == ["2027-01"]
    assert {k: v for k, v in everything["months"][0].items() if k != "month"} == \
        everything["totals"]

    main = await read(f"&service={service['id']}")
    assert {r["service_id"] for r in main["rows"]} == {service["id"]}
    assert (main["totals"]["held"], main["totals"]["waiting_median_s"],
            main["totals"]["waiting_p90_s"]) == (1, 95, 95)
    assert main["choices"] == choices  # what there is to choose stays
    assert main["lines"] == everything["lines"]  # a line has no service
    other = await read(f"&service={evil}&staff={accounts.worker.id}&kind={kind}")
    assert (other["totals"]["held"], other["totals"]["waiting_median_s"]) == (1, 300)
    assert [r["staff_id"] for r in other["lines"]] == [accounts.worker.id]
    for query in ("&service=none", "&staff=999999", "&service=999999"):
        nothing = await read(query)
        assert nothing["rows"] == [] and nothing["totals"]["appointments"] == 0, query
        assert nothing["months"][0]["appointments"] == 0
    assert (await read("&staff=999999"))["lines"] == []

    text = await read(f"&service={evil}", ".csv")
    rows = list(csv.DictReader(io.StringIO(text.split("\r\n\r\n")[0])))
    assert [r["service_id"] for r in rows] == [str(evil), ""]
    assert rows[-1]["month"] == "total" and rows[-1]["waiting_median_s"] == "300"
    assert report_reads(settings)[1:] == [
        {"actor": accounts.admin.id, "format": "json", "months": 1, "service": service["id"]},
        {"actor": accounts.admin.id, "format": "json", "months": 1, "service": evil,
         "kind": kind, "staff": accounts.worker.id},
        {"actor": accounts.admin.id, "format": "json", "months": 1, "service": "none"},
        {"actor": accounts.admin.id, "format": "json", "months": 1, "staff": 999999},
        {"actor": accounts.admin.id, "format": "json", "months": 1, "service": 999999},
        {"actor": accounts.admin.id, "format": "json", "months": 1, "staff": 999999},
        {"actor": accounts.admin.id, "format": "csv", "months": 1, "service": evil},
    ]


@pytest.mark.parametrize("query", [
    "&service=abc", "&service=0", "&service=-1", "&service=1.5", "&service=%EF%BC%91",
    "&service=99999999999999999999", "&kind=lastensuojelu", "&kind=CHILD_PROTECTION",
    "&staff=x", "&staff=0", "&staff=none",
])
async def test_bad_choices_are_422_naming_the_field_and_not_logged(
    staff_client: SignIn, settings: Settings, query: str,
) -> None:
    admin = await staff_client("admin")
    field = query[1:].split("=", 1)[0]
    for ext in ("", ".csv", ".xlsx"):
        resp = await admin.get(f"/api/reports/organisation{ext}?from=2027-01&to=2027-01{query}")
        body = await assert_error(resp, 422, "invalid_field")
        assert body["error"].get("field") == field, body
    assert report_reads(settings) == []


async def test_ten_chosen_reads_at_once_each_log_their_choice(
    kota: TestServer, staff_client: SignIn, accounts: Accounts, clock: Clock,
    settings: Settings,
) -> None:
    _, service = await _a_month_of_calls(kota, staff_client, accounts, clock)
    admin = await staff_client("admin")
    queries = [f"&service={service['id']}" if n % 2 else f"&staff={accounts.worker.id}"
               for n in range(10)]
    answers = await asyncio.gather(*(
        admin.get(f"/api/reports/organisation?from=2027-01&to=2027-01{q}") for q in queries))
    bodies = [await resp.json() for resp in answers]
    assert [resp.status for resp in answers] == [200] * 10
    assert len({json.dumps(b, sort_keys=True) for b in bodies}) == 2
    logged = report_reads(settings)
    assert sorted(json.dumps(r, sort_keys=True) for r in logged) == sorted(
        json.dumps({"actor": accounts.admin.id, "format": "json", "months": 1,
                    **({"service": service["id"]} if n % 2 else
                       {"staff": accounts.worker.id})}, sort_keys=True) for n in range(10))

"""The usage log: a row for every login, read, change and link event; no content; append-only;
hash-chained so that ``kota audit verify`` finds a changed or deleted row; admin CSV export."""

from __future__ import annotations

import csv
import io
import json
import sqlite3
from collections.abc import AsyncIterator
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import aiohttp
import pytest
from aiohttp.test_utils import TestServer

from server.app_keys import AUDIT, DB
from server.audit import CSV_COLUMNS
from server.audit_chain import AuditChain, read_key, verify_chain
from server.db import load_migrations, parse_db_time
from server.records import AuditRow
from server.settings import Settings
from tests.conftest import PASSWORD, Accounts, StaffClient, assert_error
from tests.server.conftest import (
    MAIJA,
    MAIJA_CONTACT,
    Clock,
    SignIn,
    book,
    copy_link,
    link_path,
    run_kota,
)

HELSINKI = ZoneInfo("Europe/Helsinki")
VILLE = "Ville Virtanen"
VILLE_CONTACT = "ville@example.fi"

Row = tuple[str, int | None, str, int | None, int | None]


async def _rows(kota: TestServer, after: int = 0) -> list[AuditRow]:
    await kota.app[AUDIT].flush()  # refusals and call rows are queued, then written
    return [r async for r in kota.app[DB].iter_audit_rows() if r.id > after]


def _short(rows: list[AuditRow]) -> list[Row]:
    return [(r.actor_kind, r.actor_id, r.action, r.appointment_id, r.subject_id) for r in rows]


async def _last_id(kota: TestServer) -> int:
    rows = await _rows(kota)
    return rows[-1].id if rows else 0


@pytest.fixture
async def activity(
    kota: TestServer, accounts: Accounts, family: aiohttp.ClientSession
) -> dict[str, Any]:
    """A working day in miniature; returns what it made, including the secrets it saw."""
    client = StaffClient(str(kota.make_url("")).rstrip("/"))
    try:
        assert (await client.login("sanna", "wrong password")).status == 401
        assert (await client.login("nobody", "wrong password")).status == 401
        assert (await client.login("sanna")).status == 201
        created = await book(client)
        aid = created["id"]
        pid = created["participants"][0]["id"]
        day = datetime.fromisoformat(created["starts_at"]).date()
        assert (await client.get(f"/api/appointments?date={day}")).status == 200
        assert (await client.get(f"/api/appointments/{aid}")).status == 200
        assert (
            await client.patch(f"/api/appointments/{aid}", json={"kind": "other"})
        ).status == 200
        first = await copy_link(client, created)
        assert (await family.post("/api/join", json={"token": first})).status == 200
        renewed = await client.post(link_path(created))
        assert renewed.status == 201
        second = (await renewed.json())["url"].partition("#")[2]
        assert (await family.post("/api/join", json={"token": first})).status == 401
        assert (await client.delete(link_path(created))).status == 204
        resp = await client.post(
            f"/api/appointments/{aid}/participants",
            json={"display_name": VILLE, "role": "child", "contact": VILLE_CONTACT},
        )
        ville = (await resp.json())["id"]
        third = await copy_link(
            client, await (await client.get(f"/api/appointments/{aid}")).json(), 1
        )
        assert (await client.delete(f"/api/appointments/{aid}/participants/{ville}")).status == 204
        assert (await client.post(f"/api/appointments/{aid}/cancel")).status == 200
        assert (await client.delete("/api/session")).status == 204
    finally:
        await client.close()
    return {
        "appointment": aid,
        "maija": pid,
        "ville": ville,
        "tokens": [first, second, third],
        "secrets": [MAIJA, MAIJA_CONTACT, VILLE, VILLE_CONTACT, first, second, third],
    }


async def test_every_step_writes_a_row(
    kota: TestServer, accounts: Accounts, activity: dict[str, Any]
) -> None:
    sanna = accounts.worker.id
    aid, maija, ville = activity["appointment"], activity["maija"], activity["ville"]
    assert _short(await _rows(kota)) == [
        ("staff", sanna, "staff.login_failed", None, None),
        ("system", None, "staff.login_failed", None, None),
        ("staff", sanna, "staff.login", None, None),
        ("staff", sanna, "appointment.created", aid, None),
        ("staff", sanna, "participant.added", aid, maija),
        ("staff", sanna, "link.issued", aid, maija),
        ("staff", sanna, "appointment.listed", aid, None),
        ("staff", sanna, "appointment.read", aid, None),
        ("staff", sanna, "appointment.updated", aid, None),
        ("staff", sanna, "link.read", aid, maija),
        ("participant", maija, "link.opened", aid, maija),
        ("staff", sanna, "link.issued", aid, maija),
        ("participant", maija, "link.refused", aid, maija),
        ("staff", sanna, "link.revoked", aid, maija),
        ("staff", sanna, "participant.added", aid, ville),
        ("staff", sanna, "link.issued", aid, ville),
        ("staff", sanna, "appointment.read", aid, None),
        ("staff", sanna, "link.read", aid, ville),
        ("staff", sanna, "participant.removed", aid, ville),
        ("staff", sanna, "appointment.cancelled", aid, None),
        ("staff", sanna, "staff.logout", None, None),
    ]


async def test_a_refused_link_row_says_why_and_nothing_else(
    kota: TestServer, activity: dict[str, Any]
) -> None:
    refused = [r for r in await _rows(kota) if r.action == "link.refused"]
    assert [json.loads(r.detail) for r in refused] == [{"count": 1, "reason": "link_revoked"}]
    others = [r.detail for r in await _rows(kota) if r.action != "link.refused"]
    assert set(others) == {""}


async def test_usage_log_holds_no_names_contacts_or_tokens(
    kota: TestServer, settings: Settings, activity: dict[str, Any], staff_client: SignIn
) -> None:
    admin = await staff_client("admin")
    today = datetime.now(HELSINKI).date()
    resp = await admin.get(f"/api/audit.csv?from={today}&to={today}")
    assert resp.status == 200
    exported = await resp.text()
    assert len(exported.splitlines()) > 20
    for secret in activity["secrets"]:
        assert secret not in exported, secret
    await kota.close()
    # Only the participants table may hold names and contacts; no table holds a token.
    with sqlite3.connect(settings.db_path) as conn:
        tables = [n for (n,) in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        for table in tables:
            cells = json.dumps(conn.execute(f"SELECT * FROM {table}").fetchall())  # noqa: S608
            for secret in activity["secrets"]:
                if table == "participants" and secret not in activity["tokens"]:
                    continue
                assert secret not in cells, (table, secret)
    for path in settings.data_dir.iterdir():
        content = path.read_bytes()
        for token in activity["tokens"]:
            assert token.encode() not in content, path


def test_audit_log_refuses_update_and_delete(tmp_path: Path) -> None:
    path = tmp_path / "kota.sqlite3"
    with sqlite3.connect(path) as conn:
        for migration in load_migrations():
            conn.executescript(migration.sql)
        conn.execute(
            "INSERT INTO audit_log (at, actor_kind, action, prev_hash, hash)"
            " VALUES ('2026-01-01T00:00:00Z', 'system', 'staff.created', 'x', 'y')"
        )
        with pytest.raises(sqlite3.IntegrityError, match="append-only"):
            conn.execute("UPDATE audit_log SET action = 'staff.login'")
        with pytest.raises(sqlite3.IntegrityError, match="append-only"):
            conn.execute("DELETE FROM audit_log")
        assert conn.execute("SELECT action FROM audit_log").fetchall() == [("staff.created",)]


# -- hash chain ------------------------------------------------------------------


async def test_untouched_log_verifies(
    kota: TestServer, settings: Settings, activity: dict[str, Any]
) -> None:
    count = len(await _rows(kota))
    await kota.close()
    done = await run_kota(settings, "audit", "verify")
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"intact: {count} rows" in done.stdout


async def test_changed_row_is_found(
    kota: TestServer, settings: Settings, activity: dict[str, Any]
) -> None:
    target = next(r.id for r in await _rows(kota) if r.action == "link.opened")
    await kota.close()
    with sqlite3.connect(settings.db_path) as conn:
        conn.execute("DROP TRIGGER audit_log_no_update")
        conn.execute("UPDATE audit_log SET actor_id = 999 WHERE id = ?", (target,))
    done = await run_kota(settings, "audit", "verify")
    assert done.returncode == 1, done.stdout
    assert f"BROKEN at row {target}:" in done.stdout


async def test_row_with_an_unreadable_time_is_found(
    kota: TestServer, settings: Settings, activity: dict[str, Any]
) -> None:
    target = next(r.id for r in await _rows(kota) if r.action == "appointment.read")
    await kota.close()
    with sqlite3.connect(settings.db_path) as conn:
        conn.execute("DROP TRIGGER audit_log_no_update")
        conn.execute("UPDATE audit_log SET at = 'yesterday' WHERE id = ?", (target,))
    done = await run_kota(settings, "audit", "verify")
    assert done.returncode == 1, done.stdout + done.stderr
    assert f"BROKEN at row {target}:" in done.stdout
    assert "Traceback" not in done.stderr


async def test_changed_row_with_recomputed_hash_is_found(
    kota: TestServer, settings: Settings, activity: dict[str, Any]
) -> None:
    """Rewriting a row's own hash, even with the key, does not help: the next row no
    longer follows it."""
    rows = await _rows(kota)
    target = next(r for r in rows if r.action == "link.opened")
    await kota.close()
    changed = AuditRow(**{**target.__dict__, "actor_id": 999})
    with sqlite3.connect(settings.db_path) as conn:
        conn.execute("DROP TRIGGER audit_log_no_update")
        conn.execute(
            "UPDATE audit_log SET actor_id = 999, hash = ? WHERE id = ?",
            (
                AuditChain(read_key(settings.audit_key_path)).row_hash(
                    target.prev_hash, target.id, changed
                ),
                target.id,
            ),
        )
    done = await run_kota(settings, "audit", "verify")
    assert done.returncode == 1
    assert f"BROKEN at row {target.id + 1}:" in done.stdout


async def test_deleted_row_is_found(
    kota: TestServer, settings: Settings, activity: dict[str, Any]
) -> None:
    target = next(r.id for r in await _rows(kota) if r.action == "link.revoked")
    await kota.close()
    with sqlite3.connect(settings.db_path) as conn:
        conn.execute("DROP TRIGGER audit_log_no_delete")
        conn.execute("DELETE FROM audit_log WHERE id = ?", (target,))
    done = await run_kota(settings, "audit", "verify")
    assert done.returncode == 1, done.stdout
    assert f"row {target} is missing" in done.stdout


async def test_deleted_first_row_is_found(
    kota: TestServer, settings: Settings, activity: dict[str, Any]
) -> None:
    await kota.close()
    with sqlite3.connect(settings.db_path) as conn:
        conn.execute("DROP TRIGGER audit_log_no_delete")
        conn.execute("DELETE FROM audit_log WHERE id = 1")
    done = await run_kota(settings, "audit", "verify")
    assert done.returncode == 1, done.stdout
    assert "BROKEN at row 2:" in done.stdout


# -- CSV export --------------------------------------------------------------------


def _parse(text: str) -> list[dict[str, str]]:
    reader = csv.DictReader(io.StringIO(text))
    assert tuple(reader.fieldnames or ()) == CSV_COLUMNS
    return list(reader)


async def test_export_follows_helsinki_days(
    kota: TestServer, clock: Clock, staff_client: SignIn
) -> None:
    day = date(2026, 3, 10)
    clock.set(datetime.combine(day, time(0, 30), HELSINKI))  # 22:30 UTC the day before
    async with aiohttp.ClientSession() as session:
        resp = await session.post(
            kota.make_url("/api/session"), json={"username": "pekka", "password": "nope"}
        )
        assert resp.status == 401
    admin = await staff_client("admin")
    on_day = _parse(await (await admin.get(f"/api/audit.csv?from={day}&to={day}")).text())
    assert [r["action"] for r in on_day][:2] == ["staff.login_failed", "staff.login"]
    assert on_day[0]["at"].startswith("2026-03-09T22:30:")
    before = day - timedelta(days=1)
    resp = await admin.get(f"/api/audit.csv?from={before}&to={before}")
    assert resp.status == 200
    assert resp.headers["Content-Type"].startswith("text/csv")
    assert resp.headers["Cache-Control"] == "no-store"
    assert _parse(await resp.text()) == []


async def test_export_carries_a_verifiable_chain(
    activity: dict[str, Any], staff_client: SignIn, settings: Settings
) -> None:
    """An archived export can be checked on its own with the key, without the database."""
    admin = await staff_client("admin")
    today = datetime.now(HELSINKI).date()
    exported = _parse(await (await admin.get(f"/api/audit.csv?from={today}&to={today}")).text())

    def number(text: str) -> int | None:
        return int(text) if text else None

    async def rows() -> AsyncIterator[AuditRow]:
        for r in exported:
            yield AuditRow(
                id=int(r["id"]),
                at=parse_db_time(r["at"]),
                actor_kind=r["actor_kind"],
                actor_id=number(r["actor_id"]),
                action=r["action"],
                appointment_id=number(r["appointment_id"]),
                subject_id=number(r["subject_id"]),
                detail=r["detail"],
                prev_hash=r["prev_hash"],
                hash=r["hash"],
            )

    report = await verify_chain(rows(), AuditChain(read_key(settings.audit_key_path)))
    assert report.ok and report.rows_checked == len(exported) > 20


async def test_export_is_itself_logged(kota: TestServer, staff_client: SignIn) -> None:
    admin = await staff_client("admin")
    today = datetime.now(HELSINKI).date()
    rows = _parse(await (await admin.get(f"/api/audit.csv?from={today}&to={today}")).text())
    assert rows[-1]["action"] == "audit.exported"
    assert json.loads(rows[-1]["detail"]) == {"days": 1}


@pytest.mark.parametrize(
    "query",
    [
        "",
        "from=2026-01-01",
        "to=2026-01-01",
        "from=2026-01-02&to=2026-01-01",
        "from=2025-01-01&to=2026-01-02",
        "from=yesterday&to=today",
        "from=2026-13-01&to=2026-13-02",
        "from=0001-01-01&to=0001-01-02",
        "from=9999-12-30&to=9999-12-31",
    ],
    ids=[
        "no_range",
        "no_end",
        "no_start",
        "end_before_start",
        "more_than_366_days",
        "words",
        "month_13",
        "first_representable_day",
        "last_representable_day",
    ],
)
async def test_export_with_a_bad_range_is_a_bad_query(staff_client: SignIn, query: str) -> None:
    admin = await staff_client("admin")
    await assert_error(await admin.get(f"/api/audit.csv?{query}"), 400, "bad_query")


async def test_export_of_366_days_is_allowed(staff_client: SignIn) -> None:
    admin = await staff_client("admin")
    resp = await admin.get("/api/audit.csv?from=2024-01-01&to=2024-12-31")  # a leap year
    assert resp.status == 200
    _parse(await resp.text())


async def test_export_needs_a_signed_in_admin(family: aiohttp.ClientSession) -> None:
    await assert_error(
        await family.get("/api/audit.csv?from=2026-01-01&to=2026-01-01"), 401, "not_signed_in"
    )


async def test_failed_login_of_a_known_user_is_attributed_to_them(
    kota: TestServer, accounts: Accounts
) -> None:
    client = StaffClient(str(kota.make_url("")).rstrip("/"))
    try:
        assert (await client.login("pekka", PASSWORD + "x")).status == 401
    finally:
        await client.close()
    assert _short(await _rows(kota)) == [
        ("staff", accounts.specialist.id, "staff.login_failed", None, None)
    ]

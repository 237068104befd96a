"""The client's access report over HTTP: the family's own link and registry staff by contact,
against a real server, real SQLite and real call sockets."""

from __future__ import annotations

import asyncio
import io
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
import pypdf
from aiohttp.test_utils import TestServer
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from server.db import Database
from server.records import AuditRow, StaffRole
from server.settings import Settings
from tests.conftest import Accounts, StaffClient, assert_error
from tests.server.conftest import SignIn
from tests.signalling_live.conftest import CallClient, ws_url

REPORT = "/api/join/access-report"
SANNA_TITLE = "Sosiaalityöntekijä"
SAMI_NAME = "Áilu Čiđđa-Ŋuolja Šŧž"
MAIJA_EMAIL = "Maija.V@Example.fi"
Json = dict[str, Any]


async def staff_setup(settings: Settings, password_hash: str, accounts: Accounts) -> None:
    """Sanna gets her job title; Riikka is a registry account (made while Kota runs)."""
    db = Database(settings.db_path)
    await db.open()
    try:
        async with db.transaction() as tx:
            await tx.set_staff_title(accounts.worker.id, SANNA_TITLE, False)
            await tx.create_staff("riikka", "Riikka Näkkäläjärvi", StaffRole.PROFESSIONAL,
                                  password_hash, datetime.now(UTC), title="Kirjaamosihteeri",
                                  registry=True)
    finally:
        await db.close()


async def usage_rows(settings: Settings, action: str) -> list[AuditRow]:
    db = Database(settings.db_path)
    await db.open()
    try:
        return [row async for row in db.iter_audit_rows() if row.action == action]
    finally:
        await db.close()


async def all_log_text(settings: Settings) -> str:
    db = Database(settings.db_path)
    await db.open()
    try:
        return "\n".join([f"{r.action} {r.detail}" async for r in db.iter_audit_rows()])
    finally:
        await db.close()


async def make(staff: StaffClient, people: list[Json], *, hours: float = 0.02,
               kind: str = "family_counselling") -> Json:
    start = datetime.now(UTC).replace(microsecond=0) + timedelta(hours=hours)
    resp = await staff.post("/api/appointments", json={
        "starts_at": start.isoformat(), "ends_at": (start + timedelta(minutes=30)).isoformat(),
        "kind": kind, "participants": people})
    body: Json = await resp.json()
    assert resp.status == 201, body
    return body


async def token(staff: StaffClient, appointment: Json, index: int = 0) -> str:
    pid = appointment["participants"][index]["id"]
    resp = await staff.get(f"/api/appointments/{appointment['id']}/participants/{pid}/link")
    body = await resp.json()
    assert resp.status == 200, body
    return str(body["url"].split("#", 1)[1])


async def read_report(family: aiohttp.ClientSession, join_token: str) -> Json:
    resp = await family.post(REPORT, json={"token": join_token})
    body: Json = await resp.json()
    assert resp.status == 200, body
    assert resp.headers["Cache-Control"] == "no-store"
    return body


def whats(appointment: Json) -> dict[str, set[str]]:
    found: dict[str, set[str]] = {}
    for entry in appointment["entries"]:
        found.setdefault(entry["what"], set()).add(entry["who"])
    return found


MAIJA = {"display_name": "Maija Virtanen", "role": "guardian", "contact": MAIJA_EMAIL}
MATTI = {"display_name": "Matti Virtanen", "role": "child"}


async def test_family_report_after_a_real_call(
    kota: TestServer, clock: Any, settings: Settings, accounts: Accounts, password_hash: str,
    staff_client: SignIn, family: aiohttp.ClientSession,
) -> None:
    await staff_setup(settings, password_hash, accounts)
    sanna = await staff_client("sanna")
    appointment = await make(sanna, [MAIJA, MATTI])
    aid = appointment["id"]
    assert (await sanna.get(f"/api/appointments/{aid}")).status == 200
    resp = await sanna.patch(f"/api/appointments/{aid}", json={
        "ends_at": (datetime.fromisoformat(appointment["ends_at"])
                    + timedelta(minutes=15)).isoformat()})
    assert resp.status == 200, await resp.text()
    assert (await sanna.get("/api/appointments")).status == 200
    join_token = await token(sanna, appointment)
    host = await CallClient.connect(ws_url(kota, aid), sanna.session)
    guest = await CallClient.connect(ws_url(kota))
    try:
        await host.hello()
        await guest.hello(token=join_token)
        await host.until("knocked")
        await host.send("admit", participant=guest.participant)
        await guest.expect("admitted")
        clock.advance(minutes=20)
        await guest.send("leave")
        await host.until("peer-left")
    finally:
        await guest.close()
        await host.close()

    body = await read_report(family, join_token)
    assert body["timezone"] == "Europe/Helsinki"
    [item] = body["appointments"]
    assert item["starts_at"].endswith(("+02:00", "+03:00"))
    assert whats(item) == {w: {"Sanna Aikio"} for w in
                           ("opened", "changed", "link", "admitted", "spoke")}
    for entry in item["entries"]:
        assert entry["role"] == SANNA_TITLE and entry["title"] == SANNA_TITLE
        assert entry["role_code"] == "professional" and entry["count"] >= 1
    changed = [e for e in item["entries"] if e["what"] == "changed"]
    assert sum(e["count"] for e in changed) == 3  # created, Maija added, updated
    text = json.dumps(body, ensure_ascii=False)
    for secret in ("family_counselling", "kind", "Matti", MAIJA_EMAIL.lower(), "Maija"):
        assert secret.lower() not in text.lower(), secret
    [row] = await usage_rows(settings, "access_report.read")
    assert (row.actor_kind, row.actor_id, row.appointment_id) == (
        "participant", appointment["participants"][0]["id"], aid)
    assert json.loads(row.detail) == {"appointments": 1}


async def test_expired_link_still_reads_the_report(
    kota: TestServer, clock: Any, sanna: StaffClient, family: aiohttp.ClientSession,
) -> None:
    appointment = await make(sanna, [MAIJA])
    join_token = await token(sanna, appointment)
    clock.advance(days=30)
    await assert_error(await family.post("/api/join", json={"token": join_token}),
                       401, "token_expired")
    body = await read_report(family, join_token)
    assert len(body["appointments"]) == 1


async def test_revoked_forged_and_malformed_links_are_refused(
    kota: TestServer, sanna: StaffClient, family: aiohttp.ClientSession,
) -> None:
    appointment = await make(sanna, [MAIJA])
    join_token = await token(sanna, appointment)
    head, payload, signature = join_token.split(".")
    forged = f"{head}.{payload}.{signature[:-4]}AAAA"
    await assert_error(await family.post(REPORT, json={"token": forged}), 401, "token_invalid")
    await assert_error(await family.post(REPORT, json={"token": "x"}), 401, "token_malformed")
    await assert_error(await family.post(REPORT, json={}), 422, "invalid_field")
    pid = appointment["participants"][0]["id"]
    resp = await sanna.delete(f"/api/appointments/{appointment['id']}/participants/{pid}/link")
    assert resp.status in (200, 204), await resp.text()
    await assert_error(await family.post(REPORT, json={"token": join_token}),
                       401, "link_revoked")


async def test_removed_participant_is_refused(
    kota: TestServer, sanna: StaffClient, family: aiohttp.ClientSession,
) -> None:
    appointment = await make(sanna, [MAIJA, MATTI])
    join_token = await token(sanna, appointment)
    pid = appointment["participants"][0]["id"]
    resp = await sanna.delete(f"/api/appointments/{appointment['id']}/participants/{pid}")
    assert resp.status in (200, 204), await resp.text()
    await assert_error(await family.post(REPORT, json={"token": join_token}),
                       401, "link_revoked")


async def test_same_contact_covers_both_appointments_and_no_other_family(
    kota: TestServer, staff_client: SignIn, accounts: Accounts,
    family: aiohttp.ClientSession,
) -> None:
    sanna, pekka = await staff_client("sanna"), await staff_client("pekka")
    first = await make(sanna, [MAIJA])
    await make(pekka, [{**MAIJA, "contact": "maija.v@example.FI"}], hours=48)
    other = await make(pekka, [{"display_name": "Ulla Muu", "role": "guardian",
                                "contact": "ulla@example.fi"}], hours=72)
    assert (await pekka.get(f"/api/appointments/{other['id']}")).status == 200
    body = await read_report(family, await token(sanna, first))
    starts = [a["starts_at"] for a in body["appointments"]]
    assert len(starts) == 2 and starts == sorted(starts, reverse=True)
    assert whats(body["appointments"][0])["changed"] == {"Pekka Lehto"}
    assert "opened" not in whats(body["appointments"][0])  # Pekka opened only Ulla's
    assert "Ulla" not in json.dumps(body)
    alone = await read_report(family, await token(pekka, other))
    assert len(alone["appointments"]) == 1


async def test_registry_staff_produce_json_and_pdf(
    kota: TestServer, settings: Settings, accounts: Accounts, password_hash: str,
    staff_client: SignIn,
) -> None:
    await staff_setup(settings, password_hash, accounts)
    sanna = await staff_client("sanna")
    sami = {"display_name": SAMI_NAME, "role": "guardian", "contact": "+358 40 123 4567"}
    first = await make(sanna, [sami, MATTI], kind="child_protection")
    second = await make(sanna, [{**sami, "contact": "040-123 4567"}], hours=30)
    await make(sanna, [{**sami, "contact": "+358 40 765 4321"}], hours=60)
    assert (await sanna.get(f"/api/appointments/{first['id']}")).status == 200

    await assert_error(await sanna.get("/api/access-reports?contact=%2B358401234567"),
                       403, "not_registry")
    riikka = await staff_client("riikka")
    session = await (await riikka.get("/api/session")).json()
    assert session["staff"]["registry"] is True
    assert session["staff"]["title"] == "Kirjaamosihteeri"
    for bad in ("", "not a contact", "12", "a@b", "x" * 300):
        await assert_error(await riikka.get("/api/access-reports", params={"contact": bad}),
                           422, "invalid_contact")
    await assert_error(await riikka.get("/api/access-reports"), 422, "invalid_contact")

    resp = await riikka.get("/api/access-reports", params={"contact": "040 1234567"})
    body = await resp.json()
    assert resp.status == 200, body
    assert body["contact"] == "+358401234567"
    assert body["produced_by"] == {"display_name": "Riikka Näkkäläjärvi",
                                   "title": "Kirjaamosihteeri"}
    assert [a["appointment_id"] for a in body["appointments"]] == [second["id"], first["id"]]
    assert body["appointments"][1]["participants"] == [
        {"display_name": SAMI_NAME, "role": "guardian"}]
    assert "opened" in whats(body["appointments"][1])
    text = json.dumps(body, ensure_ascii=False)
    assert "child_protection" not in text and "Matti" not in text

    resp = await riikka.get("/api/access-reports.pdf", params={"contact": "+358401234567"})
    assert resp.status == 200 and resp.content_type == "application/pdf"
    reader = pypdf.PdfReader(io.BytesIO(await resp.read()))
    pdf_text = "\n".join(page.extract_text() for page in reader.pages)
    for wanted in (SAMI_NAME, "Sanna Aikio", "Riikka Näkkäläjärvi", "+358401234567", "Huoltaja",
                   "Sivu 1 / "):
        assert wanted in pdf_text, wanted
    for unwanted in ("child_protection", "Lastensuojelu", "Matti"):
        assert unwanted not in pdf_text, unwanted

    produced = await usage_rows(settings, "access_report.produced")
    assert sorted((r.appointment_id, json.loads(r.detail)["format"]) for r in produced) == sorted(
        [(first["id"], "json"), (second["id"], "json"), (first["id"], "pdf"),
         (second["id"], "pdf")])
    assert {r.subject_id for r in produced} == {first["participants"][0]["id"],
                                                second["participants"][0]["id"]}
    log_text = await all_log_text(settings)
    assert "358" not in log_text and "4567" not in log_text
    # Riikka's own report of the first appointment now names her as having produced it.
    again = await (await riikka.get("/api/access-reports",
                                    params={"contact": "+358401234567"})).json()
    assert "report" in whats(again["appointments"][1])


async def test_a_search_that_finds_nobody_is_logged(
    kota: TestServer, settings: Settings, accounts: Accounts, password_hash: str,
    staff_client: SignIn,
) -> None:
    await staff_setup(settings, password_hash, accounts)
    riikka = await staff_client("riikka")
    resp = await riikka.get("/api/access-reports", params={"contact": "nobody@example.fi"})
    body = await resp.json()
    assert resp.status == 200 and body["appointments"] == []
    [row] = await usage_rows(settings, "access_report.produced")
    assert (row.appointment_id, row.subject_id) == (None, None)
    assert json.loads(row.detail) == {"format": "json", "participants": 0}


async def test_ten_family_reads_at_once(
    kota: TestServer, settings: Settings, sanna: StaffClient, family: aiohttp.ClientSession,
) -> None:
    appointment = await make(sanna, [MAIJA])
    join_token = await token(sanna, appointment)
    responses = await asyncio.gather(
        *(family.post(REPORT, json={"token": join_token}) for _ in range(10)))
    assert [r.status for r in responses] == [200] * 10
    assert len(await usage_rows(settings, "access_report.read")) == 10


async def test_unsigned_in_staff_and_cross_site_are_refused(
    kota: TestServer, family: aiohttp.ClientSession,
) -> None:
    await assert_error(await family.get("/api/access-reports?contact=a%40b.fi"),
                       401, "not_signed_in")
    await assert_error(await family.get("/api/access-reports.pdf?contact=a%40b.fi"),
                       401, "not_signed_in")


@hsettings(max_examples=40, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(contact=st.text(max_size=80), body=st.one_of(
    st.dictionaries(st.text(max_size=8), st.one_of(st.text(max_size=40), st.integers(),
                                                   st.none()), max_size=3),
    st.text(max_size=40)))
async def test_random_contacts_and_bodies_never_fail_the_server(
    kota: TestServer, settings: Settings, accounts: Accounts, password_hash: str,
    staff_client: SignIn, contact: str, body: Any,
) -> None:
    if not hasattr(kota, "_riikka"):
        await staff_setup(settings, password_hash, accounts)
        kota._riikka = await staff_client("riikka")  # type: ignore[attr-defined]
    riikka: StaffClient = kota._riikka  # type: ignore[attr-defined]
    resp = await riikka.get("/api/access-reports", params={"contact": contact})
    assert resp.status in (200, 422), await resp.text()
    async with aiohttp.ClientSession() as family:
        resp = await family.post(str(kota.make_url(REPORT)), json=body)
        assert resp.status in (400, 401, 403, 422, 429), await resp.text()

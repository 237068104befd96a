"""Lines over REST: the admin's set-up, its validation and every error, who may do what,
admins racing on one line, and the public page's look at a line."""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import timedelta
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestServer

from server.settings import Settings
from server.staff_auth import CSRF_HEADER
from tests.conftest import Accounts, StaffClient, assert_error
from tests.server.conftest import Clock, SignIn
from tests.server.line_helpers import HELSINKI, MONDAY, execute, line_body, make_line, rows


@pytest.fixture
async def admin(staff_client: SignIn, clock: Clock) -> StaffClient:
    clock.set(MONDAY)
    return await staff_client("admin")


async def test_admin_makes_replaces_and_closes_a_line(
        admin: StaffClient, staff_client: SignIn, accounts: Accounts, settings: Settings
) -> None:
    line = await make_line(admin, accounts, closures=[
        {"starts_on": "2027-12-24", "ends_on": "2027-12-26", "note": " Joulu "}])
    assert line == {
        "id": line["id"], "slug": "perheneuvonta", "name": "Perheneuvonta — chat",
        "kind": "public", "modes": "both", "queue_cap": 20, "grace_minutes": 10,
        "callback_after_minutes": 5, "active": True,
        "staff": [{"id": accounts.worker.id, "display_name": "Sanna Aikio"},
                  {"id": accounts.specialist.id, "display_name": "Pekka Lehto"}],
        "hours": [{"weekday": d, "opens": "08:00", "closes": "20:00"} for d in range(5)],
        "closures": [{"starts_on": "2027-12-24", "ends_on": "2027-12-26", "note": "Joulu"}],
        "public_url": f"{settings.public_url}/line/perheneuvonta",
    }
    sanna, olli = await staff_client("sanna"), await staff_client("olli")
    assert (await (await sanna.get("/api/lines")).json())["lines"] == [line]
    assert (await (await olli.get("/api/lines")).json())["lines"] == []

    body = line_body(accounts, name="Perheneuvonta", modes="chat", queue_cap=5,
                     staff_ids=[accounts.outsider.id],
                     hours=[{"weekday": 5, "opens": "10:00", "closes": "16:00"},
                            {"weekday": 0, "opens": "12:00", "closes": "16:00"},
                            {"weekday": 0, "opens": "08:00", "closes": "12:00"}])
    resp = await admin.put(f"/api/lines/{line['id']}", json=body)
    replaced = await resp.json()
    assert resp.status == 200, replaced
    assert replaced["hours"] == [{"weekday": 0, "opens": "08:00", "closes": "12:00"},
                                 {"weekday": 0, "opens": "12:00", "closes": "16:00"},
                                 {"weekday": 5, "opens": "10:00", "closes": "16:00"}]
    assert replaced["closures"] == [] and replaced["queue_cap"] == 5
    assert [s["id"] for s in replaced["staff"]] == [accounts.outsider.id]
    assert (await (await sanna.get("/api/lines")).json())["lines"] == []
    assert [x["id"] for x in (await (await olli.get("/api/lines")).json())["lines"]] == [
        line["id"]]

    for _ in range(2):
        resp = await admin.delete(f"/api/lines/{line['id']}")
        assert resp.status == 204
    assert (await (await olli.get("/api/lines")).json())["lines"] == []
    [closed] = (await (await admin.get("/api/lines")).json())["lines"]
    assert closed["active"] is False
    resp = await admin.put(f"/api/lines/{line['id']}", json={**body, "active": True})
    assert (await resp.json())["active"] is True
    logged = rows(settings, "SELECT action, actor_id, detail FROM audit_log"
                  " WHERE action LIKE 'line.%' ORDER BY id")
    detail = f'{{"line":{line["id"]}}}'
    assert logged == [("line.created", accounts.admin.id, detail),
                      ("line.updated", accounts.admin.id, detail),
                      ("line.deactivated", accounts.admin.id, detail),
                      ("line.updated", accounts.admin.id, detail)]


BAD_LINES: list[tuple[str, dict[str, Any], int, str]] = [
    ("capital slug", {"slug": "Perhe"}, 422, "invalid_field"),
    ("slug starting with a hyphen", {"slug": "-perhe"}, 422, "invalid_field"),
    ("slug ending with a hyphen", {"slug": "perhe-"}, 422, "invalid_field"),
    ("slug with a slash", {"slug": "perhe/chat"}, 422, "invalid_field"),
    ("slug too long", {"slug": "a" * 61}, 422, "invalid_field"),
    ("empty slug", {"slug": ""}, 422, "invalid_field"),
    ("reserved slug", {"slug": "my"}, 422, "slug_reserved"),
    ("empty name", {"name": ""}, 422, "invalid_field"),
    ("blank name", {"name": "   "}, 422, "invalid_field"),
    ("name too long", {"name": "n" * 81}, 422, "invalid_field"),
    ("unknown kind", {"kind": "secret"}, 422, "invalid_field"),
    ("unknown modes", {"modes": "audio"}, 422, "invalid_field"),
    ("cap zero", {"queue_cap": 0}, 422, "invalid_field"),
    ("cap too big", {"queue_cap": 1001}, 422, "invalid_field"),
    ("grace negative", {"grace_minutes": -1}, 422, "invalid_field"),
    ("grace too long", {"grace_minutes": 121}, 422, "invalid_field"),
    ("callback zero", {"callback_after_minutes": 0}, 422, "invalid_field"),
    ("callback too late", {"callback_after_minutes": 241}, 422, "invalid_field"),
    ("cap as text", {"queue_cap": "20"}, 422, "invalid_field"),
    ("unknown field", {"colour": "red"}, 422, "invalid_field"),
    ("weekday 7", {"hours": [{"weekday": 7, "opens": "08:00", "closes": "09:00"}]},
     422, "invalid_field"),
    ("hour 24", {"hours": [{"weekday": 0, "opens": "08:00", "closes": "24:00"}]},
     422, "invalid_field"),
    ("closes before it opens", {"hours": [{"weekday": 0, "opens": "12:00", "closes": "08:00"}]},
     422, "invalid_hours"),
    ("closes as it opens", {"hours": [{"weekday": 0, "opens": "12:00", "closes": "12:00"}]},
     422, "invalid_hours"),
    ("overlapping openings", {"hours": [{"weekday": 2, "opens": "08:00", "closes": "12:00"},
                                        {"weekday": 2, "opens": "11:59", "closes": "14:00"}]},
     422, "invalid_hours"),
    ("closure ends before it starts",
     {"closures": [{"starts_on": "2027-01-10", "ends_on": "2027-01-09"}]},
     422, "ends_before_start"),
    ("closure with a bad date", {"closures": [{"starts_on": "2027-02-30",
                                               "ends_on": "2027-03-01"}]},
     422, "invalid_field"),
    ("closure note too long", {"closures": [{"starts_on": "2027-01-10",
                                             "ends_on": "2027-01-10", "note": "n" * 101}]},
     422, "invalid_field"),
    ("unknown staff", {"staff_ids": [999]}, 422, "unknown_staff"),
    ("staff id zero", {"staff_ids": [0]}, 422, "invalid_field"),
]


@pytest.mark.parametrize(("fields", "status", "code"), [b[1:] for b in BAD_LINES],
                         ids=[b[0] for b in BAD_LINES])
async def test_a_bad_line_is_refused_with_its_code(
        admin: StaffClient, accounts: Accounts, settings: Settings, fields: dict[str, Any],
        status: int, code: str) -> None:
    resp = await admin.post("/api/lines", json=line_body(accounts, **fields))
    await assert_error(resp, status, code)
    line = await make_line(admin, accounts, slug="kelpo")
    resp = await admin.put(f"/api/lines/{line['id']}",
                           json=line_body(accounts, **{"slug": "kelpo", **fields}))
    await assert_error(resp, status, code)
    assert rows(settings, "SELECT COUNT(*) FROM lines") == [(1,)]
    assert rows(settings, "SELECT action FROM audit_log WHERE action LIKE 'line.%'") == [
        ("line.created",)]


async def test_a_missing_required_field_and_bad_bodies(admin: StaffClient,
                                                       accounts: Accounts) -> None:
    for missing in ("slug", "name", "kind"):
        body = line_body(accounts)
        del body[missing]
        await assert_error(await admin.post("/api/lines", json=body), 422, "invalid_field")
    await assert_error(await admin.post("/api/lines", data=b"{", headers={
        "Content-Type": "application/json"}), 400, "bad_json")
    await assert_error(await admin.post("/api/lines", data=b"slug=a"), 400, "json_expected")
    await assert_error(await admin.post("/api/lines", json=[1, 2]), 422, "invalid_field")


async def test_an_inactive_account_cannot_serve(admin: StaffClient, accounts: Accounts,
                                                settings: Settings) -> None:
    execute(settings, "UPDATE staff SET active = 0 WHERE id = ?", accounts.outsider.id)
    resp = await admin.post("/api/lines", json=line_body(
        accounts, staff_ids=[accounts.worker.id, accounts.outsider.id]))
    await assert_error(resp, 422, "unknown_staff")


async def test_touching_openings_and_a_minimal_line_are_fine(admin: StaffClient,
                                                             accounts: Accounts) -> None:
    line = await make_line(admin, accounts, hours=[
        {"weekday": 6, "opens": "12:00", "closes": "23:59"},
        {"weekday": 6, "opens": "00:00", "closes": "12:00"}])
    assert [h["opens"] for h in line["hours"]] == ["00:00", "12:00"]
    resp = await admin.post("/api/lines", json={"slug": "a", "name": "A", "kind": "personal"})
    minimal = await resp.json()
    assert resp.status == 201, minimal
    assert (minimal["modes"], minimal["queue_cap"], minimal["staff"], minimal["hours"]) == (
        "both", 20, [], [])
    assert "public_url" not in minimal


async def test_slug_taken_kind_fixed_and_unknown_lines(admin: StaffClient,
                                                       accounts: Accounts) -> None:
    first = await make_line(admin, accounts)
    await assert_error(await admin.post("/api/lines", json=line_body(accounts)), 409,
                       "slug_taken")
    second = await make_line(admin, accounts, slug="oma", kind="personal")
    resp = await admin.put(f"/api/lines/{second['id']}",
                           json=line_body(accounts, slug="perheneuvonta", kind="personal"))
    await assert_error(resp, 409, "slug_taken")
    resp = await admin.put(f"/api/lines/{first['id']}", json=line_body(accounts,
                                                                      kind="personal"))
    await assert_error(resp, 422, "line_kind_fixed")
    for method in ("PUT", "DELETE"):
        resp = await admin.request(method, "/api/lines/999", json=line_body(accounts))
        await assert_error(resp, 404, "line_not_found")
    await assert_error(await admin.delete("/api/lines/x1"), 404, "not_found")


async def test_who_may_do_what(kota: TestServer, admin: StaffClient, staff_client: SignIn,
                               accounts: Accounts) -> None:
    line = await make_line(admin, accounts)
    async with aiohttp.ClientSession(base_url=kota.make_url("")) as anonymous:
        for method, path in [("GET", "/api/lines"), ("POST", "/api/lines"),
                             ("PUT", f"/api/lines/{line['id']}"),
                             ("DELETE", f"/api/lines/{line['id']}"),
                             ("GET", f"/api/lines/{line['id']}/enrolments"),
                             ("GET", f"/api/lines/{line['id']}/callbacks")]:
            resp = await anonymous.request(method, path, json=line_body(accounts))
            await assert_error(resp, 401, "not_signed_in")
    sanna = await staff_client("sanna")
    for method, path in [("POST", "/api/lines"), ("PUT", f"/api/lines/{line['id']}"),
                         ("DELETE", f"/api/lines/{line['id']}")]:
        resp = await sanna.request(method, path, json=line_body(accounts, slug="oma"))
        await assert_error(resp, 403, "admin_only")
    resp = await admin.request("POST", "/api/lines", json=line_body(accounts, slug="x"),
                               headers={CSRF_HEADER: "wrong"})
    await assert_error(resp, 403, "csrf_failed")


async def test_admins_racing_on_one_line_leave_one_whole_answer_each(
        admin: StaffClient, accounts: Accounts, settings: Settings) -> None:
    """Ten creates of one slug at once: one line, nine clear 409s, one usage-log row. Ten
    replacements of the hours at once: the stored week is exactly one of them, and each
    answer is one whole week."""
    answers = await asyncio.gather(*(
        admin.post("/api/lines", json=line_body(accounts, slug="kilpa", name=f"Kilpa {n}"))
        for n in range(10)))
    assert Counter(a.status for a in answers) == {201: 1, 409: 9}
    for answer in answers:
        if answer.status == 409:
            await assert_error(answer, 409, "slug_taken")
    [winner] = [await a.json() for a in answers if a.status == 201]
    assert rows(settings, "SELECT COUNT(*) FROM lines") == [(1,)]
    assert rows(settings, "SELECT COUNT(*) FROM audit_log WHERE action = 'line.created'") == [
        (1,)]

    choices = [f"{8 + n % 5:02d}:{(n // 5) * 30:02d}" for n in range(10)]

    def week(opens: str) -> list[dict[str, Any]]:
        return [{"weekday": d, "opens": opens, "closes": "17:00"} for d in range(7)]

    answers = await asyncio.gather(*(
        admin.put(f"/api/lines/{winner['id']}",
                  json=line_body(accounts, slug="kilpa", name=f"Kilpa {opens}",
                                 hours=week(opens)))
        for opens in choices))
    assert [a.status for a in answers] == [200] * 10
    for answer in answers:
        body = await answer.json()
        opens = {h["opens"] for h in body["hours"]}
        assert len(body["hours"]) == 7 and opens == {body["name"].split()[1]}, body
    stored = rows(settings, "SELECT weekday, opens FROM line_hours ORDER BY weekday")
    assert len(stored) == 7 and len({o for _, o in stored}) == 1, stored
    assert rows(settings, "SELECT name FROM lines") == [(f"Kilpa {stored[0][1]}",)]
    assert rows(settings, "SELECT COUNT(*) FROM audit_log WHERE action = 'line.updated'") == [
        (10,)]


async def test_the_public_look_at_a_line(admin: StaffClient, accounts: Accounts,
                                         family: aiohttp.ClientSession, clock: Clock) -> None:
    await make_line(admin, accounts, closures=[
        {"starts_on": "2027-01-06", "ends_on": "2027-01-06", "note": "Loppiainen"}])
    await make_line(admin, accounts, slug="oma", kind="personal")
    closed = await make_line(admin, accounts, slug="suljettu")
    assert (await admin.delete(f"/api/lines/{closed['id']}")).status == 204

    async def look(slug: str = "perheneuvonta") -> dict[str, Any]:
        resp = await family.get(f"/api/public/lines/{slug}")
        body: dict[str, Any] = await resp.json()
        assert resp.status == 200, body
        return body

    assert await look() == {"name": "Perheneuvonta — chat", "modes": "both", "open": True,
                            "opens_at": None, "closes_at": "2027-01-04T20:00:00+02:00",
                            "full": False}
    clock.set(MONDAY.replace(hour=21))
    assert await look() == {"name": "Perheneuvonta — chat", "modes": "both", "open": False,
                            "opens_at": "2027-01-05T08:00:00+02:00", "closes_at": None,
                            "full": False}
    clock.set(MONDAY.replace(day=5, hour=20, minute=30))  # Tuesday night: Wednesday is closed
    assert (await look())["opens_at"] == "2027-01-07T08:00:00+02:00"
    clock.set(MONDAY + timedelta(days=5))  # Saturday
    assert (await look())["opens_at"] == "2027-01-11T08:00:00+02:00"
    for slug in ("oma", "suljettu", "ei-ole", "a" * 200, "%20"):
        await assert_error(await family.get(f"/api/public/lines/{slug}"), 404, "line_not_found")
    assert MONDAY.tzinfo is HELSINKI

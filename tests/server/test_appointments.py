"""Appointments API: create, list, read, update, cancel, participants, and who sees what."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

import aiohttp

from tests.conftest import Accounts, StaffClient, assert_error
from tests.server.conftest import MAIJA, MAIJA_CONTACT, Clock, SignIn, book, hours_ahead

HELSINKI = ZoneInfo("Europe/Helsinki")


async def test_create_returns_the_appointment_with_participant_links(
    sanna: StaffClient, accounts: Accounts
) -> None:
    start = hours_ahead(2)
    created = await book(sanna, start=start, staff_ids=[accounts.worker.id, accounts.specialist.id])
    assert datetime.fromisoformat(created["starts_at"]) == start
    assert datetime.fromisoformat(created["starts_at"]).utcoffset() in (
        timedelta(hours=2),
        timedelta(hours=3),
    )
    assert created["status"] == "scheduled"
    assert created["kind"] == "child_protection"
    assert created["host"] == {"id": accounts.worker.id, "display_name": "Sanna Aikio"}
    assert created["staff"] == [{"id": accounts.specialist.id, "display_name": "Pekka Lehto"}]
    [maija] = created["participants"]
    assert (maija["display_name"], maija["role"], maija["contact"]) == (
        MAIJA,
        "guardian",
        MAIJA_CONTACT,
    )
    assert maija["link"]["status"] == "active"


async def test_get_returns_the_same_appointment(sanna: StaffClient) -> None:
    created = await book(sanna)
    resp = await sanna.get(f"/api/appointments/{created['id']}")
    assert resp.status == 200
    # One appointment's page also learns whether its call was ended for everyone.
    assert await resp.json() == {**created, "session": "open", "booking": None}


async def test_list_by_day_uses_the_helsinki_local_day(sanna: StaffClient) -> None:
    """00:30 in Helsinki is still the previous day in UTC; it belongs to the local day."""
    day = (hours_ahead(0).astimezone(HELSINKI) + timedelta(days=3)).date()
    start = datetime.combine(day, time(0, 30), HELSINKI)
    created = await book(sanna, start=start)
    utc_day = start.astimezone(ZoneInfo("UTC")).date()
    assert utc_day != day
    on_day = await (await sanna.get(f"/api/appointments?date={day}")).json()
    assert on_day["date"] == day.isoformat()
    assert [a["id"] for a in on_day["appointments"]] == [created["id"]]
    before = await (await sanna.get(f"/api/appointments?date={utc_day}")).json()
    assert before["appointments"] == []


async def test_list_defaults_to_today(sanna: StaffClient, clock: Clock) -> None:
    clock.set(datetime(2026, 6, 30, 21, 30, tzinfo=ZoneInfo("UTC")))  # 00:30 in Helsinki
    body = await (await sanna.get("/api/appointments")).json()
    assert body["date"] == "2026-07-01"


async def test_list_by_host(staff_client: SignIn, accounts: Accounts) -> None:
    admin = await staff_client("admin")
    start = hours_ahead(24 * 2)
    mine = await book(admin, start=start, host_id=accounts.worker.id)
    theirs = await book(admin, start=start, host_id=accounts.specialist.id)
    day = start.astimezone(HELSINKI).date()
    everyone = await (await admin.get(f"/api/appointments?date={day}")).json()
    assert {a["id"] for a in everyone["appointments"]} == {mine["id"], theirs["id"]}
    only = await (
        await admin.get(f"/api/appointments?date={day}&host_id={accounts.specialist.id}")
    ).json()
    assert [a["id"] for a in only["appointments"]] == [theirs["id"]]


async def test_list_with_bad_date_is_a_bad_query(sanna: StaffClient) -> None:
    await assert_error(await sanna.get("/api/appointments?date=tomorrow"), 400, "bad_query")


async def test_list_with_bad_host_id_is_a_bad_query(sanna: StaffClient) -> None:
    await assert_error(await sanna.get("/api/appointments?host_id=x"), 400, "bad_query")


async def test_list_with_non_ascii_digit_host_id_is_a_bad_query(sanna: StaffClient) -> None:
    await assert_error(await sanna.get("/api/appointments?host_id=²"), 400, "bad_query")


async def test_list_with_the_last_representable_day_is_a_bad_query(sanna: StaffClient) -> None:
    await assert_error(await sanna.get("/api/appointments?date=9999-12-31"), 400, "bad_query")


async def test_update_moves_the_appointment(sanna: StaffClient) -> None:
    created = await book(sanna)
    new_start = hours_ahead(5)
    resp = await sanna.patch(
        f"/api/appointments/{created['id']}",
        json={
            "starts_at": new_start.isoformat(),
            "ends_at": (new_start + timedelta(hours=1)).isoformat(),
            "kind": "school_meeting",
        },
    )
    updated = await resp.json()
    assert resp.status == 200, updated
    assert datetime.fromisoformat(updated["starts_at"]) == new_start
    assert updated["kind"] == "school_meeting"
    read = await (await sanna.get(f"/api/appointments/{created['id']}")).json()
    assert read == {**updated, "session": "open", "booking": None}


async def test_update_replaces_the_staff_list(sanna: StaffClient, accounts: Accounts) -> None:
    created = await book(sanna, staff_ids=[accounts.specialist.id])
    resp = await sanna.patch(
        f"/api/appointments/{created['id']}", json={"staff_ids": [accounts.outsider.id]}
    )
    body = await resp.json()
    assert resp.status == 200, body
    assert [s["id"] for s in body["staff"]] == [accounts.outsider.id]


async def test_cancel(sanna: StaffClient) -> None:
    created = await book(sanna)
    resp = await sanna.post(f"/api/appointments/{created['id']}/cancel")
    body = await resp.json()
    assert resp.status == 200, body
    assert body["status"] == "cancelled"
    assert body["participants"][0]["link"]["status"] == "revoked"


async def test_cancelled_appointment_frees_the_time(sanna: StaffClient) -> None:
    start = hours_ahead(3)
    created = await book(sanna, start=start)
    assert (await sanna.post(f"/api/appointments/{created['id']}/cancel")).status == 200
    await book(sanna, start=start)


async def test_add_and_remove_participant(sanna: StaffClient) -> None:
    created = await book(sanna)
    resp = await sanna.post(
        f"/api/appointments/{created['id']}/participants",
        json={"display_name": "Ville Virtanen", "role": "child"},
    )
    added = await resp.json()
    assert resp.status == 201, added
    assert added["display_name"] == "Ville Virtanen"
    assert added["contact"] is None
    assert added["link"]["status"] == "active"
    now = await (await sanna.get(f"/api/appointments/{created['id']}")).json()
    assert [p["display_name"] for p in now["participants"]] == [MAIJA, "Ville Virtanen"]
    resp = await sanna.delete(f"/api/appointments/{created['id']}/participants/{added['id']}")
    assert resp.status == 204
    now = await (await sanna.get(f"/api/appointments/{created['id']}")).json()
    assert [p["display_name"] for p in now["participants"]] == [MAIJA]


async def test_removing_a_missing_participant_is_not_found(sanna: StaffClient) -> None:
    created = await book(sanna)
    resp = await sanna.delete(f"/api/appointments/{created['id']}/participants/999999")
    await assert_error(resp, 404, "participant_not_found")


# -- who sees what ---------------------------------------------------------------


async def test_outsider_gets_the_same_404_as_for_a_missing_appointment(
    staff_client: SignIn,
) -> None:
    sanna = await staff_client("sanna")
    olli = await staff_client("olli")
    created = await book(sanna)
    hidden = await assert_error(
        await olli.get(f"/api/appointments/{created['id']}"), 404, "appointment_not_found"
    )
    missing = await assert_error(
        await olli.get("/api/appointments/999999"), 404, "appointment_not_found"
    )
    assert hidden == missing


async def test_outsider_cannot_change_or_cancel(staff_client: SignIn) -> None:
    sanna = await staff_client("sanna")
    olli = await staff_client("olli")
    created = await book(sanna)
    path = f"/api/appointments/{created['id']}"
    pid = created["participants"][0]["id"]
    for resp in [
        await olli.patch(path, json={"kind": "other"}),
        await olli.post(f"{path}/cancel"),
        await olli.post(f"{path}/participants", json={"display_name": "X", "role": "child"}),
        await olli.delete(f"{path}/participants/{pid}"),
        await olli.get(f"{path}/participants/{pid}/link"),
        await olli.post(f"{path}/participants/{pid}/link"),
        await olli.delete(f"{path}/participants/{pid}/link"),
    ]:
        await assert_error(resp, 404, "appointment_not_found")
    unchanged = await (await sanna.get(path)).json()
    assert unchanged["kind"] == created["kind"] and unchanged["status"] == "scheduled"
    assert unchanged["participants"][0]["link"]["status"] == "active"


async def test_outsider_does_not_see_it_in_lists(staff_client: SignIn) -> None:
    sanna = await staff_client("sanna")
    olli = await staff_client("olli")
    created = await book(sanna)
    day = datetime.fromisoformat(created["starts_at"]).date()
    listed = await (await olli.get(f"/api/appointments?date={day}")).json()
    assert listed["appointments"] == []
    by_host = await (
        await olli.get(f"/api/appointments?date={day}&host_id={created['host']['id']}")
    ).json()
    assert by_host["appointments"] == []


async def test_staff_participant_sees_and_changes_it(
    staff_client: SignIn, accounts: Accounts
) -> None:
    sanna = await staff_client("sanna")
    pekka = await staff_client("pekka")
    created = await book(sanna, staff_ids=[accounts.specialist.id])
    resp = await pekka.get(f"/api/appointments/{created['id']}")
    assert resp.status == 200
    resp = await pekka.patch(f"/api/appointments/{created['id']}", json={"kind": "other"})
    assert resp.status == 200, await resp.text()
    day = datetime.fromisoformat(created["starts_at"]).date()
    listed = await (await pekka.get(f"/api/appointments?date={day}")).json()
    assert [a["id"] for a in listed["appointments"]] == [created["id"]]


async def test_admin_sees_and_changes_everything(staff_client: SignIn) -> None:
    sanna = await staff_client("sanna")
    admin = await staff_client("admin")
    created = await book(sanna)
    assert (await admin.get(f"/api/appointments/{created['id']}")).status == 200
    resp = await admin.post(f"/api/appointments/{created['id']}/cancel")
    assert resp.status == 200, await resp.text()
    day = datetime.fromisoformat(created["starts_at"]).date()
    listed = await (await admin.get(f"/api/appointments?date={day}")).json()
    assert [a["id"] for a in listed["appointments"]] == [created["id"]]


async def test_professional_cannot_book_for_someone_else(
    sanna: StaffClient, accounts: Accounts
) -> None:
    resp = await sanna.post(
        "/api/appointments",
        json={
            "starts_at": hours_ahead(1).isoformat(),
            "ends_at": hours_ahead(2).isoformat(),
            "kind": "other",
            "host_id": accounts.specialist.id,
        },
    )
    await assert_error(resp, 403, "not_allowed")


async def test_professional_cannot_remove_themself(sanna: StaffClient, accounts: Accounts) -> None:
    created = await book(sanna)
    resp = await sanna.patch(
        f"/api/appointments/{created['id']}", json={"host_id": accounts.specialist.id}
    )
    await assert_error(resp, 403, "not_allowed")


async def test_signed_out_request_is_refused(family: aiohttp.ClientSession) -> None:
    await assert_error(await family.get("/api/appointments"), 401, "not_signed_in")

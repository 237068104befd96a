"""Every booking error, one named test each: bad input, tokens, limits, expiry, access,
and what a family may never learn from the public answers."""

from __future__ import annotations

import asyncio
import json
import sqlite3
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import aiohttp
import jwt
import pytest
from aiohttp.test_utils import TestServer

from server.app_keys import BOOKING_DESK
from server.booking import MAX_HOLDS_PER_CONTACT_DAY, MAX_LIVE_PER_CONTACT
from server.booking_links import BookingLinks
from server.join_tokens import ALGORITHM, ISSUER, SigningKey
from server.settings import Settings, load_settings
from tests.conftest import Accounts, StaffClient, assert_error, free_port, wait_until
from tests.mail_inbox import MailInbox
from tests.server.booking_helpers import (
    SLUG,
    booking_links,
    bookings,
    confirm_token,
    hold,
    hold_body,
    iso,
    local,
    manage_token,
    messaging_env,
    open_service,
    rows,
)
from tests.server.conftest import Clock, SignIn


async def _confirmed(family: aiohttp.ClientSession, settings: Settings, when: Any,
                     **fields: Any) -> dict[str, Any]:
    status, body = await hold(family, when, **fields)
    assert status == 201, body
    booking = bookings(settings)[-1]
    resp = await family.post("/api/book/confirm", json={"token": confirm_token(settings, booking)})
    done: dict[str, Any] = await resp.json()
    assert resp.status == 200, done
    return done


# -- admin -------------------------------------------------------------------------


async def test_services_are_for_admins_only(kota: TestServer, staff_client: SignIn,
                                            accounts: Accounts, clock: Clock,
                                            family: aiohttp.ClientSession) -> None:
    """Professionals may list the services (to pick one for an appointment), nothing else."""
    _, service = await open_service(staff_client, accounts, clock)
    sanna = await staff_client("sanna")
    sid = service["id"]
    listed = await sanna.get("/api/services")
    assert listed.status == 200
    assert [s["name"] for s in (await listed.json())["services"]] == [service["name"]]
    await assert_error(await family.get("/api/services"), 401, "not_signed_in")
    calls: list[tuple[str, str, dict[str, Any] | None]] = [
        ("POST", "/api/services", {"slug": "x", "name": "x"}),
        ("GET", f"/api/services/{sid}", None), ("PATCH", f"/api/services/{sid}", {}),
        ("PUT", f"/api/services/{sid}/hours", {"hours": []}),
        ("GET", f"/api/services/{sid}/closures", None),
        ("POST", f"/api/services/{sid}/closures", {}),
        ("DELETE", f"/api/services/{sid}/closures/1", None),
    ]
    for method, path, body in calls:
        await assert_error(await sanna.request(method, path, json=body), 403, "admin_only")
        await assert_error(await family.request(method, path, json=body), 401, "not_signed_in")


async def test_child_protection_is_never_bookable(kota: TestServer, staff_client: SignIn,
                                                  accounts: Accounts, clock: Clock,
                                                  settings: Settings,
                                                  family: aiohttp.ClientSession) -> None:
    admin, service = await open_service(staff_client, accounts, clock)
    resp = await admin.post("/api/services", json={"slug": "lastensuojelu", "name": "LS",
                                                   "kinds": ["child_protection"]})
    await assert_error(resp, 422, "kind_not_bookable")
    resp = await admin.patch(f"/api/services/{service['id']}",
                             json={"kinds": ["family_counselling", "child_protection"]})
    await assert_error(resp, 422, "kind_not_bookable")
    resp = await family.post(f"/api/book/{SLUG}/holds",
                             json=hold_body(local(5, 10), kind="child_protection"))
    await assert_error(resp, 422, "kind_not_bookable")
    resp = await family.post(f"/api/book/{SLUG}/holds",
                             json=hold_body(local(5, 10), kind="specialist_consultation"))
    await assert_error(resp, 422, "kind_not_offered")
    assert bookings(settings) == []


async def test_service_input_is_checked(kota: TestServer, staff_client: SignIn,
                                        accounts: Accounts, clock: Clock) -> None:
    admin, service = await open_service(staff_client, accounts, clock)
    sid = service["id"]
    resp = await admin.post("/api/services", json={"slug": SLUG, "name": "Toinen"})
    await assert_error(resp, 409, "slug_taken")
    for reserved in ("confirm", "manage"):  # /book/confirm and /book/manage are Kota's
        resp = await admin.post("/api/services", json={"slug": reserved, "name": "x"})
        await assert_error(resp, 422, "slug_reserved")
        resp = await admin.patch(f"/api/services/{sid}", json={"slug": reserved})
        await assert_error(resp, 422, "slug_reserved")
    for bad in ({"slug": "Not A Slug", "name": "x"}, {"slug": "ok-slug", "name": ""},
                {"slug": "ok-slug", "name": "x", "slot_minutes": 5},
                {"slug": "ok-slug", "name": "x", "surprise": 1}):
        await assert_error(await admin.post("/api/services", json=bad), 422, "invalid_field")
    resp = await admin.post("/api/services", json={"slug": "ok-slug", "name": "x",
                                                   "staff_ids": [9999]})
    await assert_error(resp, 422, "unknown_staff")
    hours = f"/api/services/{sid}/hours"
    for bad_hours, code in [
        ([{"staff_id": accounts.worker.id, "weekday": 0, "opens": "12:00", "closes": "09:00"}],
         "invalid_hours"),
        ([{"staff_id": accounts.worker.id, "weekday": 0, "opens": "09:00", "closes": "12:00"},
          {"staff_id": accounts.worker.id, "weekday": 0, "opens": "11:00", "closes": "13:00"}],
         "invalid_hours"),
        ([{"staff_id": accounts.outsider.id, "weekday": 0, "opens": "09:00",
           "closes": "12:00"}], "staff_not_in_service"),
        ([{"staff_id": accounts.worker.id, "weekday": 7, "opens": "09:00", "closes": "12:00"}],
         "invalid_field"),
        ([{"staff_id": accounts.worker.id, "weekday": 0, "opens": "9:00", "closes": "12:00"}],
         "invalid_field"),
    ]:
        resp = await admin.request("PUT", hours, json={"hours": bad_hours})
        await assert_error(resp, 422, code)
    await assert_error(await admin.get("/api/services/9999"), 404, "service_not_found")


async def test_closures_take_times_away_and_give_them_back(
        kota: TestServer, staff_client: SignIn, accounts: Accounts, clock: Clock,
        family: aiohttp.ClientSession, settings: Settings) -> None:
    admin, service = await open_service(staff_client, accounts, clock)
    path = f"/api/services/{service['id']}/closures"
    resp = await admin.post(path, json={"starts_local": "2027-01-06T00:00",
                                        "ends_local": "2027-01-07T00:00", "note": "Loppiainen"})
    closure = await resp.json()
    assert resp.status == 201, closure
    assert closure["starts_at"] == "2027-01-06T00:00:00+02:00" and closure["staff_id"] is None
    resp = await admin.post(path, json={"starts_local": "2027-01-07T09:00",
                                        "ends_local": "2027-01-07T12:00",
                                        "staff_id": accounts.worker.id})
    absence = await resp.json()
    assert resp.status == 201, absence
    resp = await family.get(f"/api/book/{SLUG}/times?from=2027-01-06&days=2")
    days = (await resp.json())["days"]
    assert days[0]["times"] == []
    assert len(days[1]["times"]) == 14  # Pekka still works Thursday morning
    status, body = await hold(family, local(6, 10))
    assert status == 409 and body["error"]["code"] == "slot_taken"
    for bad, code in [({"starts_local": "2027-01-07T12:00", "ends_local": "2027-01-07T09:00"},
                       "ends_before_start"),
                      ({"starts_local": "2027-03-28T03:30", "ends_local": "2027-03-28T05:00"},
                       "nonexistent_local_time"),
                      ({"starts_local": "2027-01-07T09:00", "ends_local": "2027-01-07T10:00",
                        "staff_id": accounts.outsider.id}, "staff_not_in_service")]:
        await assert_error(await admin.post(path, json=bad), 422, code)
    resp = await admin.get(path)
    assert [c["note"] for c in (await resp.json())["closures"]] == ["Loppiainen", ""]
    resp = await admin.delete(f"{path}/{closure['id']}")
    assert resp.status == 204
    await assert_error(await admin.delete(f"{path}/{closure['id']}"), 404, "closure_not_found")
    status, body = await hold(family, local(6, 10))
    assert status == 201, body
    actions = [r[0] for r in rows(settings, "SELECT action FROM audit_log"
                                  " WHERE action LIKE 'service.%' ORDER BY id")]
    assert actions == ["service.created", "service.hours_set", "service.closure_added",
                       "service.closure_added", "service.closure_removed"]


# -- holds -------------------------------------------------------------------------


@pytest.mark.parametrize(("fields", "code"), [
    ({"display_name": ""}, "invalid_field"),
    ({"display_name": "x" * 81}, "invalid_field"),
    ({"display_name": "   "}, "invalid_field"),
    ({"contact": "not an address@"}, "invalid_email"),
    ({"contact": "12"}, "invalid_phone"),
    ({"language": "de"}, "invalid_field"),
    ({"topic": "x" * 501}, "invalid_field"),
    ({"starts_at": "2027-01-05T10:00:00"}, "time_without_zone"),
    ({"starts_at": "tomorrow"}, "invalid_field"),
    ({"extra": 1}, "invalid_field"),
])
async def test_bad_hold_input_is_refused(kota: TestServer, staff_client: SignIn,
                                         accounts: Accounts, clock: Clock,
                                         family: aiohttp.ClientSession,
                                         fields: dict[str, Any], code: str) -> None:
    await open_service(staff_client, accounts, clock)
    body = hold_body(local(5, 10)) | fields
    await assert_error(await family.post(f"/api/book/{SLUG}/holds", json=body), 422, code)
    resp = await family.post(f"/api/book/{SLUG}/holds", data=b"{not json",
                             headers={"Content-Type": "application/json"})
    await assert_error(resp, 400, "bad_json")


@pytest.mark.parametrize("when", ["sunday", "misaligned", "before_notice", "past_horizon",
                                  "evening"])
async def test_a_time_that_is_no_slot_is_taken(kota: TestServer, staff_client: SignIn,
                                               accounts: Accounts, clock: Clock,
                                               family: aiohttp.ClientSession,
                                               when: str) -> None:
    await open_service(staff_client, accounts, clock)
    starts_at = {"sunday": local(10, 10), "misaligned": local(5, 10, 10),
                 "before_notice": local(4, 9), "past_horizon": local(4, 10) + timedelta(days=35),
                 "evening": local(5, 16)}[when]
    if when == "before_notice":
        clock.advance(hours=1)  # 08:30 and on: 09:00 is less than an hour away
    status, body = await hold(family, starts_at)
    assert status == 409 and body["error"]["code"] == "slot_taken", body


async def test_phone_contacts_get_text_messages(kota: TestServer, staff_client: SignIn,
                                                accounts: Accounts, clock: Clock,
                                                settings: Settings,
                                                family: aiohttp.ClientSession) -> None:
    await open_service(staff_client, accounts, clock)
    status, body = await hold(family, local(5, 10), contact="040 123 4567")
    assert status == 201, body
    assert body["booking"]["channel"] == "sms" and body["booking"]["contact_hint"] == "…567"
    assert bookings(settings)[0].contact == "+358401234567"


async def test_a_contact_may_hold_only_so_many(kota: TestServer, staff_client: SignIn,
                                               accounts: Accounts, clock: Clock,
                                               family: aiohttp.ClientSession) -> None:
    await open_service(staff_client, accounts, clock)
    for n in range(MAX_LIVE_PER_CONTACT):
        status, body = await hold(family, local(5, 9 + n))
        assert status == 201, body
    # The same address in other letters is the same contact.
    resp = await family.post(f"/api/book/{SLUG}/holds",
                             json=hold_body(local(5, 13), contact="Maija@Example.FI"))
    body = await assert_error(resp, 429, "too_many_bookings")
    assert resp.headers["Retry-After"] == str(body["error"]["retry_after"])
    # Another contact is still welcome; expired holds stop counting.
    status, _ = await hold(family, local(5, 13), contact="pekka@example.fi")
    assert status == 201
    clock.advance(minutes=11)
    status, _ = await hold(family, local(5, 14))
    assert status == 201
    assert MAX_HOLDS_PER_CONTACT_DAY > MAX_LIVE_PER_CONTACT + 1


@pytest.fixture
def busy_inbox() -> Iterator[MailInbox]:
    """An SMTP server that answers "try later": a confirm message stays pending."""
    with MailInbox() as box:
        box.handler.refuse_with = "451 4.3.0 try later"
        yield box


@pytest.fixture
def settings(tmp_path: Path, request: pytest.FixtureRequest) -> Settings:
    port = free_port()
    env = {"KOTA_DATA_DIR": str(tmp_path / "data"), "KOTA_PORT": str(port),
           "KOTA_PUBLIC_URL": f"http://127.0.0.1:{port}"}
    if "address_limit" in request.node.name:
        env["KOTA_BOOKING_HOLDS_PER_HOUR"] = "3"
    env |= messaging_env(tmp_path)
    if "only_email" in request.node.name:
        env = {k: v for k, v in env.items() if not k.startswith("KOTA_SMS")}
    if "only_sms" in request.node.name:
        env = {k: v for k, v in env.items() if not k.startswith("KOTA_SMTP")}
    if "no_channel" in request.node.name:
        env = {k: v for k, v in env.items() if not k.startswith(("KOTA_SMTP", "KOTA_SMS"))}
    if "pending_message" in request.node.name:
        inbox = request.getfixturevalue("busy_inbox")
        env |= inbox.env() | {"KOTA_OUTBOX_RETRY_SECONDS": "86400"}
    return load_settings(env)


async def test_an_address_may_hold_only_so_many_address_limit(
        kota: TestServer, staff_client: SignIn, accounts: Accounts, clock: Clock,
        family: aiohttp.ClientSession) -> None:
    await open_service(staff_client, accounts, clock)
    for n in range(3):
        status, body = await hold(family, local(5, 9 + n), contact=f"f{n}@example.fi")
        assert status == 201, body
    resp = await family.post(f"/api/book/{SLUG}/holds",
                             json=hold_body(local(5, 13), contact="f9@example.fi"))
    await assert_error(resp, 429, "too_many_bookings")


# -- confirm ---------------------------------------------------------------------------


async def test_forged_altered_and_wrong_purpose_tokens(kota: TestServer, staff_client: SignIn,
                                                       accounts: Accounts, clock: Clock,
                                                       settings: Settings,
                                                       family: aiohttp.ClientSession) -> None:
    await open_service(staff_client, accounts, clock)
    status, _ = await hold(family, local(5, 10))
    assert status == 201
    [booking] = bookings(settings)
    good = confirm_token(settings, booking)
    other_key = SigningKey(b"k" * 32)
    claims = jwt.decode(good, options={"verify_signature": False})
    forged = jwt.encode(claims, other_key.secret, algorithm=ALGORITHM)
    wrong_nonce = jwt.encode(claims | {"nonce": "guess"},
                             SigningKey.load_or_create(settings.signing_key_path).secret,
                             algorithm=ALGORITHM)
    other_booking = jwt.encode(claims | {"sub": str(booking.id + 1)},
                               SigningKey.load_or_create(settings.signing_key_path).secret,
                               algorithm=ALGORITHM)
    header, payload, signature = good.split(".")
    altered = f"{header}.{payload}.{signature[:-2]}AA"
    for token, code in [(forged, "token_invalid"), (wrong_nonce, "token_invalid"),
                        (other_booking, "token_invalid"), (altered, "token_invalid"),
                        ("abc", "token_malformed"), ("a.b.c", "token_malformed"),
                        (manage_token(settings, booking), "token_invalid")]:
        resp = await family.post("/api/book/confirm", json={"token": token})
        await assert_error(resp, 401, code)
        resp = await family.post("/api/book/manage", json={"token": token})
        assert resp.status in (401, 409)
    # A confirm token is not a manage token either.
    await assert_error(await family.post("/api/book/manage", json={"token": good}), 401,
                       "token_invalid")
    await assert_error(await family.post("/api/book/confirm", json={"token": ""}), 422,
                       "invalid_field")
    assert ISSUER and rows(settings, "SELECT COUNT(*) FROM appointments") == [(0,)]


async def test_the_short_confirm_link_of_a_text_message(
        kota: TestServer, staff_client: SignIn, accounts: Accounts, clock: Clock,
        settings: Settings, family: aiohttp.ClientSession) -> None:
    """``<booking id>-<MAC>``, as an SMS carries it: it confirms like the long one; an
    altered MAC, another booking's id or another key's MAC do not, and it is no manage
    token."""
    await open_service(staff_client, accounts, clock)
    status, _ = await hold(family, local(5, 10), contact="040 123 4567")
    assert status == 201
    [booking] = bookings(settings)
    short = booking_links(settings).short_confirm_token(booking)
    booking_id, mac = short.split("-", 1)
    assert booking_id == str(booking.id) and len(mac) == 16
    other_key = BookingLinks(SigningKey(b"q" * 32), settings.public_url)
    for token in [f"{booking_id}-{mac[:-1]}{'A' if mac[-1] != 'A' else 'B'}",
                  f"{booking.id + 1}-{mac}", other_key.short_confirm_token(booking)]:
        await assert_error(await family.post("/api/book/confirm", json={"token": token}),
                           401, "token_invalid")
    for token in [f"{booking_id}-{mac}x", f"-{mac}", f"{booking_id}{mac}", "\u0661-" + mac]:
        await assert_error(await family.post("/api/book/confirm", json={"token": token}),
                           401, "token_malformed")
    await assert_error(await family.post("/api/book/manage", json={"token": short}), 401,
                       "token_malformed")
    resp = await family.post("/api/book/confirm", json={"token": short})
    assert resp.status == 200, await resp.text()
    assert (await resp.json())["booking"]["state"] == "confirmed"


async def test_an_expired_hold_confirms_while_its_time_is_free(
        kota: TestServer, staff_client: SignIn, accounts: Accounts, clock: Clock,
        settings: Settings, family: aiohttp.ClientSession) -> None:
    await open_service(staff_client, accounts, clock)
    status, _ = await hold(family, local(5, 10))
    assert status == 201
    [booking] = bookings(settings)
    clock.advance(minutes=15)
    resp = await family.post("/api/book/confirm",
                             json={"token": confirm_token(settings, booking)})
    assert resp.status == 200, await resp.text()
    assert (await resp.json())["booking"]["state"] == "confirmed"


async def test_an_expired_hold_whose_time_is_gone_is_410_pending_message_withdrawn(
        kota: TestServer, staff_client: SignIn, accounts: Accounts, clock: Clock,
        settings: Settings, family: aiohttp.ClientSession) -> None:
    await open_service(staff_client, accounts, clock, staff=[accounts.worker.id])
    status, _ = await hold(family, local(5, 10))
    assert status == 201
    [first] = bookings(settings)
    # The SMTP server said "try later" once; the next try is a day away.
    await wait_until(lambda: rows(settings, "SELECT state, attempts FROM outbox") == [
        ("pending", 1)], 15, "the confirm message's first attempt")
    status, body = await hold(family, local(5, 10), contact="other@example.fi")
    assert status == 409, body  # still held
    clock.advance(minutes=11)
    status, body = await hold(family, local(5, 10), contact="other@example.fi")
    assert status == 201, body  # the hold ran out: the time is free at once
    gone = await assert_error(await family.post("/api/book/confirm",
                                                json={"token": confirm_token(settings, first)}),
                              410, "hold_expired")
    assert gone["error"]["slug"] == SLUG  # the way back to the booking page
    # The sweep records the expiry once; the message not yet sent is withdrawn.
    desk_rows = rows(settings, "SELECT state FROM bookings ORDER BY id")
    assert desk_rows == [("held",), ("held",)]
    assert await kota.app[BOOKING_DESK].expire_holds(clock()) == 1
    assert await kota.app[BOOKING_DESK].expire_holds(clock()) == 0
    assert rows(settings, "SELECT state FROM bookings ORDER BY id") == [("expired",), ("held",)]
    assert rows(settings, "SELECT state FROM outbox WHERE booking_id = ?", first.id) == [
        ("withdrawn",)]
    assert rows(settings, "SELECT detail FROM audit_log WHERE action = 'booking.expired'") == [
        (json.dumps({"booking": first.id}, separators=(",", ":")),)]


async def test_a_held_booking_blocks_staff_creates_with_the_time_only(
        kota: TestServer, staff_client: SignIn, accounts: Accounts, clock: Clock,
        family: aiohttp.ClientSession) -> None:
    await open_service(staff_client, accounts, clock, staff=[accounts.worker.id])
    status, _ = await hold(family, local(5, 10))
    assert status == 201
    sanna = await staff_client("sanna")
    body = {"starts_at": iso(local(5, 10, 15)), "ends_at": iso(local(5, 11)),
            "kind": "other", "participants": []}
    resp = await sanna.post("/api/appointments", json=body)
    refused = await assert_error(resp, 409, "appointment_overlap")
    assert refused["error"]["starts_at"] == "2027-01-05T10:00:00+02:00"
    assert "Maija" not in json.dumps(refused) and "appointment_id" not in refused["error"]
    resp = await sanna.get(f"/api/staff/{accounts.worker.id}/next_free?date=2027-01-05"
                           "&duration_minutes=30")
    assert (await resp.json())["starts_at"] != "2027-01-05T10:00:00+02:00"
    clock.advance(minutes=11)
    assert (await sanna.post("/api/appointments", json=body)).status == 201


# -- manage ----------------------------------------------------------------------------


async def test_move_to_a_taken_time_and_a_bad_time(kota: TestServer, staff_client: SignIn,
                                                   accounts: Accounts, clock: Clock,
                                                   settings: Settings,
                                                   family: aiohttp.ClientSession) -> None:
    await open_service(staff_client, accounts, clock, staff=[accounts.worker.id])
    await _confirmed(family, settings, local(7, 10))
    status, _ = await hold(family, local(7, 11), contact="other@example.fi")
    assert status == 201
    booking = bookings(settings)[0]
    token = manage_token(settings, booking)
    resp = await family.post("/api/book/manage/move",
                             json={"token": token, "starts_at": iso(local(7, 11))})
    body = await assert_error(resp, 409, "slot_taken")
    assert body["error"]["next_free"][0] == "2027-01-07T11:30:00+02:00"
    resp = await family.post("/api/book/manage/move",
                             json={"token": token, "starts_at": "2027-01-07T12:00:00"})
    await assert_error(resp, 422, "time_without_zone")
    # Moving onto its own time changes nothing; onto a neighbouring time works.
    resp = await family.post("/api/book/manage/move",
                             json={"token": token, "starts_at": iso(local(7, 10))})
    assert resp.status == 200
    resp = await family.post("/api/book/manage/move",
                             json={"token": token, "starts_at": iso(local(7, 10, 30))})
    assert resp.status == 200, await resp.text()
    assert (await resp.json())["booking"]["starts_at"] == "2027-01-07T10:30:00+02:00"


async def test_manage_a_booking_not_yet_confirmed(kota: TestServer, staff_client: SignIn,
                                                  accounts: Accounts, clock: Clock,
                                                  settings: Settings,
                                                  family: aiohttp.ClientSession) -> None:
    await open_service(staff_client, accounts, clock)
    status, _ = await hold(family, local(7, 10))
    assert status == 201
    token = manage_token(settings, bookings(settings)[0])
    await assert_error(await family.post("/api/book/manage", json={"token": token}), 409,
                       "booking_not_confirmed")
    await assert_error(await family.post("/api/book/manage/cancel", json={"token": token}),
                       409, "booking_not_confirmed")


async def test_manage_link_expires_after_the_appointment(
        kota: TestServer, staff_client: SignIn, accounts: Accounts, clock: Clock,
        settings: Settings, family: aiohttp.ClientSession) -> None:
    await open_service(staff_client, accounts, clock)
    await _confirmed(family, settings, local(7, 10))
    token = manage_token(settings, bookings(settings)[0])
    clock.advance(days=5)
    await assert_error(await family.post("/api/book/manage", json={"token": token}), 401,
                       "token_expired")


# -- privacy ---------------------------------------------------------------------------


async def test_public_answers_reveal_no_one_else(kota: TestServer, staff_client: SignIn,
                                                 accounts: Accounts, clock: Clock,
                                                 settings: Settings,
                                                 family: aiohttp.ClientSession) -> None:
    """Another family's booking and the professional's own appointments show only as
    missing times: no names, contacts, topics, kinds or ids in any public answer."""
    await open_service(staff_client, accounts, clock, staff=[accounts.worker.id])
    await _confirmed(family, settings, local(7, 10), display_name="Toinen Perhe",
                     contact="toinen@example.fi", topic="Salaisuus")
    sanna: StaffClient = await staff_client("sanna")
    resp = await sanna.post("/api/appointments", json={
        "starts_at": iso(local(7, 12)), "ends_at": iso(local(7, 13)),
        "kind": "child_protection",
        "participants": [{"display_name": "Lapsi Asiakas", "role": "guardian"}]})
    assert resp.status == 201
    seen: list[str] = []
    for path in (f"/api/book/{SLUG}", f"/api/book/{SLUG}/times?from=2027-01-07&days=1"):
        resp = await family.get(path)
        seen.append(await resp.text())
    status, body = await hold(family, local(7, 10), display_name="Maija",
                              contact="maija2@example.fi")
    assert status == 409
    seen.append(json.dumps(body))
    _, body = await hold(family, local(7, 12), contact="maija2@example.fi")
    seen.append(json.dumps(body))
    text = "\n".join(seen)
    for secret in ("Toinen", "toinen@", "Salaisuus", "Lapsi", "child_protection", "Sanna",
                   "Aikio", "staff_id", "appointment"):
        assert secret not in text, (secret, text)
    times = json.loads(seen[1])["days"][0]["times"]
    starts = {t["starts_at"] for t in times}
    assert "2027-01-07T10:00:00+02:00" not in starts
    assert "2027-01-07T12:30:00+02:00" not in starts
    assert "2027-01-07T13:00:00+02:00" in starts
    # The topic is for staff who can see the appointment, and never in the usage log.
    [booking] = [b for b in bookings(settings) if b.topic]
    resp = await sanna.get(f"/api/appointments/{booking.appointment_id}")
    assert (await resp.json())["booking"] == {"service": "Perheneuvola, Inari",
                                              "topic": "Salaisuus"}
    olli = await staff_client("olli")
    resp = await olli.get(f"/api/appointments/{booking.appointment_id}")
    await assert_error(resp, 404, "appointment_not_found")
    log = rows(settings, "SELECT * FROM audit_log")
    assert "Salaisuus" not in repr(log) and "toinen@" not in repr(log)
    assert booking_links(settings)


@pytest.mark.parametrize("raw", ["9999-12-31T23:00:00+00:00", "0001-01-01T00:00:00+14:00",
                                 "2020-01-01T10:00:00+02:00"])
async def test_times_far_away_are_taken_not_a_crash(kota: TestServer, staff_client: SignIn,
                                                    accounts: Accounts, clock: Clock,
                                                    settings: Settings,
                                                    family: aiohttp.ClientSession,
                                                    raw: str) -> None:
    await open_service(staff_client, accounts, clock)
    body = hold_body(local(5, 10)) | {"starts_at": raw}
    resp = await family.post(f"/api/book/{SLUG}/holds", json=body)
    refused = await assert_error(resp, 409, "slot_taken")
    assert refused["error"]["next_free"][0] == "2027-01-04T09:00:00+02:00"
    await _confirmed(family, settings, local(8, 10))
    token = manage_token(settings, bookings(settings)[0])
    resp = await family.post("/api/book/manage/move", json={"token": token, "starts_at": raw})
    await assert_error(resp, 409, "slot_taken")


async def test_the_booking_follows_staff_moves_and_cancels(
        kota: TestServer, staff_client: SignIn, accounts: Accounts, clock: Clock,
        settings: Settings, family: aiohttp.ClientSession) -> None:
    await open_service(staff_client, accounts, clock, staff=[accounts.worker.id])
    await _confirmed(family, settings, local(8, 10))
    [booking] = bookings(settings)
    token = manage_token(settings, booking)
    sanna = await staff_client("sanna")
    resp = await sanna.patch(f"/api/appointments/{booking.appointment_id}",
                             json={"starts_at": iso(local(8, 12)),
                                   "ends_at": iso(local(8, 12, 30))})
    assert resp.status == 200, await resp.text()
    resp = await family.post("/api/book/manage", json={"token": token})
    assert (await resp.json())["booking"]["starts_at"] == "2027-01-08T12:00:00+02:00"
    resp = await family.get(f"/api/book/{SLUG}/times?from=2027-01-08&days=1")
    starts = {t["starts_at"] for t in (await resp.json())["days"][0]["times"]}
    assert "2027-01-08T10:00:00+02:00" in starts and "2027-01-08T12:00:00+02:00" not in starts
    resp = await sanna.post(f"/api/appointments/{booking.appointment_id}/cancel")
    assert resp.status == 200
    resp = await family.post("/api/book/manage", json={"token": token})
    seen = await resp.json()
    assert seen["booking"]["state"] == "cancelled" and seen["booking"]["can_change"] is False
    assert seen["join_url"] is None
    resp = await family.post("/api/book/manage/move",
                             json={"token": token, "starts_at": iso(local(8, 13))})
    await assert_error(resp, 409, "booking_cancelled")


async def test_a_professional_who_left_takes_no_bookings(
        kota: TestServer, staff_client: SignIn, accounts: Accounts, clock: Clock,
        settings: Settings, family: aiohttp.ClientSession) -> None:
    await open_service(staff_client, accounts, clock, staff=[accounts.worker.id])
    with sqlite3.connect(settings.db_path) as conn:
        conn.execute("UPDATE staff SET active = 0 WHERE id = ?", (accounts.worker.id,))
    kota.app[BOOKING_DESK].forget_services()
    resp = await family.get(f"/api/book/{SLUG}/times?from=2027-01-08&days=1")
    assert (await resp.json())["days"][0]["times"] == []


async def test_an_appointment_whose_call_ended_frees_its_time(
        kota: TestServer, staff_client: SignIn, accounts: Accounts, clock: Clock,
        settings: Settings, family: aiohttp.ClientSession) -> None:
    await open_service(staff_client, accounts, clock, staff=[accounts.worker.id])
    sanna = await staff_client("sanna")
    resp = await sanna.post("/api/appointments", json={
        "starts_at": iso(local(4, 10)), "ends_at": iso(local(4, 11)), "kind": "other",
        "participants": []})
    created = await resp.json()
    assert resp.status == 201, created

    async def monday() -> set[str]:
        resp = await family.get(f"/api/book/{SLUG}/times?from=2027-01-04&days=1")
        return {t["starts_at"] for t in (await resp.json())["days"][0]["times"]}

    assert "2027-01-04T10:30:00+02:00" not in await monday()
    with sqlite3.connect(settings.db_path) as conn:  # staff ended the call for everyone
        conn.execute("INSERT INTO call_sessions (appointment_id, seats_taken, ended,"
                     " updated_at) VALUES (?, 0, 1, '2027-01-04T05:30:00Z')", (created["id"],))
    assert "2027-01-04T10:30:00+02:00" in await monday()


async def test_with_only_email_a_phone_number_is_refused_only_email(
        kota: TestServer, staff_client: SignIn, accounts: Accounts, clock: Clock,
        family: aiohttp.ClientSession) -> None:
    """No confirm link could go by SMS: the hold is refused, and the page learns
    beforehand which contacts work."""
    await open_service(staff_client, accounts, clock)
    resp = await family.get(f"/api/book/{SLUG}")
    assert (await resp.json())["channels"] == ["email"]
    resp = await family.post(f"/api/book/{SLUG}/holds",
                             json=hold_body(local(5, 10), contact="040 123 4567"))
    await assert_error(resp, 422, "sms_not_available")
    status, body = await hold(family, local(5, 10))
    assert status == 201, body


async def test_with_only_sms_an_address_is_refused_only_sms(
        kota: TestServer, staff_client: SignIn, accounts: Accounts, clock: Clock,
        family: aiohttp.ClientSession) -> None:
    await open_service(staff_client, accounts, clock)
    resp = await family.get(f"/api/book/{SLUG}")
    assert (await resp.json())["channels"] == ["sms"]
    resp = await family.post(f"/api/book/{SLUG}/holds", json=hold_body(local(5, 10)))
    await assert_error(resp, 422, "email_not_available")
    status, body = await hold(family, local(5, 10), contact="040 123 4567")
    assert status == 201, body


async def test_with_no_channel_no_time_can_be_held_no_channel(
        kota: TestServer, staff_client: SignIn, accounts: Accounts, clock: Clock,
        family: aiohttp.ClientSession, settings: Settings) -> None:
    """Neither e-mail nor SMS is set up: no confirm link could ever go, so nothing is
    held (nothing pretends to send) and the page learns it has no channel."""
    await open_service(staff_client, accounts, clock)
    resp = await family.get(f"/api/book/{SLUG}")
    assert (await resp.json())["channels"] == []
    for contact in ("maija@example.fi", "040 123 4567"):
        resp = await family.post(f"/api/book/{SLUG}/holds",
                                 json=hold_body(local(5, 10), contact=contact))
        await assert_error(resp, 409, "booking_unavailable")

    def bookings() -> int:
        with sqlite3.connect(settings.db_path) as conn:
            return int(conn.execute("SELECT COUNT(*) FROM bookings").fetchone()[0])

    assert await asyncio.to_thread(bookings) == 0

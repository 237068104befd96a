"""Staff sign-in: cookies, renewal and idle expiry, CSRF, origin, roles, throttling."""

from __future__ import annotations

import dataclasses
import sqlite3
from datetime import date
from http.cookies import SimpleCookie

import aiohttp
from aiohttp.test_utils import TestServer

from server.app import create_app
from server.settings import Settings
from server.staff_auth import COOKIE_NAME, CSRF_HEADER
from tests.conftest import PASSWORD, Accounts, StaffClient, assert_error
from tests.server.conftest import Clock, appointment_body


def _cookie(resp: aiohttp.ClientResponse) -> SimpleCookie:
    jar: SimpleCookie = SimpleCookie()
    for header in resp.headers.getall("Set-Cookie", []):
        jar.load(header)
    return jar


async def _client(kota: TestServer) -> StaffClient:
    return StaffClient(str(kota.make_url("")).rstrip("/"))


async def test_login_sets_a_strict_short_lived_cookie(kota: TestServer, settings: Settings) -> None:
    client = await _client(kota)
    try:
        resp = await client.login("sanna")
        body = await resp.json()
        assert resp.status == 201, body
        assert body["staff"]["username"] == "sanna"
        assert body["csrf_token"]
        morsel = _cookie(resp)[COOKIE_NAME]
        raw = resp.headers["Set-Cookie"]
        assert "HttpOnly" in raw
        assert morsel["samesite"] == "Strict"
        assert morsel["path"] == "/"
        assert int(morsel["max-age"]) == settings.session_minutes * 60 <= 3600
        assert not morsel["secure"]  # http public URL in tests; https makes it Secure
    finally:
        await client.close()


async def test_cookie_is_secure_behind_https(settings: Settings, accounts: Accounts) -> None:
    behind_proxy = dataclasses.replace(settings, public_url="https://kota.example.fi")
    server = TestServer(create_app(behind_proxy), host="127.0.0.1", port=settings.port)
    await server.start_server()
    client = await _client(server)
    try:
        resp = await client.login("sanna")
        assert resp.status == 201
        assert _cookie(resp)[COOKIE_NAME]["secure"]
    finally:
        await client.close()
        await server.close()


async def test_session_cookie_is_stored_only_as_a_hash(
    kota: TestServer, settings: Settings
) -> None:
    client = await _client(kota)
    try:
        resp = await client.login("sanna")
        value = _cookie(resp)[COOKIE_NAME].value
    finally:
        await client.close()
    with sqlite3.connect(settings.db_path) as conn:
        stored = conn.execute("SELECT id_hash FROM staff_sessions").fetchall()
    assert stored and all(value not in row[0] for row in stored)


async def test_get_session_tells_who_is_signed_in(sanna: StaffClient) -> None:
    resp = await sanna.get("/api/session")
    body = await resp.json()
    assert resp.status == 200, body
    assert body["staff"]["username"] == "sanna"
    assert body["csrf_token"] == sanna.csrf


async def test_get_session_without_cookie_is_not_signed_in(kota: TestServer) -> None:
    async with aiohttp.ClientSession() as session:
        resp = await session.get(kota.make_url("/api/session"))
        await assert_error(resp, 401, "not_signed_in")


async def test_logout_ends_the_session_on_the_server(sanna: StaffClient) -> None:
    value = next(c.value for c in sanna.session.cookie_jar if c.key == COOKIE_NAME)
    resp = await sanna.delete("/api/session")
    assert resp.status == 204
    cleared = _cookie(resp)[COOKIE_NAME]
    assert cleared.value == "" and cleared["max-age"] == "0"
    await assert_error(await sanna.get("/api/session"), 401, "not_signed_in")
    # The old cookie value, replayed, opens nothing.
    async with aiohttp.ClientSession(cookies={COOKIE_NAME: value}) as replay:
        resp = await replay.get(f"{sanna.base}/api/session")
        await assert_error(resp, 401, "not_signed_in")


async def test_session_is_renewed_while_active(
    sanna: StaffClient, clock: Clock, settings: Settings
) -> None:
    lifetime = settings.session_minutes
    # Early in its life the session is not renewed (no cookie churn on every call).
    clock.advance(minutes=lifetime * 0.25)
    resp = await sanna.get("/api/session")
    assert resp.status == 200 and COOKIE_NAME not in _cookie(resp)
    # In its second half, any call renews it.
    clock.advance(minutes=lifetime * 0.5)
    resp = await sanna.get("/api/session")
    assert resp.status == 200
    assert int(_cookie(resp)[COOKIE_NAME]["max-age"]) == lifetime * 60
    # Past the first expiry, still signed in because of the renewal.
    clock.advance(minutes=lifetime * 0.5)
    resp = await sanna.get("/api/session")
    assert resp.status == 200, await resp.text()


async def test_session_expires_when_idle(sanna: StaffClient, clock: Clock) -> None:
    clock.advance(minutes=31)
    await assert_error(await sanna.get("/api/session"), 401, "not_signed_in")


async def test_write_without_csrf_token_is_refused(sanna: StaffClient) -> None:
    resp = await sanna.session.post(f"{sanna.base}/api/appointments", json=appointment_body())
    await assert_error(resp, 403, "csrf_failed")


async def test_write_with_wrong_csrf_token_is_refused(sanna: StaffClient) -> None:
    resp = await sanna.post(
        "/api/appointments", json=appointment_body(), headers={CSRF_HEADER: "forged"}
    )
    await assert_error(resp, 403, "csrf_failed")


async def test_write_from_a_foreign_origin_is_refused(sanna: StaffClient) -> None:
    resp = await sanna.post(
        "/api/appointments", json=appointment_body(), headers={"Origin": "https://evil.example"}
    )
    await assert_error(resp, 403, "cross_origin")


async def test_login_from_a_foreign_origin_is_refused(kota: TestServer) -> None:
    async with aiohttp.ClientSession() as session:
        resp = await session.post(
            kota.make_url("/api/session"),
            json={"username": "sanna", "password": PASSWORD},
            headers={"Origin": "null"},
        )
        await assert_error(resp, 403, "cross_origin")


async def test_write_from_own_origin_is_accepted(sanna: StaffClient, settings: Settings) -> None:
    resp = await sanna.post(
        "/api/appointments", json=appointment_body(), headers={"Origin": settings.public_url}
    )
    assert resp.status == 201, await resp.text()


async def test_audit_export_is_for_admins_only(sanna: StaffClient) -> None:
    today = date.today().isoformat()
    resp = await sanna.get(f"/api/audit.csv?from={today}&to={today}")
    await assert_error(resp, 403, "admin_only")


async def test_wrong_username_and_wrong_password_look_the_same(kota: TestServer) -> None:
    client = await _client(kota)
    try:
        unknown = await client.login("nobody", PASSWORD)
        wrong = await client.login("sanna", "not the password")
        unknown_body = await assert_error(unknown, 401, "bad_credentials")
        wrong_body = await assert_error(wrong, 401, "bad_credentials")
        assert unknown_body == wrong_body
    finally:
        await client.close()


async def test_repeated_failed_logins_are_throttled(kota: TestServer) -> None:
    client = await _client(kota)
    try:
        for _ in range(3):  # three free tries, then a growing wait
            await assert_error(await client.login("sanna", "guess"), 401, "bad_credentials")
        resp = await client.login("sanna", "guess again")
        body = await assert_error(resp, 429, "too_many_attempts")
        assert int(resp.headers["Retry-After"]) >= 1
        assert body["error"]["retry_after"] == int(resp.headers["Retry-After"])
        # The right password is refused too while the lockout lasts.
        resp = await client.login("sanna", PASSWORD)
        await assert_error(resp, 429, "too_many_attempts")
    finally:
        await client.close()


async def test_login_body_must_be_json(kota: TestServer) -> None:
    async with aiohttp.ClientSession() as session:
        resp = await session.post(kota.make_url("/api/session"), data="username=sanna")
        await assert_error(resp, 400, "json_expected")

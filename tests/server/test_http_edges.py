"""Health probes, security headers on every response, and the one error shape (never a
traceback)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from server.app import create_app
from server.app_keys import DB
from server.settings import Settings
from tests.conftest import Accounts, assert_error


async def test_healthz(family: aiohttp.ClientSession) -> None:
    resp = await family.get("/healthz")
    assert resp.status == 200
    assert await resp.json() == {"status": "ok"}


async def test_readyz_with_the_database(family: aiohttp.ClientSession) -> None:
    resp = await family.get("/readyz")
    assert resp.status == 200
    assert await resp.json() == {"status": "ok", "database": "ok", "usage_log_pending": 0}


async def test_readyz_without_the_database(kota: TestServer, family: aiohttp.ClientSession) -> None:
    await kota.app[DB].close()
    resp = await family.get("/readyz")
    assert resp.status == 503
    assert (await resp.json())["status"] == "unavailable"
    assert (await family.get("/healthz")).status == 200


def _assert_secure_headers(resp: aiohttp.ClientResponse) -> None:
    csp = resp.headers["Content-Security-Policy"]
    assert "unsafe-inline" not in csp and "unsafe-eval" not in csp
    directives = dict(d.strip().split(" ", 1) for d in csp.split(";"))
    assert directives["default-src"] == "'self'"
    assert directives["script-src"] == "'self'"
    assert directives["frame-ancestors"] == "'none'"
    assert resp.headers["Referrer-Policy"] == "no-referrer"
    assert resp.headers["X-Content-Type-Options"] == "nosniff"
    assert "geolocation=()" in resp.headers["Permissions-Policy"]


@pytest.mark.parametrize(
    "path", ["/", "/api/session", "/api/appointments/1", "/healthz", "/nowhere",
             "/ws", "/ws?appointment=x"]
)
async def test_security_headers_everywhere(family: aiohttp.ClientSession, path: str) -> None:
    resp = await family.get(path)
    _assert_secure_headers(resp)
    assert "camera=()" in resp.headers["Permissions-Policy"]


async def test_the_staff_app_may_use_the_camera(family: aiohttp.ClientSession) -> None:
    """A contact line's session in the staff app (#/lines) may become a video call."""
    resp = await family.get("/staff")
    _assert_secure_headers(resp)
    assert "camera=(self)" in resp.headers["Permissions-Policy"]


async def test_the_call_sockets_upgrade_carries_no_page_headers(
    family: aiohttp.ClientSession,
) -> None:
    """A 101 is not a page: browsers apply none of them, and they would cost every call."""
    async with family.ws_connect("/ws") as ws:
        headers = ws._response.headers
        assert headers["Upgrade"].lower() == "websocket"
        assert "Content-Security-Policy" not in headers


async def test_call_page_may_use_camera_and_microphone(family: aiohttp.ClientSession) -> None:
    resp = await family.get("/join")
    _assert_secure_headers(resp)
    policy = resp.headers["Permissions-Policy"]
    assert "camera=(self)" in policy and "microphone=(self)" in policy


async def test_api_answers_are_not_cached(family: aiohttp.ClientSession) -> None:
    resp = await family.get("/api/session")
    assert resp.headers["Cache-Control"] == "no-store"


async def test_unknown_api_path_gets_the_error_shape(family: aiohttp.ClientSession) -> None:
    await assert_error(await family.get("/api/nothing-here"), 404, "not_found")


async def test_wrong_method_gets_the_error_shape(family: aiohttp.ClientSession) -> None:
    await assert_error(await family.put("/api/appointments"), 405, "method_not_allowed")


class Boom(RuntimeError):
    """A bug inside a handler."""


@pytest.fixture
async def buggy(settings: Settings, accounts: Accounts) -> AsyncIterator[TestServer]:
    """The real app plus one route with a bug in it."""
    app = create_app(settings)

    async def broken(request: web.Request) -> web.Response:
        raise Boom("secret detail /home/kota/server.py line 12")

    app.router.add_get("/api/broken", broken)
    app.router.add_get("/broken-page", broken)
    server = TestServer(app, host="127.0.0.1", port=settings.port)
    await server.start_server()
    try:
        yield server
    finally:
        await server.close()


@pytest.mark.parametrize("path", ["/api/broken", "/broken-page"])
async def test_unhandled_exception_is_a_plain_500(
    buggy: TestServer, caplog: pytest.LogCaptureFixture, path: str
) -> None:
    async with aiohttp.ClientSession() as session:
        resp = await session.get(buggy.make_url(path))
        await assert_error(resp, 500, "internal")
        text = await resp.text()
    for leak in ("Traceback", "Boom", "secret detail", "server.py"):
        assert leak not in text
    _assert_secure_headers(resp)
    logged = [r for r in caplog.records if r.getMessage() == "http.internal_error"]
    assert len(logged) == 1 and logged[0].exc_info is not None
    assert getattr(logged[0], "request_id", None)

"""The caps on connections and call sockets, against a real ``kota run``: what is over a cap
gets 503 at once, staff HTTP keeps answering while call sockets are refused, the log says
so a few times rather than once per refusal, and serving resumes when connections close."""

from __future__ import annotations

import asyncio
import json
import resource
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from server.settings import (
    Settings,
    SettingsError,
    default_max_call_sockets,
    default_max_connections,
    load_settings,
)
from tests.conftest import assert_error, wait_until
from tests.server.kota_run import KotaRun, kota_run

ANSWER_TIMEOUT = 5.0  # a refusal is written the moment the connection is accepted
Connection = tuple[asyncio.StreamReader, asyncio.StreamWriter]
HEALTHZ = b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
MAX_REFUSAL_LINES = 3  # the first at once, one per 10 s interval, the rest at shutdown


async def _answer(reader: asyncio.StreamReader) -> tuple[int, dict[str, str], Any]:
    """One HTTP answer read off a raw socket: status, headers (lower-case), JSON body."""

    async def read() -> tuple[int, dict[str, str], Any]:
        head = await reader.readuntil(b"\r\n\r\n")
        status, *lines = head.decode("latin-1").strip().split("\r\n")
        headers = {k.strip().lower(): v.strip() for k, _, v in (h.partition(":") for h in lines)}
        body = await reader.readexactly(int(headers.get("content-length", "0")))
        return int(status.split()[1]), headers, json.loads(body) if body else None

    return await asyncio.wait_for(read(), ANSWER_TIMEOUT)


def _assert_busy(status: int, headers: dict[str, str], body: Any) -> None:
    assert status == 503, (status, body)
    assert headers["retry-after"] == "10"
    assert headers["connection"].lower() == "close"
    assert set(body) == {"error"} and body["error"]["code"] == "server_busy"
    assert body["error"]["message"]


async def _refused(kota: KotaRun, send_request: bool) -> None:
    """A connection over the cap: answered 503 at once, then closed by the server."""
    reader, writer = await asyncio.open_connection("127.0.0.1", kota.port)
    try:
        if send_request:
            writer.write(HEALTHZ)
        _assert_busy(*await _answer(reader))
        assert await asyncio.wait_for(reader.read(), ANSWER_TIMEOUT) == b""  # closed
    finally:
        writer.close()


async def _served_connection(kota: KotaRun) -> Connection:
    """A keep-alive connection the server took in (a /healthz on it answered 200)."""
    held: list[Connection] = []

    async def served() -> bool:
        reader, writer = await asyncio.open_connection("127.0.0.1", kota.port)
        writer.write(HEALTHZ)
        status, _, _ = await _answer(reader)
        if status == 200:
            held.append((reader, writer))
            return True
        writer.close()  # a connection just closed may still be counted for a moment
        return False

    await wait_until(served, what="a connection to be served")
    return held[0]


async def _healthy(kota: KotaRun) -> bool:
    async with aiohttp.ClientSession() as session, session.get(f"{kota.base}/healthz") as resp:
        return resp.status == 200


def _refusal_lines(kota: KotaRun, event: str) -> list[dict[str, Any]]:
    lines = kota.events(event)
    assert 1 <= len(lines) <= MAX_REFUSAL_LINES, lines
    return lines


def _assert_no_descriptor_trouble(kota: KotaRun) -> None:
    text = kota.text()
    for sign in ("out of system resource", "Too many open files", '"loop.error"',
                 '"level": "error"', "Traceback"):
        assert sign not in text, text


async def test_connections_over_the_cap_get_503_at_once_and_serving_resumes(
    settings: Settings, tmp_path: Path
) -> None:
    cap, excess = 8, 12
    async with kota_run(settings, tmp_path, KOTA_MAX_CONNECTIONS=str(cap),
                        KOTA_MAX_CALL_SOCKETS="4") as kota:
        held = [await _served_connection(kota) for _ in range(cap)]
        await asyncio.gather(*(_refused(kota, send_request=i % 2 == 0) for i in range(excess)))
        for reader, writer in held:  # the connections within the cap are still served
            writer.write(HEALTHZ)
            assert (await _answer(reader))[0] == 200
        for _, writer in held:
            writer.close()
        await wait_until(lambda: _healthy(kota), what="the server to serve again")
        assert await kota.stop() == 0
    lines = _refusal_lines(kota, "server.connections_refused")
    assert sum(line["count"] for line in lines) >= excess
    assert all(line["limit"] == cap for line in lines)
    _assert_no_descriptor_trouble(kota)


async def test_call_sockets_over_their_cap_get_503_while_staff_http_answers(
    settings: Settings, tmp_path: Path
) -> None:
    call_sockets, refusals = 4, 5
    async with kota_run(settings, tmp_path, KOTA_MAX_CONNECTIONS="32",
                        KOTA_MAX_CALL_SOCKETS=str(call_sockets),
                        KOTA_HELLO_TIMEOUT_SECONDS="120") as kota, \
            aiohttp.ClientSession(base_url=kota.base) as session:
        sockets = [await session.ws_connect("/ws") for _ in range(call_sockets)]
        for _ in range(refusals - 1):
            with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
                await session.ws_connect("/ws")
            assert refused.value.status == 503
            assert refused.value.headers is not None
            assert refused.value.headers["Retry-After"] == "10"
        resp = await session.get("/ws", headers={"Upgrade": "websocket", "Connection": "Upgrade"})
        await assert_error(resp, 503, "too_many_call_sockets")
        assert resp.headers["Retry-After"] == "10"
        # staff pages and the API answer as usual
        await assert_error(await session.get("/api/session"), 401, "not_signed_in")
        assert (await session.get("/healthz")).status == 200
        assert (await session.get("/staff")).status == 200
        # a call socket that closes makes room for another
        await sockets.pop().close()

        async def reopened() -> bool:
            try:
                sockets.append(await session.ws_connect("/ws"))
            except aiohttp.WSServerHandshakeError:
                return False
            return True

        await wait_until(reopened, what="a call socket to open once one closed")
        # SIGTERM still closes every call socket with 1001, and the server exits cleanly
        closing = [asyncio.create_task(ws.receive()) for ws in sockets]
        assert await kota.stop() == 0
        await asyncio.wait_for(asyncio.gather(*closing), ANSWER_TIMEOUT)
        assert [ws.close_code for ws in sockets] == [1001] * call_sockets
    lines = _refusal_lines(kota, "ws.call_sockets_refused")
    assert sum(line["count"] for line in lines) >= refusals
    assert [line["limit"] for line in lines] == [call_sockets] * len(lines)
    _assert_no_descriptor_trouble(kota)


async def test_under_a_low_open_files_limit_the_derived_caps_hold(
    settings: Settings, tmp_path: Path
) -> None:
    """RLIMIT_NOFILE 256 and no caps set: Kota keeps 192 descriptors back, so it serves 64
    connections, 56 of them call sockets, and never runs out of descriptors."""
    open_files = 256
    connections = default_max_connections(open_files)
    call_sockets = default_max_call_sockets(connections)
    assert (connections, call_sockets) == (64, 56)
    async with kota_run(settings, tmp_path, open_files=open_files,
                        KOTA_HELLO_TIMEOUT_SECONDS="120") as kota:
        [listening] = kota.events("server.listening")
        assert listening["max_connections"] == connections
        assert listening["max_call_sockets"] == call_sockets
        async with aiohttp.ClientSession(base_url=kota.base) as session:
            sockets = [await session.ws_connect("/ws") for _ in range(call_sockets)]
            with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
                await session.ws_connect("/ws")
            assert refused.value.status == 503
            await assert_error(await session.get("/api/session"), 401, "not_signed_in")
            # far more raw connections than are left: each is served or refused at once
            more = [await asyncio.open_connection("127.0.0.1", kota.port) for _ in range(24)]
            for _, writer in more:
                writer.write(HEALTHZ)
            answers = [await _answer(reader) for reader, _ in more]
            statuses = [status for status, _, _ in answers]
            assert set(statuses) == {200, 503}, statuses
            assert statuses.count(200) <= connections - call_sockets
            for status, headers, body in answers:
                if status == 503:
                    _assert_busy(status, headers, body)
            for _, writer in more:
                writer.close()
            for ws in sockets:
                await ws.close()
            await wait_until(lambda: _healthy(kota), what="the server to serve again")
            assert (await session.ws_connect("/ws")).closed is False
        assert await kota.stop() == 0
    _refusal_lines(kota, "server.connections_refused")
    _refusal_lines(kota, "ws.call_sockets_refused")
    _assert_no_descriptor_trouble(kota)


@pytest.mark.parametrize(
    ("open_files", "connections", "call_sockets"),
    [
        (256, 64, 56),  # at least 192 kept back: one accept batch, database, peers, logs
        (1024, 768, 672),  # a quarter kept back; an eighth of the rest for staff HTTP
        (65536, 61440, 60416),  # at most 4096 kept back, at most 1024 for staff HTTP
        (100, 8, 4),  # never below 8 connections
    ],
)
def test_caps_are_derived_from_the_open_files_limit(
    open_files: int, connections: int, call_sockets: int
) -> None:
    assert default_max_connections(open_files) == connections
    assert default_max_call_sockets(connections) == call_sockets


def test_defaults_follow_this_process_open_files_limit() -> None:
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    settings = load_settings({})
    assert settings.max_connections == default_max_connections(soft)
    assert settings.max_call_sockets == default_max_call_sockets(settings.max_connections)


def test_call_socket_cap_follows_a_connection_cap_that_is_set() -> None:
    settings = load_settings({"KOTA_MAX_CONNECTIONS": "100"})
    assert (settings.max_connections, settings.max_call_sockets) == (100, 88)


def test_call_socket_cap_at_or_over_the_connection_cap_is_refused() -> None:
    with pytest.raises(SettingsError) as caught:
        load_settings({"KOTA_MAX_CONNECTIONS": "100", "KOTA_MAX_CALL_SOCKETS": "100"})
    assert str(caught.value).startswith("KOTA_MAX_CALL_SOCKETS: expected an integer from 1 to 99")


@pytest.mark.parametrize("value", ["0", "7", "many"])
def test_bad_connection_cap_is_refused(value: str) -> None:
    with pytest.raises(SettingsError) as caught:
        load_settings({"KOTA_MAX_CONNECTIONS": value})
    assert str(caught.value).startswith("KOTA_MAX_CONNECTIONS: ")


async def test_out_of_descriptors_all_the_same_is_logged_once_per_interval(
    settings: Settings, tmp_path: Path
) -> None:
    """A cap set far above a low open-files limit: accept() fails with EMFILE again and
    again, asyncio's error is written once (then counted), and Kota recovers."""
    async with kota_run(settings, tmp_path, open_files=64, KOTA_MAX_CONNECTIONS="1000") as kota:
        flood = [await asyncio.open_connection("127.0.0.1", kota.port) for _ in range(100)]
        for _, writer in flood:
            writer.write(HEALTHZ)
        await wait_until(lambda: bool(kota.events("loop.error")), what="accept() to fail")
        for _, writer in flood:
            writer.close()
        await wait_until(lambda: _healthy(kota), timeout=10, what="the server to serve again")
        assert await kota.stop() == 0
    lines = kota.events("loop.error")
    assert 1 <= len(lines) <= MAX_REFUSAL_LINES, lines
    assert lines[0]["error"] == "socket.accept() out of system resource"
    assert lines[0]["exception"] == "OSError" and "Too many open files" in lines[0]["exc"]
    assert all("exc" not in line for line in lines[1:])  # the traceback once

"""Request bodies at the edges, over raw sockets: a declared size over the limit is refused
from the headers alone, and a client that leaves mid-body is no error of the server's."""

from __future__ import annotations

import asyncio
import json
import logging
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestServer

from server.settings import Settings
from tests.conftest import wait_until
from tests.server.kota_run import kota_run

ANSWER_TIMEOUT = 5.0  # aiohttp would drain an unread body for 10 s before closing


def _headers(path: str, length: int) -> bytes:
    return (f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            f"Content-Length: {length}\r\n\r\n").encode()


def _parse(answer: bytes) -> tuple[str, dict[str, str], Any]:
    head, _, body = answer.partition(b"\r\n\r\n")
    status, *lines = head.decode("latin-1").split("\r\n")
    headers = {name.lower(): value.strip() for name, _, value in (h.partition(":") for h in lines)}
    return status, headers, json.loads(body) if body else None


def _records(caplog: pytest.LogCaptureFixture, event: str) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.getMessage() == event]


@pytest.mark.parametrize("path", ["/api/join", "/api/session", "/healthz", "/nowhere"])
@pytest.mark.parametrize("over", [1, 10**9])
async def test_a_declared_body_over_the_limit_gets_413_without_sending_it(
    kota: TestServer, settings: Settings, caplog: pytest.LogCaptureFixture, path: str, over: int
) -> None:
    caplog.set_level(logging.INFO)
    reader, writer = await asyncio.open_connection("127.0.0.1", kota.port)
    try:
        writer.write(_headers(path, settings.max_body_bytes + over))  # and not a byte of body
        await writer.drain()
        # read() returns at the server's FIN: the connection is closed, not drained
        answer = await asyncio.wait_for(reader.read(), ANSWER_TIMEOUT)
    finally:
        writer.close()
    status, headers, body = _parse(answer)
    assert status.startswith("HTTP/1.1 413 "), answer
    assert headers["connection"].lower() == "close"
    assert body["error"]["code"] == "body_too_large" and body["error"]["message"]
    assert headers["x-content-type-options"] == "nosniff"  # the usual headers, as for any answer
    assert not _records(caplog, "http.internal_error")


async def test_a_body_at_the_limit_is_read(kota: TestServer, settings: Settings) -> None:
    """The limit itself is allowed: the body is read and judged as JSON."""
    reader, writer = await asyncio.open_connection("127.0.0.1", kota.port)
    try:
        limit = settings.max_body_bytes
        writer.write(_headers("/api/join", limit) + b" " * limit)
        await writer.drain()
        answer = await asyncio.wait_for(reader.readuntil(b"}}"), ANSWER_TIMEOUT)
    finally:
        writer.close()
    status, _, body = _parse(answer)
    assert status.startswith("HTTP/1.1 400 "), answer
    assert body["error"]["code"] == "bad_json"


async def test_a_client_gone_mid_body_is_not_an_internal_error(
    settings: Settings, tmp_path: Path
) -> None:
    """Against ``kota run``: unlike aiohttp's test server, it does not cancel a handler
    whose client left, so the handler's read fails instead (ConnectionResetError)."""
    body = json.dumps({"token": "x" * 4000}).encode()
    async with kota_run(settings, tmp_path) as kota:
        _, writer = await asyncio.open_connection("127.0.0.1", kota.port)
        writer.write(_headers("/api/join", len(body)) + body[: len(body) // 2])
        await writer.drain()
        writer.close()  # half the body sent, then gone
        await writer.wait_closed()

        def joins() -> list[dict[str, Any]]:
            return [r for r in kota.events("http.request") if r["route"] == "/api/join"]

        await wait_until(lambda: bool(joins()), what="the request's log line")
        assert await kota.stop() == 0
    assert not kota.events("http.internal_error")
    [request] = joins()
    assert request["status"] == 499
    [gone] = kota.events("http.client_gone")
    assert gone["level"] == "info" and gone["request_id"] == request["request_id"]
    assert '"level": "error"' not in kota.text()
    assert "Traceback" not in kota.text()

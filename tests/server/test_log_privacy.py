"""Tokens, names and contacts never reach the server's logs, even at DEBUG."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import aiohttp
import pytest

from server.log import JsonFormatter, configure_logging
from tests.conftest import StaffClient
from tests.server.conftest import MAIJA, MAIJA_CONTACT, book, copy_link, link_path

THIRD_PARTY = ("aiohttp.access", "aiosqlite", "aiohttp.server", "asyncio")


@pytest.fixture
def server_log() -> Iterator[io.StringIO]:
    """The server's own logging set-up at DEBUG; yields what it writes."""
    root = logging.getLogger()
    saved = root.level, {name: logging.getLogger(name).level for name in THIRD_PARTY}
    configure_logging("DEBUG")
    [handler] = [h for h in root.handlers if isinstance(h.formatter, JsonFormatter)]
    written = io.StringIO()
    assert isinstance(handler, logging.StreamHandler)
    handler.setStream(written)
    try:
        yield written
    finally:
        root.removeHandler(handler)
        root.setLevel(saved[0])
        for name, level in saved[1].items():
            logging.getLogger(name).setLevel(level)


async def test_a_whole_flow_logs_no_token_name_or_contact(
    server_log: io.StringIO, sanna: StaffClient, family: aiohttp.ClientSession
) -> None:
    created = await book(sanna)
    token = await copy_link(sanna, created)
    assert (await family.post("/api/join", json={"token": token})).status == 200
    assert (await family.post("/api/join", json={"token": token + "x"})).status == 401
    assert (await family.post("/api/join", json={"token": "garbage"})).status == 401
    assert (await sanna.delete(link_path(created))).status == 204
    assert (await family.post("/api/join", json={"token": token})).status == 401
    logged = server_log.getvalue()
    lines = [json.loads(line) for line in logged.splitlines()]
    # The capture works: the requests above are there, one JSON object per line.
    assert sum(line["event"] == "http.request" for line in lines) >= 8
    for secret in (token, token.split(".")[2], MAIJA, "Virtanen", MAIJA_CONTACT, sanna.csrf):
        assert secret and secret not in logged, secret

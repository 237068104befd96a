"""Tokens, names and contacts never reach the server's logs, even at DEBUG."""

from __future__ import annotations

import io
import json

import aiohttp

from tests.conftest import StaffClient
from tests.server.conftest import MAIJA, MAIJA_CONTACT, book, copy_link, link_path


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

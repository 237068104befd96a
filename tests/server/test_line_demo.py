"""``kota demo`` seeds a public line and a personal line once, and prints a new own link
for the demo family on every run (the earlier one revoked)."""

from __future__ import annotations

import hashlib
import re

import aiohttp
from aiohttp.test_utils import TestServer

from server.app import create_app
from server.settings import Settings
from tests.server.conftest import run_kota
from tests.server.line_helpers import rows


async def test_demo_prints_the_lines_and_a_fresh_family_link(settings: Settings) -> None:
    links = []
    for _ in range(2):
        done = await run_kota(settings, "demo")
        assert done.returncode == 0, done.stderr
        public = re.search(r"Public line:\s+(\S+)", done.stdout)
        own = re.search(r"Family's own line:\s+(\S+)", done.stdout)
        assert public and own, done.stdout
        assert public.group(1) == f"{settings.public_url}/line/perheneuvonta"
        assert own.group(1).startswith(f"{settings.public_url}/line/my#e=")
        links.append(own.group(1).rpartition("#e=")[2])
    assert links[0] != links[1]
    assert rows(settings, "SELECT slug, name, kind, modes FROM lines ORDER BY id") == [
        ("perheneuvonta", "Perheneuvonta — chat", "public", "both"),
        ("sannan-perheet", "Sannan perheet", "personal", "both")]
    assert rows(settings, "SELECT weekday, opens, closes FROM line_hours WHERE line_id = 1"
                " ORDER BY weekday") == [
        *((d, "08:00", "20:00") for d in range(5)), (5, "10:00", "16:00"), (6, "10:00", "16:00")]
    assert rows(settings, "SELECT secret_hash, revoked_at IS NULL FROM line_enrolments"
                " ORDER BY id") == [
        (hashlib.sha256(links[0].encode()).hexdigest(), 0),
        (hashlib.sha256(links[1].encode()).hexdigest(), 1)]
    assert rows(settings, "SELECT s.username FROM line_staff x JOIN staff s"
                " ON s.id = x.staff_id ORDER BY x.line_id") == [("sanna",), ("sanna",)]
    server = TestServer(create_app(settings), host="127.0.0.1", port=settings.port)
    await server.start_server()
    try:
        async with aiohttp.ClientSession(base_url=server.make_url("")) as family:
            resp = await family.get("/api/public/lines/perheneuvonta")
            body = await resp.json()
        assert resp.status == 200, body
        assert body["name"] == "Perheneuvonta — chat" and body["open"] in (True, False)
    finally:
        await server.close()

"""``kota demo`` seeds the booking page "Perheneuvola, Inari" once and prints its URL."""

from __future__ import annotations

import re

import aiohttp
from aiohttp.test_utils import TestServer

from server.app import create_app
from server.settings import Settings
from tests.server.booking_helpers import rows
from tests.server.conftest import run_kota


async def test_demo_prints_the_booking_page_and_seeds_it_once(settings: Settings) -> None:
    for _ in range(2):
        done = await run_kota(settings, "demo")
        assert done.returncode == 0, done.stderr
        page = re.search(r"Booking page:\s+(\S+)", done.stdout)
        assert page, done.stdout
        assert page.group(1) == f"{settings.public_url}/book/perheneuvola-inari"
        assert "Family link:" in done.stdout and "Staff login:" in done.stdout
    assert rows(settings, "SELECT slug, name FROM services") == [
        ("perheneuvola-inari", "Perheneuvola, Inari")]
    assert rows(settings, "SELECT COUNT(*), COUNT(DISTINCT weekday) FROM service_hours") == [
        (5, 5)]
    server = TestServer(create_app(settings), host="127.0.0.1", port=settings.port)
    await server.start_server()
    try:
        async with aiohttp.ClientSession(base_url=server.make_url("")) as family:
            resp = await family.get("/api/book/perheneuvola-inari/times?days=14")
            days = (await resp.json())["days"]
        assert resp.status == 200
        assert sum(len(d["times"]) for d in days) > 0
    finally:
        await server.close()

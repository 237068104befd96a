from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta

from aiohttp.test_utils import TestServer

from tests.conftest import StaffClient


async def test_create_and_open_link(
    kota: TestServer, staff_client: Callable[[str], Awaitable[StaffClient]]
) -> None:
    sanna = await staff_client("sanna")
    start = datetime.now(UTC) + timedelta(minutes=10)
    resp = await sanna.post(
        "/api/appointments",
        json={
            "starts_at": start.isoformat(),
            "ends_at": (start + timedelta(minutes=45)).isoformat(),
            "kind": "child_protection",
            "participants": [{"display_name": "Maija", "role": "guardian"}],
        },
    )
    body = await resp.json()
    assert resp.status == 201, body
    pid = body["participants"][0]["id"]
    resp = await sanna.get(f"/api/appointments/{body['id']}/participants/{pid}/link")
    link = (await resp.json())["url"]
    token = link.split("#", 1)[1]
    resp = await sanna.session.post(f"{sanna.base}/api/join", json={"token": token})
    opened = await resp.json()
    assert resp.status == 200, opened
    assert opened["appointment"]["host_first_name"] == "Sanna"
    assert "kind" not in opened["appointment"]

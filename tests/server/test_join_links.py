"""Join links: issued at booking, copied, renewed, revoked, and what a family sees."""

from __future__ import annotations

import json
from datetime import datetime, timedelta

import aiohttp
from aiohttp.test_utils import TestServer

from server.app import create_app
from server.settings import Settings
from tests.conftest import StaffClient, assert_error
from tests.server.conftest import (
    MAIJA,
    MAIJA_CONTACT,
    Clock,
    book,
    copy_link,
    hours_ahead,
    link_path,
    token_of,
)

INTERPRETER = {"display_name": "Ilse Tulkki", "role": "interpreter", "contact": "ilse@example.fi"}


async def test_each_external_participant_gets_a_link_at_booking(sanna: StaffClient) -> None:
    created = await book(
        sanna,
        participants=[
            {"display_name": MAIJA, "role": "guardian", "contact": MAIJA_CONTACT},
            INTERPRETER,
        ],
    )
    tokens = [await copy_link(sanna, created, i) for i in range(2)]
    assert all(p["link"]["status"] == "active" for p in created["participants"])
    assert len(set(tokens)) == 2


async def test_copied_link_carries_the_token_in_the_fragment(
    sanna: StaffClient, settings: Settings
) -> None:
    created = await book(sanna)
    resp = await sanna.get(link_path(created))
    body = await resp.json()
    assert resp.status == 200, body
    assert resp.headers["Cache-Control"] == "no-store"
    assert body["url"].startswith(f"{settings.public_url}/join#")
    assert "?" not in body["url"]
    assert body["participant_id"] == created["participants"][0]["id"]
    assert body["status"] == "active"
    expires = datetime.fromisoformat(body["expires_at"])
    assert expires == datetime.fromisoformat(created["ends_at"]) + settings.join_grace


async def test_copying_twice_gives_the_same_link(sanna: StaffClient) -> None:
    created = await book(sanna)
    assert await copy_link(sanna, created) == await copy_link(sanna, created)


async def test_family_sees_only_time_host_first_name_and_own_name(
    sanna: StaffClient, family: aiohttp.ClientSession, settings: Settings, clock: Clock
) -> None:
    created = await book(
        sanna,
        participants=[
            {"display_name": MAIJA, "role": "guardian", "contact": MAIJA_CONTACT},
            INTERPRETER,
        ],
    )
    token = await copy_link(sanna, created)
    before = clock()
    resp = await family.post("/api/join", json={"token": token})
    body = await resp.json()
    after = clock()
    assert resp.status == 200, body
    assert resp.headers["Cache-Control"] == "no-store"
    # The server's clock, in its zone: the page waits for the window by it.
    now = datetime.fromisoformat(body.pop("now"))
    assert before <= now <= after
    assert now.utcoffset() == before.astimezone(settings.timezone).utcoffset()
    assert body == {
        "participant": {
            "id": created["participants"][0]["id"],
            "display_name": MAIJA,
            "role": "guardian",
            "language": None,
        },
        "appointment": {
            "starts_at": created["starts_at"],
            "ends_at": created["ends_at"],
            "host_first_name": "Sanna",
            "timezone": "Europe/Helsinki",
        },
        "join_window": {
            "opens_at": (
                datetime.fromisoformat(created["starts_at"]) - settings.join_opens_before
            ).isoformat(),
            "closes_at": (
                datetime.fromisoformat(created["ends_at"]) + settings.join_grace
            ).isoformat(),
        },
        "timezone": "Europe/Helsinki",
        "session": "open",
    }
    text = json.dumps(body)
    for secret in ("child_protection", "kind", "Aikio", MAIJA_CONTACT, "Ilse", "ilse@"):
        assert secret not in text, secret


async def test_renewing_issues_a_new_link_and_stops_the_old(
    sanna: StaffClient, family: aiohttp.ClientSession
) -> None:
    created = await book(sanna)
    old = [await copy_link(sanna, created)]
    # Several renewals within one second: the copy must still be the newest link.
    for _ in range(4):
        resp = await sanna.post(link_path(created))
        body = await resp.json()
        assert resp.status == 201, body
        new = token_of(body["url"])
        assert new not in old
        assert await copy_link(sanna, created) == new
        old.append(new)
    for token in old[:-1]:
        resp = await family.post("/api/join", json={"token": token})
        await assert_error(resp, 401, "link_revoked")
    assert (await family.post("/api/join", json={"token": old[-1]})).status == 200


async def test_revoking_stops_the_link(sanna: StaffClient, family: aiohttp.ClientSession) -> None:
    created = await book(sanna)
    token = await copy_link(sanna, created)
    assert (await sanna.delete(link_path(created))).status == 204
    await assert_error(await sanna.get(link_path(created)), 404, "link_not_active")
    await assert_error(await family.post("/api/join", json={"token": token}), 401, "link_revoked")
    listed = await (await sanna.get(f"/api/appointments/{created['id']}")).json()
    assert listed["participants"][0]["link"]["status"] == "revoked"


async def test_a_revoked_link_can_be_replaced(
    sanna: StaffClient, family: aiohttp.ClientSession
) -> None:
    created = await book(sanna)
    assert (await sanna.delete(link_path(created))).status == 204
    resp = await sanna.post(link_path(created))
    assert resp.status == 201
    token = token_of((await resp.json())["url"])
    assert (await family.post("/api/join", json={"token": token})).status == 200


async def test_link_of_a_missing_participant_is_not_found(sanna: StaffClient) -> None:
    created = await book(sanna)
    path = f"/api/appointments/{created['id']}/participants/999999/link"
    await assert_error(await sanna.get(path), 404, "participant_not_found")


async def test_a_link_cannot_be_renewed_after_the_appointment(
    sanna: StaffClient, clock: Clock, settings: Settings
) -> None:
    created = await book(sanna, start=hours_ahead(1), minutes=30)
    clock.advance(hours=2, minutes=settings.join_grace_minutes)
    assert (await sanna.login("sanna")).status == 201  # the old session ran out meanwhile
    await assert_error(await sanna.post(link_path(created)), 409, "appointment_over")


async def test_rescheduling_later_renews_links_that_would_expire_too_early(
    sanna: StaffClient, family: aiohttp.ClientSession
) -> None:
    created = await book(sanna)
    old = await copy_link(sanna, created)
    later = hours_ahead(24)
    resp = await sanna.patch(
        f"/api/appointments/{created['id']}",
        json={"starts_at": later.isoformat(), "ends_at": (later + timedelta(hours=1)).isoformat()},
    )
    assert resp.status == 200, await resp.text()
    new = await copy_link(sanna, created)
    assert new != old
    await assert_error(await family.post("/api/join", json={"token": old}), 401, "link_revoked")
    opened = await (await family.post("/api/join", json={"token": new})).json()
    assert datetime.fromisoformat(opened["appointment"]["starts_at"]) == later


async def test_links_survive_a_restart(
    sanna: StaffClient, kota: TestServer, settings: Settings
) -> None:
    """The signing key is reused, so a link sent yesterday still opens today."""
    created = await book(sanna)
    token = await copy_link(sanna, created)
    await kota.close()
    again = TestServer(create_app(settings), host="127.0.0.1", port=settings.port)
    await again.start_server()
    try:
        async with aiohttp.ClientSession() as session:
            resp = await session.post(again.make_url("/api/join"), json={"token": token})
            assert resp.status == 200, await resp.text()
    finally:
        await again.close()

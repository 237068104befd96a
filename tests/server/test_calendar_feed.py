"""Staff calendar feeds: a private, revocable .ics URL per professional, against a real
server, parsed back with icalendar."""

from __future__ import annotations

import asyncio
import io
import json
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import aiohttp
from aiohttp.test_utils import TestServer
from icalendar import Calendar, Event

from server.app_keys import DB
from server.calendar_feed import READ_LOG_INTERVAL
from tests.conftest import Accounts, StaffClient, assert_error
from tests.server.conftest import MAIJA, MAIJA_CONTACT, Clock, SignIn, book, hours_ahead

FEED_API = "/api/staff/me/calendar-feed"


async def create_feed(client: StaffClient) -> dict[str, str]:
    resp = await client.post(FEED_API)
    body: dict[str, str] = await resp.json()
    assert resp.status == 201, body
    return body


def feed_path(created: dict[str, str]) -> str:
    return urlsplit(created["https_url"]).path


async def read_feed(family: aiohttp.ClientSession, path: str) -> Calendar:
    resp = await family.get(path)
    assert resp.status == 200, await resp.text()
    assert resp.headers["Content-Type"] == "text/calendar; charset=utf-8"
    assert "Set-Cookie" not in resp.headers
    return Calendar.from_ical(await resp.read())


def events(calendar: Calendar) -> dict[int, Event]:
    """The feed's events by appointment id (read from the staff page URL)."""
    found = {}
    for event in calendar.walk("VEVENT"):
        assert isinstance(event, Event)
        found[int(str(event["url"]).rsplit("/", 1)[1])] = event
    return found


def sequence(event: Event) -> int:
    return int(event.decoded("sequence"))


async def audit_actions(kota: TestServer, prefix: str) -> list[tuple[str, int | None]]:
    return [(row.action, row.subject_id) async for row in kota.app[DB].iter_audit_rows()
            if row.action.startswith(prefix)]


async def test_the_feed_holds_exactly_the_professionals_appointments(
    staff_client: SignIn, accounts: Accounts, family: aiohttp.ClientSession
) -> None:
    sanna, pekka = await staff_client("sanna"), await staff_client("pekka")
    hosted = await book(sanna, start=hours_ahead(2))
    attended = await book(pekka, start=hours_ahead(4), staff_ids=[accounts.worker.id])
    colleagues = await book(pekka, start=hours_ahead(6))
    too_far = await book(sanna, start=datetime.now(UTC).replace(microsecond=0)
                         + timedelta(days=400))
    created = await create_feed(sanna)
    assert created["url"].startswith("webcal://")
    assert created["url"].removeprefix("webcal://") == created["https_url"].split("://", 1)[1]
    calendar = await read_feed(family, feed_path(created))
    found = events(calendar)
    assert set(found) == {hosted["id"], attended["id"]}
    assert colleagues["id"] not in found and too_far["id"] not in found
    event = found[hosted["id"]]
    assert event.decoded("dtstart") == datetime.fromisoformat(hosted["starts_at"])
    assert event.decoded("dtend") == datetime.fromisoformat(hosted["ends_at"])
    assert str(event["dtstart"].params["TZID"]) == "Europe/Helsinki"
    assert [tz["tzid"] for tz in calendar.walk("VTIMEZONE")] == ["Europe/Helsinki"]
    assert str(event["summary"]) == "Kota: etätapaaminen, 1 osallistuja"
    assert str(event["status"]) == "CONFIRMED"
    assert str(event["url"]).endswith(f"/staff#/appointment/{hosted['id']}")
    assert str(event["url"]) in str(event["description"])
    # Not the family invitation's UID, which names the participant.
    assert "participant" not in str(event["uid"])
    assert len({str(e["uid"]) for e in found.values()}) == 2
    text = (await (await family.get(feed_path(created))).read()).decode()
    for secret in (MAIJA, "Virtanen", MAIJA_CONTACT, "child", "lastensuojelu", "Sanna"):
        assert secret not in text, secret


async def test_the_feed_follows_a_move_and_a_cancel(
    sanna: StaffClient, family: aiohttp.ClientSession, clock: Clock
) -> None:
    created_appointment = await book(sanna, start=hours_ahead(3))
    path = feed_path(await create_feed(sanna))
    first = events(await read_feed(family, path))[created_appointment["id"]]
    clock.advance(seconds=5)
    new_start = hours_ahead(8)
    resp = await sanna.patch(f"/api/appointments/{created_appointment['id']}", json={
        "starts_at": new_start.isoformat(),
        "ends_at": (new_start + timedelta(minutes=30)).isoformat()})
    assert resp.status == 200, await resp.text()
    moved = events(await read_feed(family, path))[created_appointment["id"]]
    assert moved.decoded("dtstart") == new_start
    assert moved.decoded("dtend") == new_start + timedelta(minutes=30)
    assert str(moved["uid"]) == str(first["uid"])
    assert sequence(moved) > sequence(first)
    clock.advance(seconds=5)
    resp = await sanna.post(f"/api/appointments/{created_appointment['id']}/cancel")
    assert resp.status == 200, await resp.text()
    cancelled = events(await read_feed(family, path))[created_appointment["id"]]
    assert str(cancelled["status"]) == "CANCELLED"
    assert sequence(cancelled) > sequence(moved)
    assert str(cancelled["uid"]) == str(first["uid"])


async def test_revoking_or_replacing_stops_the_old_url(
    sanna: StaffClient, family: aiohttp.ClientSession
) -> None:
    assert await (await sanna.get(FEED_API)).json() == {"active": False, "created_at": None}
    first = feed_path(await create_feed(sanna))
    status = await (await sanna.get(FEED_API)).json()
    assert status["active"] is True and datetime.fromisoformat(status["created_at"])
    second = feed_path(await create_feed(sanna))
    assert first != second
    assert (await family.get(first)).status == 404
    assert (await family.get(second)).status == 200
    assert (await sanna.delete(FEED_API)).status == 204
    assert (await family.get(second)).status == 404
    assert await (await sanna.get(FEED_API)).json() == {"active": False, "created_at": None}
    assert (await sanna.delete(FEED_API)).status == 204  # nothing left to revoke: still fine


async def test_an_unknown_or_malformed_secret_is_a_plain_404(
    sanna: StaffClient, family: aiohttp.ClientSession
) -> None:
    real = feed_path(await create_feed(sanna))
    secret = real.removeprefix("/calendar/").removesuffix(".ics")
    forged = "A" * 43 if secret != "A" * 43 else "B" * 43
    answers = []
    for path in (f"/calendar/{forged}.ics", f"/calendar/{secret[:-1]}.ics",
                 f"/calendar/{secret}x.ics", f"/calendar/{secret}", "/calendar/.ics",
                 f"/calendar/{secret.upper() if secret != secret.upper() else forged}.ics"):
        resp = await family.get(path)
        assert resp.status == 404, path
        answers.append(await resp.text())
    assert len(set(answers)) == 1  # the same answer whatever was wrong


async def test_an_unchanged_feed_answers_304(
    sanna: StaffClient, family: aiohttp.ClientSession
) -> None:
    await book(sanna)
    path = feed_path(await create_feed(sanna))
    first = await family.get(path)
    etag = first.headers["ETag"]
    again = await family.get(path, headers={"If-None-Match": etag})
    assert again.status == 304
    await book(sanna, start=hours_ahead(5))
    changed = await family.get(path, headers={"If-None-Match": etag})
    assert changed.status == 200 and changed.headers["ETag"] != etag


async def test_signed_out_and_forged_writes_are_refused(
    sanna: StaffClient, family: aiohttp.ClientSession
) -> None:
    await assert_error(await family.get(FEED_API), 401, "not_signed_in")
    await assert_error(await family.post(FEED_API), 401, "not_signed_in")
    await assert_error(await sanna.post(FEED_API, headers={"X-CSRF-Token": "wrong"}),
                       403, "csrf_failed")
    await assert_error(await sanna.delete(FEED_API, headers={"X-CSRF-Token": "wrong"}),
                       403, "csrf_failed")


async def test_usage_log_has_created_revoked_and_hourly_reads(
    kota: TestServer, sanna: StaffClient, accounts: Accounts, family: aiohttp.ClientSession,
    clock: Clock
) -> None:
    path = feed_path(await create_feed(sanna))
    for _ in range(3):
        assert (await family.get(path)).status == 200
    sanna_id = accounts.worker.id
    assert await audit_actions(kota, "calendar_feed.") == [
        ("calendar_feed.created", sanna_id), ("calendar_feed.read", sanna_id)]
    clock.advance(seconds=READ_LOG_INTERVAL.total_seconds() + 1)
    assert (await family.get(path)).status == 200
    assert (await family.get(path)).status == 200
    assert (await sanna.login("sanna")).status == 201  # the session ran out in that hour
    assert (await sanna.delete(FEED_API)).status == 204
    assert await audit_actions(kota, "calendar_feed.") == [
        ("calendar_feed.created", sanna_id), ("calendar_feed.read", sanna_id),
        ("calendar_feed.read", sanna_id), ("calendar_feed.revoked", sanna_id)]


async def test_concurrent_creates_and_revokes_leave_one_consistent_feed(
    kota: TestServer, sanna: StaffClient, family: aiohttp.ClientSession
) -> None:
    made = await asyncio.gather(*(sanna.post(FEED_API) for _ in range(12)))
    bodies: list[dict[str, Any]] = [await resp.json() for resp in made]
    assert all(resp.status == 201 for resp in made), bodies
    working = [b for b in bodies if (await family.get(feed_path(b))).status == 200]
    assert len(working) == 1
    # Creates and revokes mixed: afterwards at most one URL works, and exactly when
    # the status says a feed is active.
    answers = await asyncio.gather(*(
        sanna.post(FEED_API) if i % 2 else sanna.delete(FEED_API) for i in range(12)))
    created = [await resp.json() for resp in answers if resp.status == 201]
    assert all(resp.status in (201, 204) for resp in answers)
    working = [b for b in [*bodies, *created]
               if (await family.get(feed_path(b))).status == 200]
    active = (await (await sanna.get(FEED_API)).json())["active"]
    assert len(working) == (1 if active else 0)
    rows = await kota.app[DB]._fetchall("SELECT COUNT(*) AS n FROM calendar_feeds")
    assert rows[0]["n"] == (1 if active else 0)


async def test_an_inactive_accounts_feed_stops(
    kota: TestServer, sanna: StaffClient, accounts: Accounts, family: aiohttp.ClientSession
) -> None:
    path = feed_path(await create_feed(sanna))
    async with kota.app[DB].transaction() as tx:
        await tx._execute("UPDATE staff SET active = 0 WHERE id = ?", (accounts.worker.id,))
    assert (await family.get(path)).status == 404



async def test_the_secret_never_reaches_the_log(
    server_log: io.StringIO, kota: TestServer, sanna: StaffClient,
    family: aiohttp.ClientSession
) -> None:
    await book(sanna)
    first = feed_path(await create_feed(sanna))
    assert (await family.get(first)).status == 200
    second = feed_path(await create_feed(sanna))
    assert (await family.get(first)).status == 404
    assert (await family.get(second)).status == 200
    assert (await sanna.delete(FEED_API)).status == 204
    assert (await family.get(second)).status == 404
    secrets = [p.removeprefix("/calendar/").removesuffix(".ics") for p in (first, second)]
    logged = server_log.getvalue()
    lines = [json.loads(line) for line in logged.splitlines()]
    routes = [line.get("route") for line in lines if line["event"] == "http.request"]
    assert routes.count("/calendar/{secret}.ics") == 4
    exported = [row.detail async for row in kota.app[DB].iter_audit_rows()]
    for secret in secrets:
        assert secret not in logged
        assert secret[:16] not in logged
        assert all(secret not in detail for detail in exported)

"""Contact lines in the staff app: an administrator sets up a personal line and enrols a
family (the tablet link shown once); a family's personal line knocks its worker, who goes
on duty, takes the family (one take however fast the double click), chats both ways and
ends; a call-back a family asked for shows on the board and is marked done; a public
line's board shows counts, never who waits. The family side is a real WebSocket client
speaking /ws/line with its enrolment secret (or, on a public line, a nickname)."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import os
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import aiohttp
import pytest
from playwright.async_api import Page, expect

from tests.conftest import wait_until
from tests.e2e.booking_steps import StaffLogin, check_page
from tests.e2e.flows import OpenPage
from tests.e2e.kota_server import KotaProcess, StaffApi
from tests.e2e.page_checks import PHONE, TABLET_LANDSCAPE, assert_remote_videos_play, screenshots
from tests.test_locales import load

pytestmark = pytest.mark.asyncio(loop_scope="session")

# Staff pages are shown on a tablet; axe looks at them on a phone too.
STAFF_SIZES = ("tablet-landscape", "tablet-portrait", "phone")
# The board follows a join at once or, at the latest, with its 30-second refresh.
BOARD_REFRESH_MS = 40_000
# Open every day, the whole day: whatever the hour the test runs, the line is open.
WHOLE_WEEK = [{"weekday": day, "opens": "00:00", "closes": "23:59"} for day in range(7)]
_slugs = itertools.count(1)


async def check_views(page: Page, name: str) -> None:
    """axe at a tablet and a phone; the tablet and the phone pictures both go to docs."""
    await check_page(page, name, STAFF_SIZES)
    await screenshots(page, name, ("phone",))


async def staff_id(api: StaffApi, display_name: str) -> int:
    staff = await api.call("GET", "/api/staff")
    return next(int(s["id"]) for s in staff["staff"] if s["display_name"] == display_name)


async def make_line(admin: StaffApi, kind: str, worker: str, **extra: Any) -> dict[str, Any]:
    worker_id = await staff_id(admin, worker)
    line: dict[str, Any] = await admin.call("POST", "/api/lines", {
        "slug": f"{kind}-line-{next(_slugs)}-{os.getpid()}",
        "name": extra.pop("name", f"Testilinja {kind}"),
        "kind": kind,
        "modes": "both",
        "staff_ids": [worker_id],
        "hours": WHOLE_WEEK,
        **extra,
    })
    return line


class LineClient:
    """A family (or an anonymous person) on /ws/line: what the server sent, kept in order."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        self.ws = ws
        self.received: list[dict[str, Any]] = []

    async def send(self, message: dict[str, Any]) -> None:
        await self.ws.send_str(json.dumps(message))

    async def wait_for(self, kind: str, timeout: float = 30.0) -> dict[str, Any]:  # noqa: ASYNC109
        """The next message of type ``kind`` (others are kept in ``received``)."""
        async def read() -> dict[str, Any]:
            while True:
                message = await self.ws.receive()
                if message.type != aiohttp.WSMsgType.TEXT:
                    raise AssertionError(f"socket closed while waiting for {kind}: {message}")
                data: dict[str, Any] = json.loads(message.data)
                self.received.append(data)
                if data["type"] == kind:
                    return data
        return await asyncio.wait_for(read(), timeout)

    def count(self, kind: str) -> int:
        return sum(1 for m in self.received if m["type"] == kind)


@asynccontextmanager
async def line_client(kota: KotaProcess, hello: dict[str, Any]) -> AsyncIterator[LineClient]:
    async with aiohttp.ClientSession() as http, http.ws_connect(
        f"{kota.base.replace('http', 'ws')}/ws/line", headers={"Origin": kota.base}
    ) as ws:
        client = LineClient(ws)
        await client.send({"type": "hello", "version": "1", **hello})
        await client.wait_for("welcome")
        yield client


async def go_on_duty(page: Page, line: dict[str, Any]) -> None:
    card = page.locator(f".line-card[data-line='{line['id']}']")
    # A click, not check(): a board update already on its way may redraw the switch off
    # for a moment before the server's answer to this click turns it on.
    await card.locator("[data-action=duty]").click()
    await expect(card).to_have_class(re.compile(r"\bon-duty\b"), timeout=15_000)


async def test_admin_sets_up_a_personal_line_and_enrols_a_family(
    open_page: OpenPage, staff_api: StaffLogin, kota_server: KotaProcess
) -> None:
    texts = load("fi")
    admin = await open_page(TABLET_LANDSCAPE, staff="admin", name="admin")
    await admin.goto("/staff#/lines")
    await admin.locator("[data-action=lines-setup]").click()
    await expect(admin.locator("#lines-setup-title")).to_have_text(texts["lines.setup_title"])
    await admin.locator("[data-action=new-line]").click()

    slug = f"perhelinja-{os.getpid()}"
    await admin.locator("#l-name").fill("Perheen oma linja, Inari")
    await admin.locator("#l-slug").fill(slug)
    await admin.locator("#l-kind-personal").check()
    await admin.locator("#l-modes-both").check()
    await admin.locator("#l-callback_after_minutes").fill("5")
    await admin.get_by_label("Pekka Lehto").check()
    for _ in range(7):
        await admin.locator("[data-action=add-hours]").click()
    rows = admin.locator(".line-hours .hours-row")
    await expect(rows).to_have_count(7)
    for index in range(7):
        await rows.nth(index).locator(".h-opens").fill("08:00")
        await rows.nth(index).locator(".h-closes").fill("20:00")
    await admin.locator("[data-action=add-closure]").click()
    await admin.locator(".closure-row .lc-starts").fill("2026-12-24")
    await admin.locator(".closure-row .lc-ends").fill("2026-12-26")
    await admin.locator(".closure-row .lc-note").fill("Joulu")
    await admin.evaluate("() => window.scrollTo(0, 0)")
    await check_views(admin, "lines-setup-new-fi")
    await admin.locator("[data-action=save-line]").click()

    # Saved: the line's own page, with its families.
    await admin.wait_for_url(re.compile(r"/staff#/lines/setup/\d+$"))
    line_id = int(admin.url.rsplit("/", 1)[1])
    api = await staff_api("admin")
    saved = next(line for line in (await api.call("GET", "/api/lines"))["lines"]
                 if line["id"] == line_id)
    assert saved["kind"] == "personal" and saved["modes"] == "both"
    assert saved["callback_after_minutes"] == 5
    assert [s["display_name"] for s in saved["staff"]] == ["Pekka Lehto"]
    assert sorted(h["weekday"] for h in saved["hours"]) == list(range(7))
    assert {(h["opens"], h["closes"]) for h in saved["hours"]} == {("08:00", "20:00")}
    assert saved["closures"] == [
        {"starts_on": "2026-12-24", "ends_on": "2026-12-26", "note": "Joulu"}]
    assert "public_url" not in saved
    await expect(admin.locator(".enrolment-list .empty")).to_have_text(
        texts["lines.no_enrolments"])

    # Enrol a family: the link is shown once, with a copy button and how to use it.
    await admin.locator("#e-family").fill("Aikion perhe")
    await admin.locator("#e-language").select_option("se")
    await admin.locator(".enrolment-form").get_by_label("Pekka Lehto").check()
    await admin.locator("[data-action=enrol]").click()
    link = admin.locator("#enrolment-link")
    await expect(link).to_have_value(re.compile(r"/line/my#e=[A-Za-z0-9_-]{40,}$"))
    assert (await link.input_value()).startswith(kota_server.base)
    await expect(admin.locator(".enrolment-fresh [data-action=copy-url]")).to_have_text(
        texts["lines.copy_link"])
    await expect(admin.locator(".tablet-steps li")).to_have_count(4)
    family = admin.locator(".enrolment", has_text="Aikion perhe")
    await expect(family).to_contain_text("Pekka Lehto")
    await expect(family).to_contain_text(texts["language.se"])
    await check_views(admin, "lines-enrolment-link-fi")

    # Never shown again: another look at the page lists the family, without the link.
    await admin.reload()
    await expect(admin.locator(".enrolment", has_text="Aikion perhe")).to_be_visible()
    assert await admin.locator("#enrolment-link").count() == 0

    # Revoked: the list says so.
    await admin.locator(".enrolment", has_text="Aikion perhe").locator(
        "[data-action=revoke]").click()
    await admin.locator("dialog .button.danger").click()
    await expect(admin.locator(".enrolment", has_text="Aikion perhe")).to_contain_text(
        texts["lines.revoked"])
    enrolments = await api.call("GET", f"/api/lines/{line_id}/enrolments")
    assert enrolments["enrolments"][0]["revoked_at"] is not None

    # The list of lines names it; professionals do not see the setup.
    await admin.goto("/staff#/lines/setup")
    await expect(admin.locator(f"li[data-line='{line_id}']")).to_contain_text(
        "Perheen oma linja, Inari")
    await check_views(admin, "lines-setup-list-fi")
    pekka = await open_page(TABLET_LANDSCAPE, staff="pekka", name="pekka")
    await pekka.goto("/staff#/lines/setup")
    await expect(pekka.locator("#lines-title")).to_have_text(texts["lines.title"])
    assert await pekka.locator("[data-action=lines-setup]").count() == 0


async def test_a_family_knocks_its_worker_who_takes_it(
    open_page: OpenPage, staff_api: StaffLogin, kota_server: KotaProcess
) -> None:
    texts = load("fi")
    admin = await staff_api("admin")
    line = await make_line(admin, "personal", "Sanna Aikio", name="Sannan perheet")
    made = await admin.call("POST", f"/api/lines/{line['id']}/enrolments", {
        "family_name": "Lehtosen perhe", "language": "fi",
        "staff_ids": [await staff_id(admin, "Sanna Aikio")]})
    secret = made["link"].split("#e=", 1)[1]

    sanna = await open_page(TABLET_LANDSCAPE, staff="sanna", name="sanna")
    await sanna.goto("/staff")
    await sanna.locator("[data-action=nav-lines]").click()
    await expect(sanna.locator("#lines-title")).to_have_text(texts["lines.title"])
    card = sanna.locator(f".line-card[data-line='{line['id']}']")
    await expect(card.locator(".waiting dd")).to_have_text("0")
    await expect(sanna.locator("[data-action=take-next]")).to_be_disabled()
    await go_on_duty(sanna, line)
    await expect(sanna.locator("[data-action=take-next]")).to_be_enabled()

    async with line_client(kota_server, {"enrolment": secret, "mode": "chat"}) as family:
        # The knock: a visible notice naming the family (and a sound).
        knock = sanna.locator(".knock-notice")
        await expect(knock).to_contain_text("Lehtosen perhe")
        await expect(knock).to_contain_text("Sannan perheet")
        await expect(card.locator(".waiting dd")).to_have_text("1", timeout=BOARD_REFRESH_MS)
        await sanna.evaluate("() => window.scrollTo(0, 0)")
        await check_views(sanna, "lines-board-knock-fi")

        # A double click takes one family, once.
        await sanna.locator("[data-action=take-next]").dblclick()
        session = sanna.locator(".line-session")
        await expect(session.locator(".line-session-title")).to_have_text("Lehtosen perhe")
        taken = await family.wait_for("taken")
        assert taken["staff_name"] == "Sanna"
        await expect(sanna.locator("[data-action=take-next]")).to_be_disabled()

        # Chat both ways.
        await sanna.locator("#chat-input").fill("Hei, Sanna täällä. Miten voin auttaa?")
        await sanna.locator("#chat-input").press("Enter")
        said = await family.wait_for("chat")
        while said["from"] != "staff":
            said = await family.wait_for("chat")
        assert said["text"] == "Hei, Sanna täällä. Miten voin auttaa?"
        await family.send({"type": "chat", "text": "Hei! Meillä olisi kysyttävää."})
        await expect(session.locator(".chat-line:not(.own) .chat-text")).to_have_text(
            "Hei! Meillä olisi kysyttävää.")
        await expect(session.locator(".chat-line.own .chat-text")).to_have_text(
            "Hei, Sanna täällä. Miten voin auttaa?")
        await expect(session.locator("[data-action=start-video]")).to_be_visible()
        await sanna.evaluate("() => document.querySelector('.line-session').scrollIntoView()")
        await check_views(sanna, "lines-session-chat-fi")

        # End: the family is told, the board is back and nothing of the chat stays.
        await session.locator("[data-action=end-session]").click()
        await sanna.locator("dialog .button.danger").click()
        ended = await family.wait_for("ended")
        assert ended["reason"] == "staff"
        await expect(sanna.locator(".line-session")).to_have_count(0)
        await expect(sanna.locator("body")).not_to_contain_text("Meillä olisi kysyttävää")
        assert family.count("taken") == 1

    # Nobody waits now: take next says so.
    await sanna.locator("[data-action=take-next]").click()
    await expect(sanna.locator(".line-notice")).to_have_text(
        texts["lines.nobody"])


async def test_a_worker_hands_a_family_over_to_a_colleague(
    open_page: OpenPage, staff_api: StaffLogin, kota_server: KotaProcess
) -> None:
    texts = load("fi")
    admin = await staff_api("admin")
    pekka_id = await staff_id(admin, "Pekka Lehto")
    line = await make_line(admin, "personal", "Sanna Aikio", name="Tiimin perheet")
    line = await admin.call("PUT", f"/api/lines/{line['id']}", {
        **{k: line[k] for k in ("slug", "name", "kind", "modes", "queue_cap", "grace_minutes",
                                "callback_after_minutes", "hours", "closures")},
        "staff_ids": [s["id"] for s in line["staff"]] + [pekka_id]})
    made = await admin.call("POST", f"/api/lines/{line['id']}/enrolments", {
        "family_name": "Korhosen perhe", "language": "fi", "staff_ids": []})
    secret = made["link"].split("#e=", 1)[1]

    sanna = await open_page(TABLET_LANDSCAPE, staff="sanna", name="sanna")
    await sanna.goto("/staff#/lines")
    pekka = await open_page(TABLET_LANDSCAPE, staff="pekka", name="pekka")
    await pekka.goto("/staff#/lines")
    await go_on_duty(sanna, line)
    await go_on_duty(pekka, line)

    async with line_client(kota_server, {"enrolment": secret, "mode": "chat"}) as family:
        await expect(sanna.locator(".knock-notice")).to_contain_text("Korhosen perhe")
        await sanna.locator("[data-action=take-next]").click()
        session = sanna.locator(".line-session")
        await expect(session.locator(".line-session-title")).to_have_text("Korhosen perhe")
        await family.wait_for("taken")

        # Handed over to Pekka: the family keeps its place at the front, Pekka takes it.
        await session.locator("[data-action=hand-over]").click()
        await session.locator("#hand-over-to").select_option(label="Pekka Lehto")
        await check_views(sanna, "lines-hand-over-fi")
        await session.locator("[data-action=hand-over-confirm]").click()
        await family.wait_for("handed_over")
        await expect(sanna.locator(".line-session")).to_have_count(0)
        await expect(sanna.locator(".line-notice")).to_have_text(
            texts["lines.ended_handed_over"])
        await expect(pekka.locator(".knock-notice")).to_contain_text("Korhosen perhe")
        await pekka.locator("[data-action=take-next]").click()
        await expect(pekka.locator(".line-session-title")).to_have_text("Korhosen perhe")
        taken = await family.wait_for("taken")
        assert taken["staff_name"] == "Pekka"
        await pekka.locator("[data-action=end-session]").click()
        await pekka.locator("dialog .button.danger").click()
        await family.wait_for("ended")


async def test_a_call_back_shows_on_the_board_and_is_marked_done(
    open_page: OpenPage, staff_api: StaffLogin, kota_server: KotaProcess
) -> None:
    texts = load("fi")
    admin = await staff_api("admin")
    line = await make_line(admin, "personal", "Marja Viestinen", name="Marjan perheet",
                           callback_after_minutes=1)
    made = await admin.call("POST", f"/api/lines/{line['id']}/enrolments", {
        "family_name": "Niemen perhe", "language": "fi", "staff_ids": []})
    secret = made["link"].split("#e=", 1)[1]

    # Nobody is on duty: the family may ask for a call back, and does.
    async with line_client(kota_server, {"enrolment": secret, "mode": "chat"}) as family:
        queue = await family.wait_for("queue")
        while not queue.get("callback", {}).get("offered"):
            queue = await family.wait_for("queue")
        await family.send({"type": "callback"})
        while not queue.get("callback", {}).get("requested"):
            queue = await family.wait_for("queue")
        await family.send({"type": "leave"})

    marja = await open_page(TABLET_LANDSCAPE, staff="marja", name="marja")
    await marja.goto("/staff#/lines")
    callback = marja.locator(".line-callback", has_text="Niemen perhe")
    await expect(callback).to_contain_text("Marjan perheet")
    await check_views(marja, "lines-callback-fi")
    await callback.locator("[data-action=callback-done]").click()
    await expect(callback).to_have_count(0)
    await expect(marja.locator(".line-callbacks .empty")).to_have_text(texts["lines.no_callbacks"])
    marja_api = await staff_api("marja")
    open_ones = await marja_api.call("GET", f"/api/lines/{line['id']}/callbacks")
    assert open_ones["callbacks"] == []


async def test_a_public_lines_board_shows_counts_only(
    open_page: OpenPage, staff_api: StaffLogin, kota_server: KotaProcess
) -> None:
    texts = load("fi")
    admin = await staff_api("admin")
    line = await make_line(admin, "public", "Kaisa Niemi", name="Verkkoneuvonta")
    kaisa = await open_page(PHONE, staff="kaisa", name="kaisa")
    await kaisa.goto("/staff#/lines")
    card = kaisa.locator(f".line-card[data-line='{line['id']}']")
    await expect(card.locator(".waiting dd")).to_have_text("0")
    async with line_client(kota_server, {"line": line["slug"], "mode": "chat",
                                         "nickname": "Salainen Sorsa"}), \
            line_client(kota_server, {"line": line["slug"], "mode": "video",
                                      "nickname": "Hiljainen Hirvi"}):
        await expect(card.locator(".waiting dd")).to_have_text("2", timeout=BOARD_REFRESH_MS)
        await expect(card.locator(".tag.kind")).to_have_text(texts["lines.kind_public"])
        await expect(card.locator(".expected dd")).to_have_text(texts["lines.wait_unknown"])
        body = await kaisa.locator("body").inner_text()
        assert "Salainen Sorsa" not in body and "Hiljainen Hirvi" not in body
        assert await kaisa.locator(".knock-notice").count() == 0, "public lines do not knock"
        await kaisa.set_viewport_size(TABLET_LANDSCAPE)
        await check_views(kaisa, "lines-public-board-fi")


async def test_a_session_becomes_a_video_call(
    open_page: OpenPage, staff_api: StaffLogin, kota_server: KotaProcess,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """**Start video** in the session: the family (aiortc here, as the family's page would)
    makes the offer over the line socket, the professional's page answers; frames are
    decoded on both sides."""
    import aioice.ice
    from aiortc import RTCConfiguration, RTCPeerConnection, RTCSessionDescription
    from aiortc.mediastreams import MediaStreamError, VideoStreamTrack
    from aiortc.sdp import candidate_from_sdp

    # aioice skips 127.0.0.1: gather on loopback only (docs: TESTING-WEBRTC.md).
    monkeypatch.setattr(aioice.ice, "get_host_addresses",
                        lambda use_ipv4=True, use_ipv6=True: ["127.0.0.1"])
    admin = await staff_api("admin")
    line = await make_line(admin, "personal", "Kaisa Niemi", name="Kaisan perheet")
    made = await admin.call("POST", f"/api/lines/{line['id']}/enrolments", {
        "family_name": "Videoperhe", "language": "fi", "staff_ids": []})
    secret = made["link"].split("#e=", 1)[1]
    kaisa = await open_page(TABLET_LANDSCAPE, staff="kaisa", name="kaisa")
    await kaisa.goto("/staff#/lines")
    await go_on_duty(kaisa, line)

    pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
    frames = 0

    async def count(track: Any) -> None:
        nonlocal frames
        try:
            while True:
                await track.recv()
                frames += 1
        except MediaStreamError:
            return

    tasks: list[asyncio.Task[None]] = []
    pc.on("track", lambda track: tasks.append(asyncio.ensure_future(count(track)))
          if track.kind == "video" else None)
    pc.addTrack(VideoStreamTrack())
    try:
        async with line_client(kota_server, {"enrolment": secret, "mode": "chat"}) as family:
            await kaisa.locator("[data-action=take-next]").click()
            await family.wait_for("taken")
            await kaisa.locator("[data-action=start-video]").click()
            await family.wait_for("video")
            await pc.setLocalDescription(await pc.createOffer())
            await family.send({"type": "signal", "payload": {
                "kind": "offer", "sdp": pc.localDescription.sdp}})
            answer = await family.wait_for("signal")
            while answer["payload"]["kind"] != "answer":
                answer = await family.wait_for("signal")
            await pc.setRemoteDescription(RTCSessionDescription(
                sdp=answer["payload"]["sdp"], type="answer"))

            async def candidates() -> None:
                while True:
                    message = await family.wait_for("signal", timeout=120)
                    payload = message["payload"]
                    if payload.get("kind") != "candidate" or not payload.get("candidate"):
                        continue
                    candidate = candidate_from_sdp(payload["candidate"].split(":", 1)[1])
                    candidate.sdpMid = payload.get("sdpMid")
                    candidate.sdpMLineIndex = payload.get("sdpMLineIndex")
                    await pc.addIceCandidate(candidate)

            reader = asyncio.ensure_future(candidates())
            tasks.append(reader)
            await assert_remote_videos_play(kaisa, 1, timeout_ms=60_000)
            await wait_until(lambda: frames > 5, timeout=60, what="frames at the family")
            await kaisa.evaluate("() => document.querySelector('.line-session').scrollIntoView()")
            await check_views(kaisa, "lines-session-video-fi")
            reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await reader
            await kaisa.locator("[data-action=end-session]").click()
            await kaisa.locator("dialog .button.danger").click()
            await family.wait_for("ended")
    finally:
        for task in tasks:
            task.cancel()
        await pc.close()

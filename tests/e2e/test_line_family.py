"""Contact lines from the person's side (web/line.html over /ws/line): an anonymous
person on a phone, in Swedish, joins a public line, sees its place, is taken by a
professional, chats both ways, switches to video (frames decoded both ways) and ends;
outside hours, a full line, a reload within the minute keeping the place, and a
family's own link opening straight into its line and asking for a call back.

The professional is a real WebSocket client speaking the staff side of the protocol,
with an aiortc peer (signalling/peers/peer_link.py) for the video, on loopback only."""

from __future__ import annotations

import asyncio
import contextlib
import re
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import aiohttp
import aioice.ice
import msgspec
import pytest
import pytest_asyncio
from aiortc.mediastreams import MediaStreamTrack
from playwright.async_api import Page, expect

from signalling import messages as wire
from signalling.peers.peer_link import PeerLink
from signalling.peers.synthetic_media import TestPatternTrack, ToneTrack
from tests.conftest import wait_until
from tests.e2e.flows import OpenPage
from tests.e2e.kota_server import KotaProcess, StaffApi
from tests.e2e.page_checks import (
    PHONE,
    TABLET_PORTRAIT,
    assert_accessible,
    assert_remote_videos_play,
    screenshots,
)

pytestmark = pytest.mark.asyncio(loop_scope="session")

StaffLogin = Callable[[str], Awaitable[StaffApi]]
StaffSockets = Callable[[str], Awaitable["StaffSocket"]]
ALL_DAY = [{"weekday": d, "opens": "00:00", "closes": "23:59"} for d in range(7)]
SWEDISH = {"locale": "sv-SE"}
WAIT = 30_000  # ms: a busy machine


@pytest.fixture(autouse=True)
def loopback_only(monkeypatch: pytest.MonkeyPatch) -> None:
    """aioice skips 127.0.0.1 and would use the machine's external address instead."""

    def loopback(use_ipv4: bool = True, use_ipv6: bool = True) -> list[str]:
        return ["127.0.0.1"] if use_ipv4 else []

    monkeypatch.setattr(aioice.ice, "get_host_addresses", loopback)


async def staff_id(api: StaffApi, username: str) -> int:
    listed = await api.call("GET", "/api/staff")
    names = {"sanna": "Sanna Aikio", "pekka": "Pekka Lehto"}
    return next(int(s["id"]) for s in listed["staff"] if s["display_name"] == names[username])


async def make_line(staff_api: StaffLogin, slug: str, **fields: Any) -> dict[str, Any]:
    """A line set up through the admin REST, served by Sanna."""
    admin = await staff_api("admin")
    body: dict[str, Any] = {
        "slug": slug, "name": fields.pop("name", "Familjerådgivning på nätet"),
        "kind": "public", "modes": "both", "queue_cap": 20, "grace_minutes": 0,
        "staff_ids": [await staff_id(admin, "sanna")], "hours": ALL_DAY,
    }
    body.update(fields)
    line: dict[str, Any] = await admin.call("POST", "/api/lines", body)
    return line


class StaffSocket:
    """A professional on /ws/line, as the staff page would be (its session cookie)."""

    def __init__(self, api: StaffApi) -> None:
        self.api = api
        self.ws: aiohttp.ClientWebSocketResponse | None = None
        self.inbox: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self.seen: list[dict[str, Any]] = []
        self.link: PeerLink | None = None
        self._reader: asyncio.Task[None] | None = None

    async def open(self) -> None:
        base = self.api.kota.base
        self.ws = await self.api.http.ws_connect(
            base.replace("http", "ws", 1) + "/ws/line", origin=base)
        self._reader = asyncio.create_task(self._read())
        await self.send({"type": "hello", "version": "1", "staff": True})
        await self.expect("welcome")

    async def _read(self) -> None:
        assert self.ws is not None
        async for frame in self.ws:
            if frame.type != aiohttp.WSMsgType.TEXT:
                continue
            message = msgspec.json.decode(frame.data)
            self.seen.append(message)
            if message.get("type") == "signal" and self.link is not None:
                self.link.deliver(msgspec.convert(message["payload"], wire.SignalPayload))
            else:
                await self.inbox.put(message)

    async def send(self, message: dict[str, Any]) -> None:
        assert self.ws is not None
        await self.ws.send_str(msgspec.json.encode(message).decode())

    async def expect(self, kind: str, **fields: Any) -> dict[str, Any]:
        """The next message of ``kind`` with ``fields`` (others in between are skipped)."""
        async with asyncio.timeout(30):
            while True:
                message = await self.inbox.get()
                if message.get("type") == kind and all(
                        message.get(k) == v for k, v in fields.items()):
                    return message
                assert message.get("type") != "error", message

    def video_peer(self, session: str) -> PeerLink:
        """The professional's camera (a test pattern) and microphone (a tone)."""
        async def send_signal(_peer: str, payload: wire.SignalPayload) -> None:
            await self.send({"type": "signal", "session": session,
                             "payload": msgspec.to_builtins(payload)})

        def tracks() -> list[MediaStreamTrack]:
            return [TestPatternTrack(), ToneTrack()]

        self.link = PeerLink("family", 0, polite=True, ice_servers=(),
                             send_signal=send_signal, make_tracks=tracks, on_change=lambda: None)
        return self.link

    async def close(self) -> None:
        if self.link is not None:
            await self.link.close()
        if self.ws is not None:
            await self.ws.close()
        if self._reader is not None:
            self._reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reader


@pytest_asyncio.fixture(loop_scope="session")
async def staff_socket(staff_api: StaffLogin) -> AsyncIterator[StaffSockets]:
    made: list[StaffSocket] = []

    async def open_(username: str = "sanna") -> StaffSocket:
        socket = StaffSocket(await staff_api(username))
        made.append(socket)
        await socket.open()
        return socket

    yield open_
    for socket in made:
        await socket.close()


async def phone_in_swedish(open_page: OpenPage, name: str = "family") -> Page:
    return await open_page(PHONE, name=name, permissions=["camera", "microphone"], **SWEDISH)


async def check(page: Page, what: str, shot: str | None = None) -> None:
    """axe on the page as it is, and (``shot``) its phone and tablet screenshots."""
    await assert_accessible(page, what)
    if shot:
        await screenshots(page, shot, ("phone", "tablet-portrait"))


async def join_public(page: Page, slug: str, *, nickname: str = "", mode: str = "chat") -> None:
    await page.goto(f"/line/{slug}")
    await page.locator("#line-nickname").wait_for()
    if nickname:
        await page.fill("#line-nickname", nickname)
    choice = page.locator(f".mode-choice[data-mode={mode}] input")
    if await choice.count():
        await choice.check()
    await page.locator("[data-action=line-join]").click()
    if mode == "video":
        await page.locator("[data-action=line-devices-continue]").click()
    await expect(page.locator(".line-place")).to_have_text(re.compile(r"\d"), timeout=WAIT)


async def test_a_person_joins_waits_chats_switches_to_video_and_ends(
    open_page: OpenPage, staff_api: StaffLogin, staff_socket: StaffSockets,
) -> None:
    line = await make_line(staff_api, "natradgivning")
    page = await phone_in_swedish(open_page)

    await page.goto("/line/natradgivning")
    await expect(page.locator("h1")).to_have_text("Familjerådgivning på nätet")
    await expect(page.locator("label[for=line-nickname]")).to_contain_text("frivilligt")
    await expect(page.locator(".mode-choice")).to_have_count(2)
    await check(page, "the public line's join page", "line-join-sv")

    await join_public(page, "natradgivning", nickname="Lilla My")
    await expect(page.locator(".line-place")).to_have_text("Din plats i kön: 1")
    await expect(page.locator(".line-next")).to_be_visible()
    await expect(page.locator(".line-wait")).to_have_text("Beräknad väntetid: inte känd ännu")
    await check(page, "waiting in the line", "line-waiting-sv")

    sanna = await staff_socket("sanna")
    await sanna.send({"type": "duty", "lines": [line["id"]]})
    await sanna.send({"type": "take_next"})
    session = await sanna.expect("session")
    assert session["who"] == "Lilla My"
    sid = session["session"]

    await expect(page.locator("#line-session-title")).to_have_text("Sanna är med dig", timeout=WAIT)
    await sanna.send({"type": "chat", "session": sid, "text": "Hej! Hur kan jag hjälpa?"})
    staff_line = page.locator(".chat-line[data-from=staff] .chat-text")
    await expect(staff_line).to_have_text("Hej! Hur kan jag hjälpa?", timeout=WAIT)
    await page.fill("#chat-input", "Jag vill prata om min son.")
    await page.locator(".chat-form button[type=submit]").click()
    heard = await sanna.expect("chat", session=sid, **{"from": "family"})
    assert heard["text"] == "Jag vill prata om min son."
    own = page.locator(".chat-line.own .chat-text")
    await expect(own).to_have_text("Jag vill prata om min son.")
    await check(page, "the chat with the professional", "line-chat-sv")

    # The socket drops in the session: back within the minute, the same session and chat.
    before = await page.evaluate("""() => {
      window.__kotaTestSockets.forEach((ws) => ws.close());
      return window.__kotaTestSockets.length;
    }""")
    await page.wait_for_function("""(before) => {
      const sockets = window.__kotaTestSockets;
      const note = document.querySelector(".line-session .line-reconnecting");
      return sockets.length > before && sockets[sockets.length - 1].readyState === 1
        && note && note.hidden;
    }""", arg=before, timeout=WAIT)
    await expect(own).to_have_text("Jag vill prata om min son.")
    await sanna.send({"type": "chat", "session": sid, "text": "Är du kvar?"})
    await expect(staff_line.last).to_have_text("Är du kvar?", timeout=WAIT)

    link = sanna.video_peer(sid)
    await page.locator("[data-action=line-video]").click()
    await sanna.expect("video")
    await assert_remote_videos_play(page, 1, timeout_ms=WAIT)

    async def staff_sees_frames() -> bool:
        return link.media.video_frames > 10

    await wait_until(staff_sees_frames, timeout=30, what="the family's video at the professional")
    await expect(page.locator("[data-action=line-video]")).to_be_hidden()
    await check(page, "the video call", "line-video-sv")

    await page.locator("[data-action=line-end]").click()
    await page.locator("dialog .button.danger").click()
    ended = await sanna.expect("ended")
    assert ended["reason"] == "family"
    await expect(page.locator("[data-notice=ended] h1")).to_have_text("Samtalet är slut",
                                                                      timeout=WAIT)
    await check(page, "the end of the conversation", "line-ended-sv")
    # The camera is off once it is over.
    assert await page.evaluate("() => window.__kotaTestPeerConnections.every("
                               "(pc) => pc.connectionState === 'closed')")


async def test_outside_hours_says_when_the_line_opens(
    open_page: OpenPage, staff_api: StaffLogin,
) -> None:
    today = datetime.now(UTC).date()
    await make_line(staff_api, "stangd-idag", hours=[
        {"weekday": d, "opens": "08:00", "closes": "16:00"} for d in range(7)],
        closures=[{"starts_on": (today - timedelta(days=1)).isoformat(),
                   "ends_on": (today + timedelta(days=1)).isoformat(), "note": ""}])
    page = await phone_in_swedish(open_page)
    await page.goto("/line/stangd-idag")
    notice = page.locator("[data-notice=closed]")
    await expect(notice.locator("h1")).to_have_text("Linjen är stängd nu", timeout=WAIT)
    await expect(notice).to_contain_text("kl. 8.00")
    await expect(page.locator("[data-action=line-join]")).to_have_count(0)
    await check(page, "a line outside its hours", "line-closed-sv")


async def test_a_full_line_says_so(
    open_page: OpenPage, staff_api: StaffLogin,
) -> None:
    await make_line(staff_api, "full-linje", queue_cap=1)
    first = await phone_in_swedish(open_page, "first")
    await join_public(first, "full-linje")
    page = await phone_in_swedish(open_page, "second")
    await page.goto("/line/full-linje")
    await expect(page.locator("[data-notice=full] h1")).to_have_text("Kön är full just nu",
                                                                     timeout=WAIT)
    await check(page, "a full line", "line-full-sv")


async def test_a_reload_within_the_minute_keeps_the_place(
    open_page: OpenPage, staff_api: StaffLogin, staff_socket: StaffSockets,
) -> None:
    line = await make_line(staff_api, "ladda-om")
    first = await phone_in_swedish(open_page, "first")
    await join_public(first, "ladda-om")
    second = await open_page(TABLET_PORTRAIT, name="second", **SWEDISH)
    await join_public(second, "ladda-om")
    await expect(second.locator(".line-place")).to_have_text("Din plats i kön: 2")

    await first.reload()
    await expect(first.locator(".line-place")).to_have_text("Din plats i kön: 1", timeout=WAIT)
    await expect(second.locator(".line-place")).to_have_text("Din plats i kön: 2")
    # The socket dropping (not a reload) comes back by itself, too.
    before = await first.evaluate("""() => {
      window.__kotaTestSockets.forEach((ws) => ws.close());
      return window.__kotaTestSockets.length;
    }""")
    # Back when a new socket is open and its welcome has hidden the "reconnecting" note.
    await first.wait_for_function("""(before) => {
      const sockets = window.__kotaTestSockets;
      const note = document.querySelector(".line-waiting .line-reconnecting");
      return sockets.length > before && sockets[sockets.length - 1].readyState === 1
        && note && note.hidden;
    }""", arg=before, timeout=WAIT)
    await expect(first.locator(".line-place")).to_have_text("Din plats i kön: 1")

    sanna = await staff_socket("sanna")
    await sanna.send({"type": "duty", "lines": [line["id"]]})
    await sanna.send({"type": "take_next"})
    taken = await sanna.expect("session")
    await expect(first.locator("#line-session-title")).to_be_visible(timeout=WAIT)
    await expect(second.locator(".line-place")).to_have_text("Din plats i kön: 1", timeout=WAIT)
    await sanna.send({"type": "end", "session": taken["session"]})
    await expect(first.locator("[data-notice=ended]")).to_be_visible(timeout=WAIT)


async def test_a_familys_own_link_opens_its_line_and_asks_for_a_call_back(
    open_page: OpenPage, staff_api: StaffLogin, kota_server: KotaProcess,
) -> None:
    line = await make_line(staff_api, "virtanen-tabletti", name="Perhetyö, Sanna",
                           kind="personal", callback_after_minutes=1)
    sanna = await staff_api("sanna")
    enrolled = await sanna.call("POST", f"/api/lines/{line['id']}/enrolments", {
        "family_name": "Familjen Virtanen", "language": "sv",
        "staff_ids": [await staff_id(sanna, "sanna")]})
    link: str = enrolled["link"]
    assert "/line/my#e=" in link

    page = await open_page(TABLET_PORTRAIT, name="tablet", **SWEDISH)
    await page.goto(link)
    await expect(page.locator("#line-waiting-title")).to_have_text("Hej, Familjen Virtanen",
                                                                  timeout=WAIT)
    assert "#" not in page.url  # the secret left the address bar
    await expect(page.locator(".line-name")).to_contain_text("Perhetyö, Sanna")
    await expect(page.locator(".line-place")).to_have_text("Din plats i kön: 1")
    # Nobody is on duty: the family may ask for a call back at once.
    ask = page.locator("[data-action=line-callback]")
    await expect(ask).to_be_visible(timeout=WAIT)
    await check(page, "the family's own line", "line-my-waiting-sv")
    await ask.click()
    await expect(page.locator(".line-callback-done")).to_contain_text(
        "Din handläggare ringer upp dig.", timeout=WAIT)
    await expect(page.locator(".line-callback-time")).to_contain_text("kl.")

    async def flagged() -> bool:
        found = await sanna.call("GET", f"/api/lines/{line['id']}/callbacks")
        return any(c["family_name"] == "Familjen Virtanen" for c in found["callbacks"])

    await wait_until(flagged, timeout=30, what="the call back at the worker")
    await check(page, "a call back asked for", "line-my-callback-sv")

    # The tablet keeps its link: /line/my alone opens the same line again.
    await page.locator("[data-action=line-leave]").click()
    await page.locator("dialog .button.danger").click()
    await expect(page.locator("[data-notice=left]")).to_be_visible()
    await page.goto("/line/my")
    await expect(page.locator("#line-waiting-title")).to_have_text("Hej, Familjen Virtanen",
                                                                  timeout=WAIT)


async def test_a_line_that_does_not_exist(open_page: OpenPage) -> None:
    page = await phone_in_swedish(open_page)
    await page.goto("/line/ingen-sadan")
    await expect(page.locator("[data-notice=not-found] h1")).to_have_text("Linjen finns inte",
                                                                         timeout=WAIT)
    await check(page, "a missing line")
    await page.goto("/line/my")
    await expect(page.locator("[data-notice=no-link] h1")).to_be_visible(timeout=WAIT)
    await check(page, "the personal page without its link")


async def test_a_person_joined_for_video_is_handed_over_and_the_professional_ends(
    open_page: OpenPage, staff_api: StaffLogin, staff_socket: StaffSockets,
) -> None:
    first_line = await make_line(staff_api, "video-forst", modes="video")
    admin = await staff_api("admin")
    other_line = await make_line(staff_api, "andra-linjen", name="Skolkuratorn",
                                 staff_ids=[await staff_id(admin, "pekka")])
    page = await open_page(TABLET_PORTRAIT, name="family",
                           permissions=["camera", "microphone"], **SWEDISH)
    await page.goto("/line/video-forst")
    await expect(page.locator(".only-mode")).to_contain_text("videosamtal")
    await page.locator("[data-action=line-join]").click()
    await expect(page.locator("#devices-title")).to_be_visible(timeout=WAIT)
    await check(page, "the camera check before a video line", "line-devices-sv")
    await page.locator("[data-action=line-devices-continue]").click()
    await expect(page.locator(".line-place")).to_have_text("Din plats i kön: 1", timeout=WAIT)

    pekka = await staff_socket("pekka")
    await pekka.send({"type": "duty", "lines": [other_line["id"]]})
    sanna = await staff_socket("sanna")
    await sanna.send({"type": "duty", "lines": [first_line["id"]]})
    await sanna.send({"type": "take_next"})
    session = await sanna.expect("session")
    assert session["mode"] == "video"
    await expect(page.locator("#line-session-title")).to_have_text("Sanna är med dig",
                                                                   timeout=WAIT)
    await expect(page.locator(".line-videos")).to_be_visible()
    await expect(page.locator("[data-action=line-video]")).to_be_hidden()

    await sanna.send({"type": "hand_over", "session": session["session"],
                      "line": other_line["id"]})
    handed = page.locator(".line-handed-over")
    await expect(handed).to_have_text(
        "Du skickades vidare till Skolkuratorn. Du står först i kön.", timeout=WAIT)
    await expect(page.locator(".line-place")).to_have_text("Din plats i kön: 1")
    await expect(page.locator(".line-waiting .line-name")).to_have_text("Linje: Skolkuratorn")
    await check(page, "handed over to another line", "line-handed-over-sv")

    await pekka.send({"type": "take_next"})
    second = await pekka.expect("session")
    await expect(page.locator("#line-session-title")).to_have_text("Pekka är med dig",
                                                                   timeout=WAIT)
    await pekka.send({"type": "end", "session": second["session"]})
    notice = page.locator("[data-notice=ended]")
    await expect(notice).to_contain_text("Tack för att du tog kontakt.", timeout=WAIT)
    await expect(notice).not_to_contain_text("Du avslutade")


async def test_people_still_waiting_at_closing_time_are_told_kindly(
    open_page: OpenPage, staff_api: StaffLogin,
) -> None:
    helsinki = ZoneInfo("Europe/Helsinki")  # the server's KOTA_TIMEZONE (kota_server.py)
    now = datetime.now(helsinki)
    closes = (now + timedelta(seconds=80)).replace(second=0, microsecond=0)
    if closes.date() != now.date():
        pytest.skip("the line would close after midnight")
    await make_line(staff_api, "stanger-snart", hours=[
        {"weekday": now.weekday(), "opens": "00:00", "closes": closes.strftime("%H:%M")}])
    page = await phone_in_swedish(open_page)
    await join_public(page, "stanger-snart")
    notice = page.locator("[data-notice=line-closed]")
    await expect(notice.locator("h1")).to_have_text("Linjen har stängt", timeout=150_000)
    await expect(notice).to_contain_text("Vi beklagar")
    await check(page, "the line closed while waiting", "line-line-closed-sv")

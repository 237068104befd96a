"""Contact lines over the real socket: bad frames, families' links (forged, revoked,
knocks, call-backs), privacy of the usage and server logs, a restart with people queued,
and many joins at once."""

from __future__ import annotations

import asyncio
import io
import json
import logging
import sqlite3
from collections.abc import Iterator

import aiohttp
import pytest

from server.log import JsonFormatter, configure_logging
from server.settings import Settings
from signalling.messages import MAX_MESSAGE_BYTES
from tests.conftest import Accounts, wait_until
from tests.signalling_live.line_live import (
    MONDAY_NOON,
    MovableClock,
    lines_server,
    raw_frames,
    usage,
)


@pytest.fixture
def server_log() -> Iterator[io.StringIO]:
    """The server's own logging set-up at DEBUG; yields what it writes."""
    root = logging.getLogger()
    saved = root.level
    configure_logging("DEBUG")
    [handler] = [h for h in root.handlers if isinstance(h.formatter, JsonFormatter)]
    written = io.StringIO()
    assert isinstance(handler, logging.StreamHandler)
    handler.setStream(written)
    try:
        yield written
    finally:
        root.removeHandler(handler)
        root.setLevel(saved)


async def test_bad_frames_get_an_error_and_the_server_stays_up(
        settings: Settings, accounts: Accounts) -> None:
    async with lines_server(settings, accounts) as lines:
        await lines.make_line()
        url = lines.url
        out = await raw_frames(url, ["{", '{"type":"probe"}', "[]", b"\x00binary",
                                     '{"type":"chat","text":"before hello"}'])
        assert [m["code"] for m in out[:-1]] == ["bad_message"] * 4 + ["not_joined"]
        assert out[-1] == 1008
        big = json.dumps({"type": "chat", "text": "x" * MAX_MESSAGE_BYTES})
        out = await raw_frames(url, [big])
        assert out[0]["code"] == "message_too_big" and out[-1] == 1009
        out = await raw_frames(url, ['{"type":"hello","version":"9","line":"neuvonta",'
                                     '"mode":"chat"}'])
        assert out[0]["code"] == "unsupported_version"
        out = await raw_frames(url, ['{"type":"hello","version":"1","staff":true}'])
        assert out[0]["code"] == "unauthenticated"
        out = await raw_frames(url, ['{"type":"hello","version":"1","line":"ei-ole",'
                                     '"mode":"chat"}'])
        assert out[0]["code"] == "line_not_found"
        person, _ = await lines.person()
        for frame in ('{"type":"take_next"}', '{"type":"chat","text":"' + "y" * 2001 + '"}',
                      '{"type":"hello","version":"1","staff":true}', '{"type":"video"}'):
            await person.ws.send_str(frame)
        assert [(await person.until("error"))["code"] for _ in range(4)] == [
            "not_staff", "bad_message", "already_joined", "not_in_session"]
        await person.send("chat", text="still here?")
        await person.until("error", code="not_in_session")
        # and the line still works
        other, _ = await lines.person()
        await other.until("queue", position=2)


async def test_forged_and_revoked_links_and_a_family_knocking_its_worker(
        settings: Settings, accounts: Accounts) -> None:
    async with lines_server(settings, accounts) as lines:
        line = await lines.make_line(slug="oma", name="Oma työntekijä", kind="personal",
                                     modes="chat", callback_after_minutes=3)
        enrolment, secret = await lines.enrol(line["id"], staff_ids=[accounts.worker.id])
        forged = await lines.socket()
        await forged.send("hello", version="1", enrolment="A" * 43, mode="chat")
        await forged.expect("error", code="enrolment_invalid")
        public_way = await lines.socket()
        await public_way.send("hello", version="1", line="oma", mode="chat")
        await public_way.expect("error", code="line_not_found")

        sanna = await lines.staff("sanna")
        pekka = await lines.staff("pekka", duty=[line["id"]])
        family, welcome = await lines.family(secret)
        assert welcome["family_name"] == "Virtanen"
        knock = await sanna.until("knock")
        assert knock == {"type": "knock", "line": line["id"], "family_name": "Virtanen",
                         "enrolment": enrolment}
        queue = await family.until("queue", position=1)
        assert queue["callback"] == {"offered": False, "requested": False}
        await family.send("callback")
        await family.until("error", code="callback_not_offered")
        await pekka.send("take_next")
        await pekka.expect("nobody")  # reserved for Sanna
        lines.clock.advance(minutes=3)
        await family.until("queue", callback={"offered": True, "requested": False})
        await family.send("callback")
        await family.until("queue", callback={"offered": True, "requested": True})
        while not (board := await sanna.until("board"))["callbacks"]:
            pass
        assert [(c["line"], c["family_name"]) for c in board["callbacks"]] == [
            (line["id"], "Virtanen")]

        async def flagged() -> bool:
            return ("line.callback_requested", {"line": line["id"], "enrolment": enrolment}) \
                in await usage(settings)
        await wait_until(flagged, what="call-back row")
        resp = await (await lines.staff_client("sanna")).get(
            f"/api/lines/{line['id']}/callbacks")
        assert [c["enrolment"] for c in (await resp.json())["callbacks"]] == [enrolment]
        await family.send("video")
        await family.until("error", code="not_in_session")

        await sanna.send("duty", lines=[line["id"]])
        await sanna.send("take_next")
        session = await sanna.until("session")
        assert session["who"] == "Virtanen"
        await family.until("taken", staff_name="Sanna")
        await sanna.send("video", session=session["session"])
        await sanna.until("error", code="video_not_offered")

        resp = await lines.admin.delete(f"/api/lines/{line['id']}/enrolments/{enrolment}")
        assert resp.status == 204
        await family.until("error", code="enrolment_revoked")
        assert await family.closed() == 1000
        await sanna.until("ended", reason="gone")
        again = await lines.socket()
        await again.send("hello", version="1", enrolment=secret, mode="chat")
        await again.expect("error", code="enrolment_revoked")

        async def logged() -> bool:
            return any(a == "line.ended" for a, _ in await usage(settings))
        await wait_until(logged, what="line.ended")
        for action, detail in await usage(settings):
            if action.startswith("line.") and action not in (
                    "line.created", "line.enrolled", "line.enrolment_revoked"):
                assert detail.get("enrolment") == enrolment, (action, detail)


async def test_no_chat_text_or_nickname_in_the_usage_log_or_the_server_log(
        settings: Settings, accounts: Accounts, server_log: io.StringIO) -> None:
    async with lines_server(settings, accounts) as lines:
        line = await lines.make_line()
        sanna = await lines.staff("sanna", duty=[line["id"]])
        person, welcome = await lines.person(nickname="Salanimi Kettunen")
        await sanna.send("take_next")
        session = (await sanna.until("session"))["session"]
        await person.until("taken")
        await person.send("chat", text="Salainen huoli kotona")
        await sanna.until("chat", text="Salainen huoli kotona")
        await sanna.send("chat", session=session, text="Vastaus luottamuksella")
        await person.until("chat", text="Vastaus luottamuksella")
        await sanna.send("end", session=session)
        await person.until("ended")

        async def ended() -> bool:
            return any(a == "line.ended" for a, _ in await usage(settings))
        await wait_until(ended, what="line.ended")
    raw = settings.db_path.read_bytes()
    wal = settings.db_path.with_name(settings.db_path.name + "-wal")
    if wal.exists():
        raw += wal.read_bytes()
    log = server_log.getvalue()
    assert "line.refused" not in log and log  # the log was captured
    for secret_text in ("Salainen huoli", "Vastaus luottamuksella", "Salanimi",
                        welcome["resume"]):
        assert secret_text not in log, secret_text
        assert secret_text.encode() not in raw, secret_text
    rows = await usage(settings)
    assert {a for a, _ in rows} >= {"line.joined", "line.taken", "line.ended"}
    for _, detail in rows:
        assert set(detail) <= {"line", "mode", "waited_s", "served_s", "reason", "to_line",
                               "to_staff"}, detail


async def test_a_restart_keeps_the_queue_and_people_resume_their_places(
        settings: Settings, accounts: Accounts) -> None:
    clock = MovableClock(MONDAY_NOON)
    resumes = []
    async with lines_server(settings, accounts, clock) as lines:
        line = await lines.make_line()
        for place in (1, 2, 3):
            person, welcome = await lines.person(nickname=f"N{place}")
            await person.until("queue", position=place)
            resumes.append(welcome["resume"])
    clock.advance(seconds=5)
    async with lines_server(settings, accounts, clock) as lines:
        second = await lines.socket()
        await second.send("hello", version="1", resume=resumes[1])
        await second.expect("welcome")
        await second.until("queue", position=2)
        third = await lines.socket()
        await third.send("hello", version="1", resume=resumes[2])
        await third.expect("welcome")
        await third.until("queue", position=3)
        clock.advance(seconds=61)  # the first never came back
        await second.until("queue", position=1)
        await third.until("queue", position=2)
        sanna = await lines.staff("sanna", duty=[line["id"]])
        await sanna.send("take_next")
        session = await sanna.until("session")
        assert session["who"] == ""  # nicknames are never written, so none survives
        await second.until("taken", session=session["session"])


async def test_many_joins_at_once_get_places_one_to_n(
        settings: Settings, accounts: Accounts) -> None:
    async with lines_server(settings, accounts) as lines:
        await lines.make_line(queue_cap=40)

        async def join() -> int:
            person, _ = await lines.person()
            return int((await person.until("queue"))["position"])

        firsts = await asyncio.gather(*(join() for _ in range(30)))
        assert sorted(firsts) == list(range(1, 31))
        sanna = await lines.staff("sanna")
        board = await sanna.until("board")
        assert board["lines"][0]["waiting"] == 30


async def test_another_sites_page_is_refused_and_the_public_page_sees_full(
        settings: Settings, accounts: Accounts) -> None:
    async with lines_server(settings, accounts) as lines:
        await lines.make_line(queue_cap=1)
        async with aiohttp.ClientSession() as session:
            resp = await session.get(lines.url, headers={
                "Origin": "https://evil.example", "Connection": "Upgrade",
                "Upgrade": "websocket", "Sec-WebSocket-Version": "13",
                "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ=="})
            assert resp.status == 403
            assert (await resp.json())["error"]["code"] == "cross_origin"
            public = str(lines.server.make_url("/api/public/lines/neuvonta"))
            assert (await (await session.get(public)).json())["full"] is False
            await lines.person()
            assert (await (await session.get(public)).json())["full"] is True


async def test_two_professionals_racing_on_take_next_never_take_one_person_twice(
        settings: Settings, accounts: Accounts) -> None:
    async with lines_server(settings, accounts) as lines:
        line = await lines.make_line()
        people = [await lines.person(nickname=f"P{i}") for i in range(6)]
        sanna = await lines.staff("sanna", duty=[line["id"]])
        pekka = await lines.staff("pekka", duty=[line["id"]])
        taken: list[str] = []
        for _ in range(3):
            await asyncio.gather(sanna.send("take_next"), pekka.send("take_next"))
            for staff in (sanna, pekka):
                started = await staff.until("session")
                taken.append(started["who"])
                await staff.send("end", session=started["session"])
                await staff.until("ended", session=started["session"])
        assert sorted(taken) == [f"P{i}" for i in range(6)]
        assert len(people) == 6


@pytest.mark.call_settings(ws_heartbeat_seconds=0.5)
async def test_a_silent_client_is_dropped_by_the_heartbeat_and_keeps_its_place(
        settings: Settings, accounts: Accounts) -> None:
    async with lines_server(settings, accounts) as lines:
        await lines.make_line()
        async with aiohttp.ClientSession() as session, \
                session.ws_connect(lines.url, autoping=False) as silent:
            await silent.send_str(json.dumps({"type": "hello", "version": "1",
                                              "line": "neuvonta", "mode": "chat"}))
            kinds = []
            while True:
                msg = await asyncio.wait_for(silent.receive(), 10)
                kinds.append(msg.type)
                if msg.type is aiohttp.WSMsgType.TEXT and json.loads(msg.data)["type"] \
                        == "welcome":
                    resume = json.loads(msg.data)["resume"]
                if msg.type not in (aiohttp.WSMsgType.TEXT, aiohttp.WSMsgType.PING):
                    break
            assert aiohttp.WSMsgType.PING in kinds
        answering, _ = await lines.person()  # aiohttp answers pings: it stays
        back = await lines.socket()
        await back.send("hello", version="1", resume=resume)
        await back.expect("welcome")
        await back.until("queue", position=1)
        await answering.until("queue", position=2)


@pytest.mark.call_settings(ws_rate_per_second=5, ws_burst=10)
async def test_a_flood_is_cut_off(settings: Settings, accounts: Accounts) -> None:
    async with lines_server(settings, accounts) as lines:
        await lines.make_line()
        person, _ = await lines.person()
        for _ in range(30):
            await person.ws.send_str('{"type":"callback"}')
        await person.until("error", code="rate_limited")
        assert await person.closed() == 1008


async def test_a_nickname_is_never_written_even_while_queued(
        settings: Settings, accounts: Accounts) -> None:
    """The queue row that lets a place survive a restart keeps no nickname: SQLite would
    keep the deleted text in free pages and its log long after the person left."""
    async with lines_server(settings, accounts) as lines:
        await lines.make_line()
        person, _ = await lines.person(nickname="Kuutamo Salanimi")

        def queued() -> int:
            with sqlite3.connect(settings.db_path) as conn:
                count: int = conn.execute("SELECT COUNT(*) FROM line_queue_entries").fetchone()[0]
                return count
        await wait_until(lambda: queued() == 1, what="the queue row")
        await person.send("leave")
        await wait_until(lambda: queued() == 0, what="the queue row gone")
    raw = settings.db_path.read_bytes()
    wal = settings.db_path.with_name(settings.db_path.name + "-wal")
    if wal.exists():
        raw += wal.read_bytes()
    assert b"Kuutamo" not in raw

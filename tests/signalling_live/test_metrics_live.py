"""Metrics over HTTP: a real server with a metrics port, real call and line sockets, and
scrapes parsed with prometheus-client's own parser (docs/metrics.md)."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Awaitable, Callable

import aiohttp
import pytest
from aiohttp.test_utils import TestServer
from prometheus_client.parser import text_string_to_metric_families

from server.settings import Settings
from tests.conftest import Accounts, StaffClient, free_port, wait_until
from tests.signalling_live.conftest import Call, CallClient, ws_url
from tests.signalling_live.line_live import lines_server

# Every metric the contract names, as its samples appear in the text format.
EXPORTED = {
    "kota_rooms", "kota_call_participants", "kota_waiting_people", "kota_line_queue_length",
    "kota_line_longest_wait_seconds", "kota_admissions_total", "kota_relayed_messages_total",
    "kota_errors_total", "kota_connection_tests_total", "kota_outbox_backlog",
    "kota_db_seconds_bucket", "kota_db_seconds_sum", "kota_db_seconds_count",
}
Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return dataclasses.replace(settings, metrics_port=free_port())


def parse(text: str) -> Samples:
    return {(s.name, frozenset(s.labels.items())): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


async def scrape(settings: Settings) -> Samples:
    """The metrics port, as Prometheus reads it."""
    async with aiohttp.ClientSession() as session, session.get(
            f"http://127.0.0.1:{settings.metrics_port}/metrics") as resp:
        assert resp.status == 200, await resp.text()
        assert resp.headers["Content-Type"].startswith("text/plain; version=0.0.4")
        return parse(await resp.text())


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


async def settled(settings: Settings, check: Callable[[Samples], bool], what: str) -> Samples:
    """Scrapes until ``check`` holds: counters move as the server handles each frame."""
    found: list[Samples] = []

    async def holds() -> bool:
        found[:] = [await scrape(settings)]
        return check(found[0])

    await wait_until(holds, timeout=15, what=what)
    return found[0]


async def test_a_call_moves_rooms_admissions_relays_and_errors(
        call: Call, settings: Settings, kota: TestServer) -> None:
    before = await scrape(settings)
    # No line is declared and no error sent yet: those have no labelled series so far.
    assert {name for name, _ in before if not name.endswith("_created")} == EXPORTED - {
        "kota_line_queue_length", "kota_line_longest_wait_seconds", "kota_errors_total"}
    assert value(before, "kota_rooms") == 0
    assert value(before, "kota_admissions_total") == 0
    for state in ("pending", "sending", "sent", "failed", "unconfirmed", "withdrawn"):
        assert ("kota_outbox_backlog", frozenset({("state", state)})) in before

    host = await call.staff()
    waiting = await call.guest(0)
    await host.until("knocked")
    now = await scrape(settings)
    assert (value(now, "kota_rooms"), value(now, "kota_call_participants"),
            value(now, "kota_waiting_people")) == (1, 1, 1)

    await host.send("admit", participant=call.guest_id(0))
    await waiting.expect("admitted")
    await host.until("peer-joined")
    guest = waiting
    offer = {"kind": "offer", "sdp": "v=0\r\n"}
    for _ in range(3):
        await host.send("signal", to=guest.participant, payload=offer)
        await guest.expect("signal")
    await guest.send("chat", text="Kuuluuko?")
    await host.until("chat")
    await guest.send("media-mode", audio_only="yes")  # malformed: bad_message
    assert (await guest.expect("error"))["code"] == "bad_message"
    late = await call.guest(1)
    await late.send("chat", text="hei")  # waiting: not_admitted
    assert (await late.expect("error"))["code"] == "not_admitted"

    now = await settled(settings, lambda s: value(s, "kota_errors_total",
                                                  code="not_admitted") == 1, "errors")
    assert value(now, "kota_admissions_total") == 1
    assert value(now, "kota_relayed_messages_total", type="signal") == 3
    assert value(now, "kota_relayed_messages_total", type="chat") == 1
    assert value(now, "kota_errors_total", code="bad_message") == 1
    assert (value(now, "kota_call_participants"), value(now, "kota_waiting_people")) == (2, 1)
    assert value(now, "kota_db_seconds_count", op="read") > 0
    assert value(now, "kota_db_seconds_count", op="write") > 0
    assert value(now, "kota_db_seconds_bucket", op="read", le="+Inf") == \
        value(now, "kota_db_seconds_count", op="read")

    # An API error is counted by its code too.
    async with aiohttp.ClientSession() as anonymous, anonymous.get(
            kota.make_url("/api/appointments")) as resp:
        code = (await resp.json())["error"]["code"]
    assert resp.status == 401
    await settled(settings, lambda s: value(s, "kota_errors_total", code=code) == 1,
                  f"errors_total{{code={code}}}")

    for client in (host, guest, late):
        await client.send("leave")
        await client.closed()
    await settled(settings, lambda s: value(s, "kota_rooms") == 0, "the room dropped")


async def test_a_line_queue_and_its_longest_wait(settings: Settings, accounts: Accounts) -> None:
    async with lines_server(settings, accounts) as lines:
        line = await lines.make_line()
        label = str(line["id"])  # the line's id, never its name or slug
        person, _ = await lines.person(nickname="Kettu")
        await person.until("queue", position=1)
        lines.clock.advance(seconds=90)
        second, _ = await lines.person(nickname="Susi")
        await second.until("queue", position=2)
        now = await scrape(settings)
        assert value(now, "kota_line_queue_length", line=label) == 2
        assert value(now, "kota_line_longest_wait_seconds", line=label) == 90
        assert not any("Kettu" in repr(key) or "neuvonta" in repr(key) for key in now)
        await second.send("hello", version="1", line="neuvonta", mode="chat")
        assert (await second.expect("error"))["code"] == "already_joined"
        await settled(settings, lambda s: value(s, "kota_errors_total",
                                                code="already_joined") == 1, "a line error")

        await person.send("leave")
        await person.closed()
        now = await settled(settings, lambda s: value(s, "kota_line_queue_length",
                                                      line=label) == 1, "one left")
        assert value(now, "kota_line_longest_wait_seconds", line=label) == 0


async def test_metrics_on_the_main_port_are_for_admins_only(
        kota: TestServer, staff_client: Callable[[str], Awaitable[StaffClient]]) -> None:
    professional = await staff_client("sanna")
    async with professional.get("/metrics") as resp:
        assert resp.status == 403
        assert (await resp.json())["error"]["code"] == "admin_only"
    async with aiohttp.ClientSession() as anonymous, anonymous.get(
            kota.make_url("/metrics")) as resp:
        assert resp.status == 401
        assert (await resp.json())["error"]["code"] == "not_signed_in"
    admin = await staff_client("admin")
    async with admin.get("/metrics") as resp:
        assert resp.status == 200
        assert resp.headers["Content-Type"].startswith("text/plain; version=0.0.4")
        samples = parse(await resp.text())
    # The two refusals above are counted by their codes.
    assert value(samples, "kota_errors_total", code="admin_only") == 1
    assert value(samples, "kota_errors_total", code="not_signed_in") == 1


async def test_scrapes_under_load_never_fail(call: Call, settings: Settings) -> None:
    """Sockets join, signal and leave while twenty scrapers read at once, many times."""
    host = await call.staff()
    guest = await call.admitted_guest(host, 0)
    stop = asyncio.Event()

    async def churn() -> None:
        offer = {"kind": "offer", "sdp": "v=0\r\n"}
        while not stop.is_set():
            await host.send("signal", to=guest.participant, payload=offer)
            await guest.expect("signal")
            visitor = await CallClient.connect(ws_url(call.kota))
            await visitor.hello(token=call.tokens[1])
            await visitor.send("leave")
            await visitor.closed()
            await visitor.close()

    async def scraper() -> int:
        for _ in range(10):
            samples = await scrape(settings)
            assert value(samples, "kota_rooms") == 1
        return 10

    load = asyncio.create_task(churn())
    try:
        done = await asyncio.gather(*(scraper() for _ in range(20)))
    finally:
        stop.set()
        await load
    assert sum(done) == 200
    samples = await scrape(settings)
    assert value(samples, "kota_relayed_messages_total", type="signal") > 0

"""The pre-call connection test, from aiortc: the echo returns the caller's own media,
pings time the round trip, the result lands in the usage log as numbers only, and the
server's limits (concurrency, duration, one test per caller) hold."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestServer

from server.app_keys import CONNECTION_TESTS, METRICS
from server.connection_tests import ConnectionTests
from server.connection_verdict import judge, thresholds_json
from server.db import Database
from server.records import AuditRow
from server.settings import Settings
from server.staff_auth import CSRF_HEADER
from signalling.peers.echo_probe import EchoProbe, ProbeRefused
from signalling.peers.ice_policy import IcePolicy
from signalling.peers.synthetic_media import TINTS, same_tint
from tests.calls.conftest import SignIn, book, family_link
from tests.conftest import StaffClient, assert_error
from tests.network.conftest import TurnServer
from tests.server.conftest import book as book_ahead

PATH = "/api/connection-test"
NUMBERS_ONLY = {"rtt_ms", "loss_pct", "jitter_ms", "bitrate_kbps", "relay_reachable",
                "verdict", "client_verdict"}


@dataclass
class Family:
    base: str
    token: str
    participant_id: int
    appointment_id: int


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


@pytest.fixture
async def sanna(staff_client: SignIn) -> StaffClient:
    return await staff_client("sanna")


@pytest.fixture
async def family(sanna: StaffClient) -> Family:
    appointment = await book(sanna)
    base, _, token = (await family_link(sanna, appointment)).partition("/join#")
    return Family(base, token, appointment["participants"][0]["id"], appointment["id"])


@pytest.fixture
async def probes() -> AsyncIterator[list[EchoProbe]]:
    made: list[EchoProbe] = []
    yield made
    for probe in made:
        await probe.close()


def echo_tests(kota: TestServer) -> ConnectionTests:
    return kota.app[CONNECTION_TESTS]


def family_probe(family: Family, http: aiohttp.ClientSession, probes: list[EchoProbe],
                 **options: Any) -> EchoProbe:
    probe = EchoProbe(family.base, http, token=family.token, **options)
    probes.append(probe)
    return probe


def staff_probe(staff: StaffClient, probes: list[EchoProbe], **options: Any) -> EchoProbe:
    assert staff.csrf is not None
    probe = EchoProbe(staff.base, staff.session, headers={CSRF_HEADER: staff.csrf}, **options)
    probes.append(probe)
    return probe


async def usage_rows(settings: Settings, action: str) -> list[AuditRow]:
    db = Database(settings.db_path)
    await db.open()
    try:
        return [row async for row in db.iter_audit_rows() if row.action == action]
    finally:
        await db.close()


async def test_family_sees_and_hears_itself_and_the_log_keeps_numbers_only(
    kota: TestServer, settings: Settings, family: Family, http: aiohttp.ClientSession,
    probes: list[EchoProbe], turn: TurnServer,
) -> None:
    probe = family_probe(family, http, probes, ice=IcePolicy(relay_only=True),
                         tint=TINTS[2], tone_hz=550)
    test = await probe.start()
    assert test["thresholds"] == thresholds_json()
    assert test["max_seconds"] == settings.echo_max_seconds
    [server] = test["ice_servers"]
    assert server["urls"] == [turn.url]
    assert server["username"].endswith(f":l:{family.participant_id}")

    await probe.connect()
    await probe.wait_for(lambda: probe.media.video_frames >= 30
                         and probe.media.audio_frames >= 50, 10, "30 echoed frames")
    media = probe.media
    assert media.tint is not None and same_tint(media.tint, TINTS[2])  # our own picture
    assert media.audio_hz is not None and abs(media.audio_hz - 550) < 20  # our own tone
    route = probe.route()
    assert route is not None and route[0] == "relay"  # our side only through Kota's coturn
    rtts = await probe.ping(5)
    assert len(rtts) == 5 and all(0 < rtt < 200 for rtt in rtts)

    report = await probe.report()
    assert report.relay_reachable and report.loss_pct is not None and report.loss_pct < 5
    expected = judge(report.rtt_ms, report.loss_pct, report.jitter_ms, report.bitrate_kbps)
    answer = await probe.post_result(report, expected.value)
    assert answer == {"verdict": expected.value}
    print(f"loopback through coturn: {report}, verdict {expected.value}")

    [row] = await usage_rows(settings, "connection_test.completed")
    assert (row.actor_kind, row.actor_id) == ("participant", family.participant_id)
    assert (row.appointment_id, row.subject_id) == (family.appointment_id,
                                                   family.participant_id)
    detail = json.loads(row.detail)
    assert set(detail) <= NUMBERS_ONLY and "client_verdict" not in detail
    assert detail["verdict"] == expected.value and detail["relay_reachable"] is True
    assert all(isinstance(detail[k], int | float) for k in detail
               if k not in ("verdict", "relay_reachable"))
    assert detail["rtt_ms"] == report.rtt_ms
    # Posting the result ended the test: the slot is free and the echo hung up.
    assert echo_tests(kota).running == 0
    await probe.wait_for(lambda: probe.closed_at is not None, 5, "the echo to hang up")


@pytest.mark.turn_off
async def test_staff_run_a_test_with_their_session_and_may_report_no_connection(
    kota: TestServer, settings: Settings, sanna: StaffClient, probes: list[EchoProbe],
) -> None:
    probe = staff_probe(sanna, probes)
    test = await probe.start()
    assert test["ice_servers"] == []  # no TURN configured: host candidates only
    await probe.connect()
    assert probe.route() == ("host", "host")
    blank = await probe.post_result(
        type(await probe.report())(None, None, None, None, False), "no_connection")
    assert blank == {"verdict": "no_connection"}
    [row] = await usage_rows(settings, "connection_test.completed")
    assert row.actor_kind == "staff" and row.appointment_id is None
    assert json.loads(row.detail) == {"relay_reachable": False, "verdict": "no_connection"}
    # The verdict is counted for the metrics too (docs/metrics.md).
    scraped = (await kota.app[METRICS].scrape()).decode()
    assert 'kota_connection_tests_total{verdict="no_connection"} 1.0' in scraped
    assert 'kota_connection_tests_total{verdict="good"} 0.0' in scraped


@pytest.mark.turn_off
async def test_a_test_needs_a_join_link_or_a_staff_session(
    kota: TestServer, family: Family, http: aiohttp.ClientSession, staff_client: SignIn,
) -> None:
    base = family.base
    await assert_error(await http.post(f"{base}{PATH}", json={}), 401, "not_signed_in")
    await assert_error(await http.post(f"{base}{PATH}", json={"token": "x.y.z"}),
                       401, "token_malformed")
    await assert_error(await http.post(f"{base}{PATH}", json={"token": family.token + "x"}),
                       401, "token_invalid")
    pekka = await staff_client("pekka")
    await assert_error(await pekka.session.post(f"{base}{PATH}", json={}), 403, "csrf_failed")
    await assert_error(await http.post(f"{base}{PATH}", data="{}"), 400, "json_expected")
    await assert_error(await http.post(f"{base}{PATH}", json={"token": family.token, "x": 1}),
                       422, "invalid_field")
    assert echo_tests(kota).running == 0


@pytest.mark.turn_off
@pytest.mark.echo(max_concurrent=2)
async def test_the_test_beyond_the_limit_is_told_to_try_again(
    kota: TestServer, family: Family, sanna: StaffClient, staff_client: SignIn,
    http: aiohttp.ClientSession, probes: list[EchoProbe],
) -> None:
    first = family_probe(family, http, probes)
    await first.start()
    await first.connect()
    await staff_probe(sanna, probes).start()
    pekka = await staff_client("pekka")
    third = staff_probe(pekka, probes)
    with pytest.raises(ProbeRefused) as busy:
        await third.start()
    assert busy.value.status == 503 and busy.value.code == "connection_test_busy"
    retry_after = busy.value.body["error"]["retry_after"]
    assert isinstance(retry_after, int) and 1 <= retry_after <= 30
    assert echo_tests(kota).running == 2

    await first.post_result(await first.report(), "good")  # done: its slot is free
    assert (await third.start())["id"]
    assert echo_tests(kota).running == 2


@pytest.mark.turn_off
async def test_busy_answer_carries_retry_after_header(
    kota: TestServer, family: Family, http: aiohttp.ClientSession, sanna: StaffClient,
) -> None:
    echo_tests(kota).max_concurrent = 0  # full, without running echo peers
    resp = await http.post(f"{family.base}{PATH}", json={"token": family.token})
    body = await assert_error(resp, 503, "connection_test_busy")
    assert resp.headers["Retry-After"] == str(body["error"]["retry_after"])


@pytest.mark.turn_off
@pytest.mark.echo(max_seconds=2)
async def test_a_test_is_closed_after_the_maximum_time(
    kota: TestServer, family: Family, http: aiohttp.ClientSession, probes: list[EchoProbe],
) -> None:
    probe = family_probe(family, http, probes)
    await probe.start()
    await probe.connect()
    await probe.wait_for(lambda: probe.closed_at is not None, 8, "the echo to hang up")
    assert probe.media.first_video_at is not None and probe.closed_at is not None
    assert probe.closed_at - probe.media.created_at <= 4  # 2 s, plus slack for a busy box
    assert echo_tests(kota).running == 0
    resp = await http.post(f"{family.base}{PATH}/{probe.test_id}/offer",
                           json={"token": family.token, "type": "offer", "sdp": "v=0\r\n"})
    await assert_error(resp, 409, "connection_test_over")
    # The numbers measured before the end are still welcome.
    assert await probe.post_result(await probe.report(), "good")


@pytest.mark.turn_off
async def test_a_new_test_of_the_same_caller_ends_the_previous_one(
    kota: TestServer, family: Family, http: aiohttp.ClientSession, probes: list[EchoProbe],
) -> None:
    old = family_probe(family, http, probes)
    await old.start()
    new = family_probe(family, http, probes)
    await new.start()
    assert echo_tests(kota).running == 1
    with pytest.raises(ProbeRefused) as over:
        await old.connect()
    assert (over.value.status, over.value.code) == (409, "connection_test_over")
    await new.connect()


@pytest.mark.turn_off
async def test_a_bad_offer_is_refused_and_frees_the_slot(
    kota: TestServer, family: Family, http: aiohttp.ClientSession, probes: list[EchoProbe],
) -> None:
    probe = family_probe(family, http, probes)
    await probe.start()
    offer = f"{family.base}{PATH}/{probe.test_id}/offer"
    resp = await http.post(offer, json={"token": family.token, "type": "offer",
                                        "sdp": "v=0\r\nm=nonsense\r\n"})
    await assert_error(resp, 422, "bad_offer")
    assert echo_tests(kota).running == 0
    resp = await http.post(offer, json={"token": family.token, "type": "answer", "sdp": "v"})
    await assert_error(resp, 422, "invalid_field")


@pytest.mark.turn_off
async def test_a_result_is_checked_and_taken_once_from_its_own_caller(
    kota: TestServer, settings: Settings, family: Family, http: aiohttp.ClientSession,
    sanna: StaffClient, probes: list[EchoProbe],
) -> None:
    probe = family_probe(family, http, probes)
    await probe.start()
    url = f"{family.base}{PATH}/{probe.test_id}/result"
    good = {"token": family.token, "rtt_ms": 40, "loss_pct": 0.5, "jitter_ms": 8,
            "bitrate_kbps": 900, "relay_reachable": True, "verdict": "good"}
    for bad in ({"loss_pct": 150}, {"verdict": "great"}, {"rtt_ms": -1},
                {"rtt_ms": "fast"}, {"note": "no free text"}):
        await assert_error(await http.post(url, json={**good, **bad}), 422, "invalid_field")
    await assert_error(await sanna.post(f"{PATH}/{probe.test_id}/result",
                                        json={k: v for k, v in good.items() if k != "token"}),
                       404, "connection_test_not_found")
    resp = await http.post(url, json={**good, "verdict": "too_weak"})
    assert (await resp.json()) == {"verdict": "good"}  # the server judges by its thresholds
    await assert_error(await http.post(url, json=good), 409, "connection_test_reported")
    [row] = await usage_rows(settings, "connection_test.completed")
    assert json.loads(row.detail)["client_verdict"] == "too_weak"  # kept, to spot drift


async def test_turn_credentials_of_a_test_live_only_as_long_as_the_test(
    kota: TestServer, settings: Settings, sanna: StaffClient, http: aiohttp.ClientSession,
    turn: TurnServer,
) -> None:
    """Anyone with a link may test, a month early or after being turned away: the
    relay credentials they get must not outlast the test (call credentials go to
    admitted people only)."""
    appointment = await book_ahead(sanna, start=datetime.now(UTC).replace(microsecond=0)
                                   + timedelta(days=30))
    token = (await family_link(sanna, appointment)).partition("/join#")[2]
    before = datetime.now(UTC)
    resp = await http.post(kota.make_url("/api/connection-test"), json={"token": token})
    assert resp.status == 201, await resp.text()
    [server] = (await resp.json())["ice_servers"]
    expiry = datetime.fromtimestamp(int(server["username"].split(":", 1)[0]), UTC)
    assert expiry <= before + timedelta(seconds=settings.echo_max_seconds + 31)
    assert expiry <= before + timedelta(minutes=2, seconds=1)
    assert settings.turn_ttl > timedelta(minutes=2)  # the call's lifetime is not used

"""The family's optional connection test before the waiting room (views/connection_check.js,
connection_test.js): a real echo call to ``kota run``'s aiortc echo peer from Chromium,
the verdict in plain words, the numbers-only usage-log row, "busy" when the server runs
its maximum of tests, and the browser judging exactly as server/connection_verdict.py.
The relay line with a real coturn is in tests/network/test_connection_check_relay.py."""

from __future__ import annotations

import json
import random
import re
from collections.abc import AsyncIterator
from typing import Any

import pytest
import pytest_asyncio
from playwright.async_api import Page, Playwright, Route, expect

from server.connection_verdict import judge, thresholds_json
from server.db import Database
from server.records import AuditRow
from server.staff_auth import CSRF_HEADER
from signalling.peers.echo_probe import EchoProbe, ProbeReport
from tests.conftest import wait_until
from tests.e2e.conftest import CHROMIUM_ARGS, launch_chromium
from tests.e2e.flows import (
    LOOPBACK_ICE_ENV,
    OpenPage,
    admit,
    family_to_connection_check,
    staff_into_room,
)
from tests.e2e.kota_server import KotaProcess, StaffApi
from tests.e2e.page_checks import (
    PHONE,
    TABLET_LANDSCAPE,
    TABLET_PORTRAIT,
    assert_accessible,
    assert_remote_videos_play,
    screenshots,
)
from tests.test_locales import load

pytestmark = pytest.mark.asyncio(loop_scope="session")

NUMBERS_ONLY = {"rtt_ms", "loss_pct", "jitter_ms", "bitrate_kbps", "relay_reachable",
                "verdict", "client_verdict"}
# Long enough that the checks on the echoed video fit inside the measuring even on a
# busy machine; the page's own default is a few seconds.
# The module the page itself loaded (under its versioned URL), not a second copy.
LONG_MEASURE = """
async () => {
  const entry = document.querySelector('script[type="module"]').src;
  (await import(new URL("../connection_test.js", entry))).LIMITS.measure = 12000;
}
"""
FI = load("fi")


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def echo_kota(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[KotaProcess]:
    """``kota run`` that runs one connection test at a time, its echo on 127.0.0.1."""
    kota = KotaProcess(tmp_path_factory.mktemp("kota-echo"),
                       env={**LOOPBACK_ICE_ENV, "KOTA_ECHO_MAX_CONCURRENT": "1"})
    await kota.start()
    try:
        yield kota
    finally:
        kota.stop()


async def family_link(kota: KotaProcess, name: str) -> tuple[str, int]:
    async with StaffApi(kota, "sanna") as sanna:
        appointment = await sanna.appointment((name, "guardian"))
    return appointment.links[name], appointment.participant_id(name)


async def usage_rows(kota: KotaProcess, action: str) -> list[AuditRow]:
    db = Database(kota.data_dir / "kota.sqlite3")
    await db.open()
    try:
        return [row async for row in db.iter_audit_rows() if row.action == action]
    finally:
        await db.close()


async def run_test(page: Page) -> None:
    await page.locator("[data-action=connection-test]").click()


async def test_family_sees_itself_gets_a_verdict_and_the_log_keeps_numbers_only(
    open_page: OpenPage, echo_kota: KotaProcess
) -> None:
    link, participant_id = await family_link(echo_kota, "Maija Virtanen")
    page = await open_page(TABLET_PORTRAIT, name="family", server=echo_kota)
    await family_to_connection_check(page, link)
    await assert_accessible(page, "the connection test, before it runs")
    await screenshots(page, "03-family-connection-test", ("tablet-portrait", "phone"))

    await page.evaluate(LONG_MEASURE)
    await run_test(page)
    # The echoed picture: this is how the worker will see the family.
    echo = page.locator(".precall-echo video")
    await assert_remote_videos_play(page, 1)
    assert await echo.evaluate("(v) => v.videoWidth") > 0
    await expect(page.locator(".precall-echo figcaption")).to_have_text(
        FI["precall.echo_caption"])
    await expect(page.locator(".precall .status")).to_have_text(FI["precall.measuring"])
    await screenshots(page, "03-family-connection-test-running", ("tablet-portrait", "phone"))

    outcome = page.locator(".precall-verdict[data-state=done]")
    await expect(outcome).to_be_visible(timeout=30_000)
    verdict = await outcome.get_attribute("data-verdict")
    assert verdict in ("good", "audio_only", "too_weak"), verdict  # media came back
    await expect(outcome.locator("h3")).to_have_text(FI[f"precall.{verdict}.title"])
    await expect(outcome.locator(".precall-details")).to_contain_text("ms")
    # No TURN configured: nothing is said about a relay.
    await expect(page.locator(".precall-relay")).to_be_hidden()
    await expect(page.locator("[data-action=connection-test]")).to_have_text(
        FI["precall.again"])
    await assert_accessible(page, "the connection test's verdict")
    await screenshots(page, "03-family-connection-test-verdict", ("tablet-portrait", "phone"))

    [row] = [r for r in await usage_rows(echo_kota, "connection_test.completed")
             if r.subject_id == participant_id]
    assert (row.actor_kind, row.actor_id) == ("participant", participant_id)
    detail = json.loads(row.detail)
    assert set(detail) <= NUMBERS_ONLY and "client_verdict" not in detail, detail
    assert detail["verdict"] == verdict and detail["relay_reachable"] is False
    assert {"rtt_ms", "loss_pct", "jitter_ms", "bitrate_kbps"} <= set(detail)
    assert 0 < detail["rtt_ms"] < 1000 and detail["bitrate_kbps"] > 0
    print(f"browser echo test on loopback: {detail}")

    # The family goes on to the waiting room as usual.
    await page.locator("[data-action=enter-waiting-room]").click()
    await expect(page.locator(".waiting .position")).to_contain_text("1")


async def test_the_test_beyond_the_servers_limit_says_busy_and_the_family_can_go_on(
    open_page: OpenPage, echo_kota: KotaProcess
) -> None:
    link, _ = await family_link(echo_kota, "Oona Karvonen")
    async with StaffApi(echo_kota, "pekka") as pekka:
        holder = EchoProbe(echo_kota.base, pekka.http, headers={CSRF_HEADER: pekka.csrf})
        await holder.start()  # the server's one slot
        try:
            page = await open_page(PHONE, name="family", server=echo_kota)
            await family_to_connection_check(page, link)
            await run_test(page)
            outcome = page.locator(".precall-verdict[data-state=busy]")
            await expect(outcome).to_be_visible(timeout=15_000)
            text = await outcome.inner_text()
            seconds = re.search(r"(\d+) sekunnin", text)
            assert seconds is not None and 1 <= int(seconds.group(1)) <= 30, text
            assert text.strip() == FI["precall.busy"].replace("{n}", seconds.group(1))
            await assert_accessible(page, "the connection test when busy")
            await screenshots(page, "03-family-connection-test-busy", ("phone",))
            await expect(page.locator("[data-action=connection-test]")).to_be_enabled()
            await expect(page.locator("[data-action=enter-waiting-room]")).to_be_enabled()
        finally:
            await holder.post_result(ProbeReport(None, None, None, None, False),
                                     "no_connection")


def verdict_cases() -> list[dict[str, Any]]:
    """Every limit exactly, just beyond it, missing numbers, and random mixes."""
    limits = thresholds_json()
    cases: list[dict[str, Any]] = []
    base = {"rtt_ms": 10.0, "loss_pct": 0.0, "jitter_ms": 1.0, "bitrate_kbps": 2000.0}
    for mode in ("video", "audio"):
        for name, value in limits[mode].items():
            field = name.removeprefix("max_").removeprefix("min_")
            step = 0.01 if name.startswith("max_") else -0.01
            for delta in (0.0, step):
                cases.append({**base, field: value + delta})
    for field in base:
        cases.append({**base, field: None})
    rng = random.Random(7)
    for _ in range(300):
        cases.append({"rtt_ms": round(rng.uniform(0, 900), 1),
                      "loss_pct": round(rng.uniform(0, 15), 2),
                      "jitter_ms": round(rng.uniform(0, 130), 1),
                      "bitrate_kbps": round(rng.uniform(0, 400), 1)})
    return cases


async def test_the_browser_judges_exactly_as_the_server(open_page: OpenPage) -> None:
    """The page judges with the thresholds the server sends (``thresholds_json``, checked
    in tests/network/test_connection_test.py); the rule itself must match too."""
    page = await open_page(TABLET_PORTRAIT)
    await page.goto("/join")
    cases = verdict_cases()
    browser = await page.evaluate(
        """async ([cases, thresholds]) => {
          const entry = document.querySelector('script[type="module"]').src;
          const { judge } = await import(new URL("../connection_test.js", entry));
          return cases.map((c) => judge(c, thresholds));
        }""",
        [cases, thresholds_json()],
    )
    server = [judge(c["rtt_ms"], c["loss_pct"], c["jitter_ms"], c["bitrate_kbps"]).value
              for c in cases]
    differ = [(c, b, s) for c, b, s in zip(cases, browser, server, strict=True) if b != s]
    assert not differ, differ[:5]
    assert set(server) == {"good", "audio_only", "too_weak", "no_connection"}


async def test_a_sound_only_verdict_lets_the_family_join_with_sound_only(
    open_page: OpenPage, echo_kota: KotaProcess
) -> None:
    """Loopback is never weak, so this test changes what the page is told: thresholds
    no video can meet, and the server's reply to the result. The page's wiring is what
    is tested here; the numbers path is tested above and in tests/network."""
    async with StaffApi(echo_kota, "sanna") as sanna:
        appointment = await sanna.appointment(("Eeva Kallio", "guardian"))
    page = await open_page(TABLET_PORTRAIT, name="family", server=echo_kota)

    async def video_impossible(route: Route) -> None:
        response = await route.fetch()
        body = await response.json()
        body["thresholds"]["video"]["max_rtt_ms"] = -1
        body["thresholds"]["audio"] = {"max_rtt_ms": 1e6, "max_loss_pct": 100,
                                       "max_jitter_ms": 1e6, "min_bitrate_kbps": 0}
        await route.fulfill(response=response, json=body)

    async def server_agrees(route: Route) -> None:
        await route.fulfill(response=await route.fetch(), json={"verdict": "audio_only"})

    await page.route("**/api/connection-test", video_impossible)
    await page.route("**/api/connection-test/*/result", server_agrees)
    await family_to_connection_check(page, appointment.links["Eeva Kallio"])
    await run_test(page)
    outcome = page.locator(".precall-verdict[data-verdict=audio_only]")
    await expect(outcome).to_be_visible(timeout=30_000)
    await expect(outcome.locator("h3")).to_have_text(FI["precall.audio_only.title"])
    await page.locator("[data-action=join-audio-only]").click()
    await expect(page.locator(".waiting .position")).to_contain_text("1")
    await expect(page.locator(".waiting-preview video")).to_be_hidden()  # camera is off

    staff = await open_page(TABLET_LANDSCAPE, staff="sanna", name="staff", server=echo_kota)
    await staff_into_room(staff, appointment)
    await admit(staff, "Eeva Kallio")
    await expect(page.locator(".call-view")).to_be_visible()
    await expect(page.locator("[data-action=audio-only]")).to_have_class(re.compile(r"\bis-on\b"))

    # Chosen while waiting, told to the server once admitted: Kota's offer was the reason.
    async def logged() -> bool:
        rows = [r for r in await usage_rows(echo_kota, "call.sound_only")
                if r.appointment_id == appointment.id]
        return [json.loads(r.detail) for r in rows] == [{"on": True, "weak": True}]
    await wait_until(logged, timeout=30, what="call.sound_only with weak")


async def test_without_camera_and_microphone_the_test_still_measures_the_network(
    playwright: Playwright, echo_kota: KotaProcess
) -> None:
    """The browser refuses camera and microphone; the page sends a stand-in picture and
    tone (stand_in_media.js), so the verdict still describes the network."""
    async with StaffApi(echo_kota, "sanna") as sanna:
        appointment = await sanna.appointment(("Noora Heino", "guardian"))
    browser = await launch_chromium(
        playwright, [a for a in CHROMIUM_ARGS if a != "--use-fake-ui-for-media-stream"])
    try:
        context = await browser.new_context(viewport=PHONE, base_url=echo_kota.base,
                                            timezone_id="Europe/Helsinki", locale="fi-FI")
        page = await context.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda error: errors.append(str(error)))
        await page.goto(appointment.links["Noora Heino"])
        await page.locator("[data-action=welcome-continue]").click()
        await expect(page.locator(".device-check .help")).to_be_visible()  # blocked
        await page.locator("[data-action=devices-continue]").click()
        await page.evaluate(LONG_MEASURE)
        await run_test(page)
        await expect(page.locator(".precall-echo .preview-empty")).to_have_text(
            FI["precall.no_camera"])
        await expect(page.locator(".precall-echo video")).to_be_hidden()
        outcome = page.locator(".precall-verdict[data-state=done]")
        await expect(outcome).to_be_visible(timeout=30_000)
        assert await outcome.get_attribute("data-verdict") in ("good", "audio_only", "too_weak")
        assert not errors, errors
    finally:
        await browser.close()

"""Relay-only calls between two Chromium pages through a real coturn, with
``KOTA_ICE_TRANSPORT_POLICY=relay`` on ``kota run``: the call carries video over relayed
routes only (neither page learns the other's address), and when coturn refuses the
credentials the pages say so in plain words within seconds instead of "connecting"
for ever."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from playwright.async_api import Browser, BrowserContext, Page, async_playwright, expect

from tests.conftest import PASSWORD
from tests.e2e.conftest import CHROMIUM, launch_chromium
from tests.e2e.flows import admit, family_to_waiting_room, in_call, staff_into_room
from tests.e2e.kota_server import KotaProcess, StaffApi
from tests.e2e.page_checks import (
    RECORD_CONNECTIONS,
    TABLET_LANDSCAPE,
    TABLET_PORTRAIT,
    screenshots,
)
from tests.network.conftest import TurnServer, write_secret

pytestmark = pytest.mark.asyncio(loop_scope="session")

# The selected pair's candidate types and every candidate type the page knows of, per
# open connection (getStats: transport → selectedCandidatePairId → candidate-pair).
_ROUTES = """
async () => {
  const routes = [];
  for (const pc of window.__kotaTestPeerConnections || []) {
    if (pc.connectionState === "closed") continue;
    const stats = await pc.getStats();
    let pair = null;
    const local = [], remote = [];
    stats.forEach((s) => {
      if (s.type === "transport" && s.selectedCandidatePairId) {
        pair = stats.get(s.selectedCandidatePairId);
      }
      if (s.type === "local-candidate") local.push(s.candidateType);
      if (s.type === "remote-candidate") remote.push(s.candidateType);
    });
    routes.push({
      local: pair ? stats.get(pair.localCandidateId).candidateType : null,
      remote: pair ? stats.get(pair.remoteCandidateId).candidateType : null,
      allLocal: local, allRemote: remote,
    });
  }
  return routes;
}
"""
PROBLEM_WITHIN_S = 10.0  # peer.js: gathering ends at once on a 401, else 6 s


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def chromium() -> AsyncIterator[Browser]:
    if not CHROMIUM.exists():
        pytest.fail("/usr/bin/chromium is missing: run `bash deploy/install-system-deps.sh`")
    async with async_playwright() as playwright:
        browser = await launch_chromium(playwright)
        yield browser
        await browser.close()


OpenPage = Callable[..., Awaitable[Page]]


@pytest_asyncio.fixture(loop_scope="session")
async def open_page(chromium: Browser) -> AsyncIterator[OpenPage]:
    """As tests/e2e's ``open_page``, for a server this test starts itself."""
    contexts: list[BrowserContext] = []
    errors: list[str] = []

    async def open_(viewport: Any = TABLET_PORTRAIT, *, staff: str | None = None,
                    name: str = "page", server: KotaProcess) -> Page:
        context = await chromium.new_context(viewport=viewport, timezone_id="Europe/Helsinki",
                                             locale="fi-FI", base_url=server.base)
        contexts.append(context)
        await context.add_init_script(RECORD_CONNECTIONS)
        if staff:
            resp = await context.request.post(
                "/api/session", data={"username": staff, "password": PASSWORD})
            assert resp.status == 201, await resp.text()
        page = await context.new_page()
        page.on("pageerror", lambda error: errors.append(f"{name}: {error}"))
        return page

    yield open_
    for context in contexts:
        await context.close()
    assert not errors, f"errors in the pages: {errors}"


StartKota = Callable[[str], Awaitable[KotaProcess]]


@pytest_asyncio.fixture(loop_scope="session")
async def relay_kota(tmp_path: Path, turn: TurnServer) -> AsyncIterator[StartKota]:
    """``await relay_kota(secret)``: ``kota run`` relay-only with this test's coturn, its
    secret file holding ``secret`` (coturn refuses every credential made with another)."""
    started: list[KotaProcess] = []

    async def start(secret: str) -> KotaProcess:
        kota = KotaProcess(tmp_path / "kota", env={
            "KOTA_TURN_URLS": turn.url,
            "KOTA_TURN_SECRET_FILE": str(write_secret(tmp_path, secret)),
            "KOTA_ICE_TRANSPORT_POLICY": "relay",
        })
        started.append(kota)
        await kota.start()
        return kota

    yield start
    for kota in started:
        kota.stop()
        print(f"--- kota run log ---\n{kota.log()[-6000:]}")  # shown for a failed test


async def routes(page: Page) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = await page.evaluate(_ROUTES)
    return found


async def test_relay_only_call_between_two_pages_goes_through_coturn(
    open_page: OpenPage, relay_kota: StartKota, turn: TurnServer
) -> None:
    kota = await relay_kota(turn.secret)
    async with StaffApi(kota, "sanna") as sanna:

        async def signed_in(_: str) -> StaffApi:
            return sanna

        staff, family = await in_call(open_page, signed_in, "Elina Korhonen", server=kota)
    for page, who in ((staff, "staff"), (family, "family")):
        [route] = await routes(page)
        assert (route["local"], route["remote"]) == ("relay", "relay"), (who, route)
        # Relay-only: no host or server-reflexive address was gathered or received.
        assert set(route["allLocal"]) == {"relay"}, (who, route)
        assert set(route["allRemote"]) <= {"relay"}, (who, route)


async def test_refused_relay_credentials_show_a_plain_words_problem_within_seconds(
    open_page: OpenPage, relay_kota: StartKota, turn: TurnServer
) -> None:
    kota_relay = await relay_kota("not-the-" + turn.secret)  # coturn refuses with 401
    name = "Juha Salonen"
    async with StaffApi(kota_relay, "sanna") as sanna:
        appointment = await sanna.appointment((name, "guardian"))
    staff = await open_page(TABLET_LANDSCAPE, staff="sanna", name="staff", server=kota_relay)
    await staff_into_room(staff, appointment)
    family = await open_page(TABLET_PORTRAIT, name="family", server=kota_relay)
    await family_to_waiting_room(family, appointment.links[name])
    await admit(staff, name)
    admitted_at = time.monotonic()

    timeout_ms = PROBLEM_WITHIN_S * 1000
    await expect(family.locator(".call-status")).to_have_attribute(
        "data-i18n", "relay.unreachable", timeout=timeout_ms)
    await expect(staff.locator(".call-status")).to_have_attribute(
        "data-i18n", "relay.unreachable_staff", timeout=timeout_ms)
    assert time.monotonic() - admitted_at < PROBLEM_WITHIN_S
    await expect(family.locator(".call-status")).to_be_visible()
    await expect(family.locator(".call-status")).to_contain_text("välityspalvelimeen")
    await expect(family.locator(".tile")).to_have_attribute("data-connection", "unreachable")
    await expect(staff.locator(".in-call-list .person", has_text=name)).to_have_attribute(
        "data-connection", "unreachable")
    # Nothing was gathered: coturn refused, and relay-only allows nothing else.
    for page in (staff, family):
        assert all(not r["allLocal"] for r in await routes(page))
    await screenshots(family, "27-family-relay-unreachable", ("tablet-portrait", "phone"))

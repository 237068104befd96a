"""The family page's connection test says whether Kota's TURN relay works: Chromium
gathers with relay-only ICE against a real coturn (the ``turn`` fixture), with the
credentials Kota hands out. With the right secret the relay answers; with a wrong secret
in Kota's file coturn refuses the credentials and the page says so in plain words
within seconds, while the echo test itself still finishes over loopback."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp.test_utils import TestServer
from playwright.async_api import Browser, Page, async_playwright, expect

from server.settings import Settings, load_settings
from tests.calls.conftest import SignIn, book, family_link
from tests.e2e.conftest import launch_chromium
from tests.e2e.flows import family_to_connection_check
from tests.e2e.page_checks import ARTIFACTS, TABLET_PORTRAIT
from tests.network.conftest import TurnServer, write_secret
from tests.network.test_connection_test import usage_rows
from tests.test_locales import load

FI = load("fi")
RELAY_ANSWER_WITHIN = 10.0  # seconds from the tap; the page's own limit is 5


@pytest.fixture
def kota_secret() -> str:
    """Which secret Kota's TURN secret file holds: coturn's ("right") or another."""
    return "right"


@pytest.fixture
def settings(settings: Settings, turn: TurnServer, kota_secret: str, tmp_path: Path) -> Settings:
    if kota_secret == "right":
        return settings
    folder = tmp_path / "wrong"
    folder.mkdir()
    return load_settings({
        "KOTA_DATA_DIR": str(settings.data_dir), "KOTA_PORT": str(settings.port),
        "KOTA_PUBLIC_URL": settings.public_url, "KOTA_TURN_URLS": turn.url,
        "KOTA_TURN_SECRET_FILE": str(write_secret(folder, "not-" + turn.secret)),
    })


@pytest.fixture
async def family_page(kota: TestServer) -> AsyncIterator[Page]:
    """A tablet-sized page in Debian's Chromium (loopback ICE, fake camera)."""
    errors: list[str] = []
    async with async_playwright() as playwright:
        browser: Browser = await launch_chromium(playwright)
        try:
            context = await browser.new_context(
                viewport=TABLET_PORTRAIT, locale="fi-FI", timezone_id="Europe/Helsinki",
                base_url=str(kota.make_url("")).rstrip("/"))
            page = await context.new_page()
            page.on("pageerror", lambda error: errors.append(str(error)))
            yield page
        finally:
            await browser.close()
    assert not errors, errors


async def relay_line_after_the_tap(page: Page, link: str, relay: str) -> float:
    """Run the test from the page; seconds until the relay line says ``relay``."""
    await family_to_connection_check(page, link)
    started = time.monotonic()
    await page.locator("[data-action=connection-test]").click()
    line = page.locator(f".precall-relay[data-relay={relay}]")
    await expect(line).to_be_visible(timeout=RELAY_ANSWER_WITHIN * 1000)
    await expect(line).to_have_text(FI[f"precall.relay.{relay}"])
    return time.monotonic() - started


async def test_the_page_finds_the_relay_with_kotas_credentials(
    kota: TestServer, settings: Settings, staff_client: SignIn, turn: TurnServer,
    family_page: Page,
) -> None:
    sanna = await staff_client("sanna")
    link = await family_link(sanna, await book(sanna))
    seconds = await relay_line_after_the_tap(family_page, link, "reachable")
    outcome = family_page.locator(".precall-verdict[data-state=done]")
    await expect(outcome).to_be_visible(timeout=30_000)
    [row] = await usage_rows(settings, "connection_test.completed")
    detail = json.loads(row.detail)
    assert detail["relay_reachable"] is True, detail
    assert detail["verdict"] == await outcome.get_attribute("data-verdict")
    print(f"relay reachable shown after {seconds:.1f} s; {detail}")


@pytest.mark.parametrize("kota_secret", ["wrong"])
async def test_the_page_says_the_relay_is_unreachable_when_coturn_refuses(
    kota: TestServer, settings: Settings, staff_client: SignIn, turn: TurnServer,
    family_page: Page,
) -> None:
    sanna = await staff_client("sanna")
    link = await family_link(sanna, await book(sanna))
    seconds = await relay_line_after_the_tap(family_page, link, "unreachable")
    assert seconds < RELAY_ANSWER_WITHIN
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    # The echo itself still runs over loopback host candidates: a verdict comes.
    outcome = family_page.locator(".precall-verdict[data-state=done]")
    await expect(outcome).to_be_visible(timeout=30_000)
    await family_page.screenshot(
        path=str(ARTIFACTS / "03-family-connection-test-relay-unreachable-tablet-portrait.png"))
    [row] = await usage_rows(settings, "connection_test.completed")
    assert json.loads(row.detail)["relay_reachable"] is False
    # coturn did refuse the family's credentials (issued to ``l:<participant>``).
    refused = [line for line in turn.log_text().splitlines()
               if "Cannot find credentials of user" in line and ":l:" in line]
    assert refused, turn.log_text()
    print(f"relay unreachable shown after {seconds:.1f} s")

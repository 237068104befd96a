"""Browser tests: Debian's Chromium (never a downloaded one) with fake camera and
microphone, against ``kota run`` in a subprocess on a free loopback port.

One server and one browser serve the whole session; each test makes its own
appointments and opens its own browser contexts (separate cookies and storage).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path

import pytest
import pytest_asyncio
from playwright.async_api import (
    Browser,
    BrowserContext,
    Page,
    Playwright,
    ViewportSize,
    async_playwright,
)

from tests.conftest import PASSWORD
from tests.e2e.flows import OpenPage
from tests.e2e.kota_server import KotaProcess, StaffApi
from tests.e2e.page_checks import RECORD_CONNECTIONS, TABLET_PORTRAIT
from tests.mail_inbox import MailInbox
from tests.server.messaging import SmsReceiver, messaging_env

CHROMIUM = Path("/usr/bin/chromium")
# Fake media, no prompts, loopback ICE candidates, nothing fetched from the network.
CHROMIUM_ARGS = [
    "--use-fake-device-for-media-stream",
    "--use-fake-ui-for-media-stream",
    "--allow-loopback-in-peer-connection",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--no-sandbox",
]



@pytest.fixture(scope="session")
def mail_inbox() -> Iterator[MailInbox]:
    """The SMTP server the session's Kota sends every e-mail to."""
    with MailInbox() as inbox:
        yield inbox


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def kota_server(
    tmp_path_factory: pytest.TempPathFactory, mail_inbox: MailInbox
) -> AsyncIterator[KotaProcess]:
    kota = KotaProcess(tmp_path_factory.mktemp("kota-e2e"), env=mail_inbox.env())
    await kota.start()
    try:
        yield kota
    finally:
        kota.stop()


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def playwright() -> AsyncIterator[Playwright]:
    if not CHROMIUM.exists():  # noqa: ASYNC240 - once per session, before any await
        pytest.fail("/usr/bin/chromium is missing: run `bash deploy/install-system-deps.sh`")
    async with async_playwright() as started:
        yield started


async def launch_chromium(playwright: Playwright, args: list[str] = CHROMIUM_ARGS) -> Browser:
    return await playwright.chromium.launch(executable_path=str(CHROMIUM), args=args)


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def browser(playwright: Playwright) -> AsyncIterator[Browser]:
    chromium = await launch_chromium(playwright)
    yield chromium
    await chromium.close()


@pytest_asyncio.fixture(loop_scope="session")
async def open_page(browser: Browser, kota_server: KotaProcess) -> AsyncIterator[OpenPage]:
    """``await open_page(viewport, staff="sanna")``: a page in a fresh context; page
    errors fail the test, and the server's log is printed when a test fails."""
    contexts: list[BrowserContext] = []
    errors: list[str] = []

    async def open_(viewport: ViewportSize = TABLET_PORTRAIT, *, staff: str | None = None,
                    name: str = "page", permissions: list[str] | None = None,
                    server: KotaProcess | None = None, timezone_id: str = "Europe/Helsinki",
                    locale: str = "fi-FI", init_script: str | None = None) -> Page:
        context = await browser.new_context(
            viewport=viewport, timezone_id=timezone_id, locale=locale,
            base_url=(server or kota_server).base, permissions=permissions or [],
        )
        contexts.append(context)
        await context.add_init_script(RECORD_CONNECTIONS)
        if init_script:
            await context.add_init_script(init_script)
        if staff:
            resp = await context.request.post(
                "/api/session", data={"username": staff, "password": PASSWORD}
            )
            assert resp.status == 201, await resp.text()
        page = await context.new_page()
        page.on("pageerror", lambda error: errors.append(f"{name}: {error}"))
        page.on("console", lambda msg: _missing_text(msg.text, name, errors))
        return page

    yield open_
    for context in contexts:
        await context.close()
    assert not errors, f"errors in the pages: {errors}"


def _missing_text(text: str, page: str, errors: list[str]) -> None:
    """i18n.js warns when a key has no text; that is a test failure."""
    if text.startswith("kota: missing text"):
        errors.append(f"{page}: {text}")


@pytest_asyncio.fixture(loop_scope="session")
async def staff_api(
    kota_server: KotaProcess,
) -> AsyncIterator[Callable[[str], Awaitable[StaffApi]]]:
    made: list[StaffApi] = []

    async def sign_in(username: str = "sanna") -> StaffApi:
        api = await StaffApi(kota_server, username).__aenter__()
        made.append(api)
        return api

    yield sign_in
    for api in made:
        await api.__aexit__(None, None, None)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]):  # type: ignore[no-untyped-def]
    """When a browser test fails, show what the server said."""
    outcome = yield
    report = outcome.get_result()
    if report.failed and "kota_server" in getattr(item, "fixturenames", ()):
        kota = item.funcargs.get("kota_server")  # type: ignore[attr-defined]
        if isinstance(kota, KotaProcess):
            report.sections.append(("kota run output (last 80 lines)",
                                    "\n".join(kota.log().splitlines()[-80:])))


@pytest_asyncio.fixture(loop_scope="session")
async def sms_kota(
    tmp_path: Path, mail_inbox: MailInbox
) -> AsyncIterator[tuple[KotaProcess, SmsReceiver]]:
    """A Kota of its own that sends text messages too, to a real signed-webhook adapter."""
    receiver = SmsReceiver()
    await receiver.start()
    kota = KotaProcess(tmp_path / "sms-kota",
                       env=messaging_env(tmp_path, mail_inbox, receiver))
    try:
        await kota.start()
        yield kota, receiver
    finally:
        kota.stop()
        await receiver.stop()

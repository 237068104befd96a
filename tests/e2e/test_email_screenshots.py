"""The rendered e-mails as a phone's mail app shows them: every language's invitation and
the other Finnish messages, in headless Chromium at phone width, axe-checked, with nothing
fetched from the network (no remote images, no trackers).

Saves test-artifacts/screenshots/email-<purpose>-<language>.png; with
KOTA_UPDATE_SCREENSHOTS=1 also docs/screenshots/, which docs/messages.md shows.
"""

from __future__ import annotations

import os
import shutil
from datetime import UTC, datetime

import pytest
from playwright.async_api import Browser, Request, Route

from server.message_texts import render
from server.records import Language, MessagePurpose
from tests.e2e.page_checks import ARTIFACTS, DOCS_SCREENSHOTS, PHONE, assert_accessible
from tests.server.test_message_texts import MANAGE_URL, STAMP, facts

pytestmark = pytest.mark.asyncio(loop_scope="session")

# Every message in every language: docs/messages.md shows each of them.
SHOWN = [(purpose, language) for purpose in MessagePurpose for language in Language]
NAMES = {Language.FI: "Maija Virtanen", Language.SV: "Åsa Lindqvist",
         Language.EN: "Sam Taylor", Language.SE: "Máret Ánne Sara"}


@pytest.mark.parametrize(("purpose", "language"), SHOWN,
                         ids=[f"{p.value}-{lang.value}" for p, lang in SHOWN])
async def test_rendered_email_screenshot(browser: Browser, purpose: MessagePurpose,
                                         language: Language) -> None:
    booked = purpose in (MessagePurpose.REMINDER, MessagePurpose.BOOKING_CONFIRM)
    message = render(facts(
        purpose, language, recipient_name=NAMES[language],
        service_name="Perhepalvelut, Inari" if booked else None,
        manage_url=MANAGE_URL if purpose is MessagePurpose.REMINDER else None,
        hold_expires_at=(datetime(2026, 12, 4, 7, 20, tzinfo=UTC)
                         if purpose is MessagePurpose.BOOKING_CONFIRM else None),
    ), STAMP)
    context = await browser.new_context(viewport=PHONE, locale=language.value,
                                        timezone_id="Europe/Helsinki")
    fetched: list[str] = []

    async def refuse(route: Route, request: Request) -> None:
        fetched.append(request.url)
        await route.abort()

    try:
        await context.route("**/*", refuse)
        page = await context.new_page()
        await page.set_content(message.html, wait_until="load")
        assert await page.evaluate("() => document.documentElement.lang") == language.value
        assert await page.title() == message.subject
        # The button is big enough to hit with a thumb and fits the phone's width.
        if purpose is not MessagePurpose.CANCELLATION:
            box = await page.locator("a").first.bounding_box()
            assert box is not None and box["height"] >= 44 and box["width"] <= PHONE["width"]
        width = await page.evaluate("() => document.documentElement.scrollWidth")
        assert width <= PHONE["width"], "the e-mail scrolls sideways on a phone"
        await assert_accessible(page, f"the {purpose} e-mail in {language}")
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        path = ARTIFACTS / f"email-{purpose.value}-{language.value}.png"
        await page.screenshot(path=str(path), full_page=True, animations="disabled")
        if os.environ.get("KOTA_UPDATE_SCREENSHOTS") == "1":
            DOCS_SCREENSHOTS.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, DOCS_SCREENSHOTS / path.name)
    finally:
        await context.close()
    assert not fetched, f"the e-mail fetched {fetched}"

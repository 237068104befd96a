"""A link opened before its room opens: the first page says when (date and time), the
camera stays off, and the page opens the room by itself when the time comes."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta

import pytest
from playwright.async_api import Page, expect

from tests.e2e.date_texts import LANGUAGES, assert_no_date_fallback, date_text, time_text
from tests.e2e.flows import OpenPage
from tests.e2e.kota_server import StaffApi
from tests.e2e.page_checks import PHONE, TABLET_PORTRAIT, assert_accessible, screenshots
from tests.test_locales import load

pytestmark = pytest.mark.asyncio(loop_scope="session")

# The test server opens rooms a day ahead (KOTA_JOIN_OPENS_MINUTES=1440).
OPENS_BEFORE = timedelta(days=1)
# Counts camera and microphone requests; injected before any page script runs.
COUNT_CAMERA_REQUESTS = """
(() => {
  window.__kotaTestCameraAsked = 0;
  const devices = navigator.mediaDevices;
  if (!devices) return;
  const original = devices.getUserMedia.bind(devices);
  devices.getUserMedia = (constraints) => {
    window.__kotaTestCameraAsked += 1;
    return original(constraints);
  };
})();
"""


async def camera_requests(page: Page) -> int:
    asked: int = await page.evaluate("() => window.__kotaTestCameraAsked")
    return asked


def opens_text(code: str, opens_at: datetime) -> str:
    return (
        load(code)["early.opens"]
        .replace("{date}", date_text(code, opens_at))
        .replace("{time}", time_text(code, opens_at))
    )


@pytest.mark.parametrize("size", ["phone", "tablet-portrait"])
async def test_too_early_says_the_date_and_time_on_the_first_page(
    open_page: OpenPage, staff_api: Callable[[str], Awaitable[StaffApi]], size: str
) -> None:
    kaisa = await staff_api("kaisa")
    start = datetime.now(UTC).replace(second=0, microsecond=0) + timedelta(days=2, hours=3)
    if size == "tablet-portrait":
        start += timedelta(hours=2)  # not kaisa's other appointment
    appointment = await kaisa.appointment(("Eeva Kallio", "guardian"), starts_at=start)
    viewport = PHONE if size == "phone" else TABLET_PORTRAIT
    family = await open_page(viewport, name="family", init_script=COUNT_CAMERA_REQUESTS)
    await family.goto(appointment.links["Eeva Kallio"])

    early = family.locator("section.early")
    lead = early.locator(".lead")
    await expect(lead).to_have_text(opens_text("fi", start - OPENS_BEFORE))
    await expect(family.locator("[data-action=welcome-continue]")).to_have_count(0)
    await assert_accessible(family, "the too-early page")
    if size == "phone":
        await screenshots(family, "19-family-too-early", ("phone", "tablet-portrait"))

    for code in LANGUAGES:
        await family.locator(f"[data-locale={code}]").click()
        await expect(lead).to_have_text(opens_text(code, start - OPENS_BEFORE))
        await assert_no_date_fallback(family, code, "the too-early page")
        if code == "se":
            await assert_accessible(family, "the too-early page in North Sámi")
            if size == "phone":
                await screenshots(family, "19-family-too-early-north-sami",
                                  ("phone", "tablet-portrait"))
    assert await camera_requests(family) == 0


async def test_too_early_page_opens_the_room_by_itself(
    open_page: OpenPage, staff_api: Callable[[str], Awaitable[StaffApi]]
) -> None:
    """The window opens 15 s after booking; the page moves on without a tap."""
    kaisa = await staff_api("kaisa")
    start = datetime.now(UTC).replace(microsecond=0) + OPENS_BEFORE + timedelta(seconds=15)
    appointment = await kaisa.appointment(
        ("Ilmari Kallio", "guardian"), starts_at=start, languages={"Ilmari Kallio": "se"}
    )
    family = await open_page(PHONE, name="family", init_script=COUNT_CAMERA_REQUESTS)
    await family.goto(appointment.links["Ilmari Kallio"])
    # The participant's language (North Sámi) from the first page on.
    await expect(family.locator("section.early .lead")).to_have_text(
        opens_text("se", start - OPENS_BEFORE)
    )
    assert await camera_requests(family) == 0

    welcome = family.locator("[data-action=welcome-continue]")
    await welcome.wait_for(timeout=120_000)
    await expect(family.locator("#welcome-title")).to_have_text(load("se")["join.welcome.title"])
    assert await camera_requests(family) == 0
    await assert_accessible(family, "the welcome page after the wait")

    # The normal flow goes on from there; only now is the camera asked for.
    await welcome.click()
    await family.wait_for_function("() => window.__kotaTestCameraAsked > 0")
    await family.locator("[data-action=devices-continue]").wait_for()

"""Plain help on the camera check when the browser blocks the camera and microphone, or
the device has no camera. Each case runs in a Chromium started for it: without the
flag that grants media (so the request is refused), or with no fake camera at all."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import pytest
from playwright.async_api import Playwright, expect

from tests.e2e.conftest import CHROMIUM_ARGS, launch_chromium
from tests.e2e.kota_server import KotaProcess, StaffApi
from tests.e2e.page_checks import TABLET_PORTRAIT, assert_accessible, screenshots
from tests.test_locales import load

pytestmark = pytest.mark.asyncio(loop_scope="session")

REFUSING = [a for a in CHROMIUM_ARGS if a != "--use-fake-ui-for-media-stream"]
NO_CAMERA = [
    "--use-fake-device-for-media-stream=device-count=0" if a.startswith("--use-fake-device") else a
    for a in CHROMIUM_ARGS
]

@pytest.mark.parametrize(
    ("args", "problem", "shot"),
    [
        (REFUSING, "denied", "24-family-camera-blocked"),
        (NO_CAMERA, "no_camera", "25-family-no-camera"),
    ],
    ids=["blocked", "no-camera"],
)
async def test_camera_check_explains_what_is_wrong(
    playwright: Playwright,
    kota_server: KotaProcess,
    staff_api: Callable[[str], Awaitable[StaffApi]],
    args: list[str],
    problem: str,
    shot: str,
) -> None:
    sanna = await staff_api("sanna")
    appointment = await sanna.appointment(("Noora Heino", "guardian"))
    browser = await launch_chromium(playwright, args)
    try:
        context = await browser.new_context(
            viewport=TABLET_PORTRAIT, base_url=kota_server.base, timezone_id="Europe/Helsinki",
            locale="fi-FI",  # the family's browser speaks Finnish
        )
        page = await context.new_page()
        await page.goto(appointment.links["Noora Heino"])
        await page.locator("[data-action=welcome-continue]").click()
        help_box = page.locator(".device-check .help")
        await expect(help_box.locator(".help-title")).to_have_text(
            load("fi")[f"devices.problem.{problem}.title"]
        )
        await expect(help_box).to_be_visible()
        await assert_accessible(page, f"the camera check ({problem})")
        await screenshots(page, shot, ("tablet-portrait", "phone"))
        # The family can still go on: without a camera they take part with sound.
        await page.locator("[data-action=devices-continue]").click()
        await expect(page.locator(".display-name")).to_have_text("Noora Heino")
    finally:
        await browser.close()

"""Works without a mouse: a family reaches the waiting room with Tab and Enter only,
and the focused control always shows a visible focus ring."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import pytest
from playwright.async_api import Page, expect

from tests.e2e.flows import OpenPage
from tests.e2e.kota_server import StaffApi
from tests.e2e.page_checks import TABLET_PORTRAIT

pytestmark = pytest.mark.asyncio(loop_scope="session")

MAX_TABS = 15
_FOCUSED = """() => {
  const el = document.activeElement;
  const style = getComputedStyle(el);
  return { action: el.dataset.action || null, ring: style.outlineStyle !== "none"
           && parseFloat(style.outlineWidth) >= 2 };
}"""


async def tab_to(page: Page, action: str) -> None:
    """Press Tab until the control named ``action`` has focus; it must show the ring."""
    for _ in range(MAX_TABS):
        await page.keyboard.press("Tab")
        focused = await page.evaluate(_FOCUSED)
        assert focused["ring"], f"no visible focus on the way to {action}: {focused}"
        if focused["action"] == action:
            return
    raise AssertionError(f"{action} is not reachable with {MAX_TABS} presses of Tab")


async def test_family_reaches_the_waiting_room_with_the_keyboard_only(
    open_page: OpenPage, staff_api: Callable[[str], Awaitable[StaffApi]]
) -> None:
    sanna = await staff_api("sanna")
    appointment = await sanna.appointment(("Oona Karvonen", "guardian"))
    page = await open_page(TABLET_PORTRAIT, name="family")
    await page.goto(appointment.links["Oona Karvonen"])
    await page.locator("#welcome-title").wait_for()
    for action in ("welcome-continue", "devices-continue", "enter-waiting-room"):
        await tab_to(page, action)
        await page.keyboard.press("Enter")
    await expect(page.locator(".waiting .position")).to_contain_text("1")

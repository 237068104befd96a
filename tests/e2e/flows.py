"""Steps several browser tests take: a family through the first screens, a
professional into the meeting room."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from pathlib import Path

from playwright.async_api import Page

from tests.e2e.kota_server import Appointment, KotaProcess, StaffApi
from tests.e2e.page_checks import TABLET_LANDSCAPE, TABLET_PORTRAIT, assert_remote_videos_play

OpenPage = Callable[..., Awaitable[Page]]
# For a ``KotaProcess(env=...)`` whose aiortc peers must gather on 127.0.0.1 only.
LOOPBACK_ICE_ENV = {"PYTHONPATH": str(Path(__file__).parent / "loopback_ice")}


async def family_to_waiting_room(page: Page, link: str) -> None:
    """Open the link and go through language, camera check and name, as a parent would."""
    await page.goto(link)
    await page.locator("[data-action=welcome-continue]").click()
    await page.locator("[data-action=devices-continue]").click()
    await page.locator("[data-action=enter-waiting-room]").click()
    await page.locator(".waiting .position").filter(has_text=re.compile(r"\d")).wait_for()


async def family_to_connection_check(page: Page, link: str) -> None:
    """Open the link and go through language and camera check to the last step, where
    the optional connection test is (views/connection_check.js)."""
    await page.goto(link)
    await page.locator("[data-action=welcome-continue]").click()
    await page.locator("[data-action=devices-continue]").click()
    await page.locator("[data-action=connection-test]").wait_for()


async def staff_into_room(page: Page, appointment: Appointment) -> None:
    await page.goto(f"/staff/call?appointment={appointment.id}")
    await page.locator("[data-action=open-room]").click()
    await page.locator(".call-view .people").wait_for()


async def admit(page: Page, name: str) -> None:
    person = page.locator(".waiting-person", has_text=name)
    await person.locator(".admit").click()
    await person.wait_for(state="detached")


async def in_call(
    open_page: OpenPage,
    staff_api: Callable[[str], Awaitable[StaffApi]],
    name: str,
    server: KotaProcess | None = None,
) -> tuple[Page, Page]:
    """A professional (tablet, landscape) and ``name`` (tablet, portrait) seeing each other."""
    sanna = await staff_api("sanna")
    appointment = await sanna.appointment((name, "guardian"))
    staff = await open_page(TABLET_LANDSCAPE, staff="sanna", name="staff", server=server)
    await staff_into_room(staff, appointment)
    family = await open_page(TABLET_PORTRAIT, name="family", server=server)
    await family_to_waiting_room(family, appointment.links[name])
    await admit(staff, name)
    await assert_remote_videos_play(family, 1)
    await assert_remote_videos_play(staff, 1)
    return staff, family

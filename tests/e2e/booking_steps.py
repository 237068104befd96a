"""Steps the booking browser tests share: a service set up through the admin API, the
links read out of the e-mails the session's Kota sent, and each page checked at tablet
and phone size (axe) with its screenshots."""

from __future__ import annotations

import itertools
import re
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from icalendar import Calendar
from playwright.async_api import Locator, Page

from tests.e2e.kota_server import StaffApi
from tests.e2e.page_checks import SIZES, assert_accessible, screenshots
from tests.mail_inbox import MailInbox, Received

StaffLogin = Callable[[str], Awaitable[StaffApi]]

_services = itertools.count(1)
# Every day of the week, the whole day: whatever the hour the test runs, there are times.
WHOLE_WEEK = [{"weekday": day, "opens": "00:00", "closes": "23:59"} for day in range(7)]


# The professional tests/e2e/kota_server.py seeds for the booking tests alone.
BOOKING_STAFF = ("liisa", "Liisa Varaaja")


async def a_free_time(page: Page, within: str = ".free-day") -> Locator:
    """The first offered start at least ten minutes ahead. With no notice the first offer
    may start within seconds, and a start that passes while the test books it is rightly
    refused ("someone just booked this time"), at every half hour."""
    buttons = page.locator(f"{within} .time-button")
    await buttons.first.wait_for()
    starts: list[str] = await buttons.evaluate_all(
        "(els) => els.map((el) => el.dataset.startsAt)")
    soon = datetime.now(UTC) + timedelta(minutes=10)
    chosen = next(start for start in starts if datetime.fromisoformat(start) >= soon)
    return page.locator(f'{within} .time-button[data-starts-at="{chosen}"]')


async def booking_service(admin: StaffApi, prefix: str) -> dict[str, Any]:
    """A service served by the booking tests' professional all day every day, bookable at
    once (no notice), changeable until the start (no cut-off), 30-minute slots."""
    staff = await admin.call("GET", "/api/staff")
    staff_id = next(s["id"] for s in staff["staff"] if s["display_name"] == BOOKING_STAFF[1])
    service: dict[str, Any] = await admin.call("POST", "/api/services", {
        "slug": f"{prefix}-{next(_services)}",
        "name": "Perheneuvola, Inari",
        "slot_minutes": 30,
        "buffer_minutes": 0,
        "notice_minutes": 0,
        "horizon_days": 30,
        "max_per_day": 100,
        "hold_minutes": 10,
        "cutoff_minutes": 0,
        "kinds": ["family_counselling"],
        "staff_ids": [staff_id],
    })
    await admin.call("PUT", f"/api/services/{service['id']}/hours",
                     {"hours": [{**h, "staff_id": staff_id} for h in WHOLE_WEEK]})
    return service


_LINK = re.compile(r"https?://[^\s<>\"]+/(?:book/confirm|book/manage|join)#[A-Za-z0-9._-]+")


async def choose_language(page: Page, code: str) -> None:
    if await page.evaluate("() => document.documentElement.lang") != code:
        await page.select_option("#language-select", code)
    await page.wait_for_function(f"() => document.documentElement.lang === '{code}'")


def links_in(mail: Received, path: str) -> list[str]:
    """The links to ``path`` (``/book/confirm``, ``/join``, ...) in the e-mail's plain text."""
    return [link for link in _LINK.findall(mail.text) if f"{path}#" in link]


def calendar_of(mail: Received) -> Calendar | None:
    data = mail.attachment("text/calendar")
    return None if data is None else Calendar.from_ical(data)


def calendar_method(mail: Received) -> str | None:
    calendar = calendar_of(mail)
    return None if calendar is None else str(calendar.get("METHOD"))


def calendar_start(mail: Received) -> datetime | None:
    calendar = calendar_of(mail)
    if calendar is None:
        return None
    for event in calendar.walk("VEVENT"):
        start: datetime = event.decoded("DTSTART")
        return start
    return None


async def wait_for_mail(inbox: MailInbox, address: str, what: str,
                        predicate: Callable[[Received], bool]) -> Received:
    return await inbox.wait_for(lambda m: address in m.recipients and predicate(m),
                                timeout=60, what=what)


async def check_page(page: Page, name: str,
                     sizes: tuple[str, ...] = ("tablet-portrait", "phone")) -> None:
    """axe at each size (a tablet and a phone), and screenshots; the first size is the
    one docs/screenshots keeps (KOTA_UPDATE_SCREENSHOTS=1)."""
    original = page.viewport_size
    for size in sizes:
        await page.set_viewport_size(SIZES[size])
        await assert_accessible(page, f"{name} at {size}")
    if original:
        await page.set_viewport_size(original)
    await screenshots(page, name, sizes)

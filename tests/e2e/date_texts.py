"""Dates and times as Kota's pages should show them (from the locale files, in the
server's zone), and the check that a page shows no English or "M12"-style fallback."""

from __future__ import annotations

import re
from datetime import datetime
from zoneinfo import ZoneInfo

from playwright.async_api import Page

from tests.test_locales import load

SERVER_ZONE = ZoneInfo("Europe/Helsinki")  # KOTA_TIMEZONE of the test server
LANGUAGES = ("fi", "sv", "en", "se")

ENGLISH_DATE_WORD = re.compile(
    r"\b(Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday"
    r"|Mon|Tue|Tues|Wed|Thu|Thur|Thurs|Fri|Sat|Sun"
    r"|January|February|March|April|May|June|July|August|September|October|November|December"
    r"|Jan|Feb|Mar|Apr|Jun|Jul|Aug|Sep|Sept|Oct|Nov|Dec|AM|PM)\b"
)
# What Chromium writes for a month it has no name for in a locale it lacks ("M12 4").
FALLBACK_MONTH = re.compile(r"\bM\d{1,2}\b")


def _fill(pattern: str, **values: str) -> str:
    return re.sub(r"\{(\w+)\}", lambda m: values.get(m.group(1), m.group(0)), pattern)


def date_text(code: str, moment: datetime) -> str:
    """"perjantai 5. joulukuuta" for ``moment`` in the server's zone."""
    texts = load(code)
    local = moment.astimezone(SERVER_ZONE)
    return _fill(
        texts["dates.date"],
        weekday=texts[f"dates.weekday.{local.isoweekday()}"],
        day=str(local.day),
        month=texts[f"dates.month.{local.month}"],
        year=str(local.year),
    )


def time_text(code: str, moment: datetime) -> str:
    """"9.45" for ``moment`` in the server's zone (without the zone in words)."""
    local = moment.astimezone(SERVER_ZONE)
    return _fill(load(code)["dates.time"], hour=str(local.hour), minute=f"{local.minute:02d}")


async def visible_text(page: Page) -> str:
    text: str = await page.evaluate("() => document.body.innerText")
    return text


async def assert_no_date_fallback(page: Page, code: str, what: str) -> None:
    """No English weekday or month name (outside English), no "M12", and the page's
    language is ``code``."""
    assert await page.evaluate("() => document.documentElement.lang") == code, what
    text = await visible_text(page)
    assert not FALLBACK_MONTH.findall(text), f"{what} in {code}: a fallback month in {text!r}"
    if code != "en":
        found = ENGLISH_DATE_WORD.findall(text)
        assert not found, f"{what} in {code}: English date words {found} in {text!r}"

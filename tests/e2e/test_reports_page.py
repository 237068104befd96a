"""The administrator's organisation report (#/reports) and the travel set-up, in Chromium
against a real server whose clock the test sets: appointments are made through the API
in past months, and their call rows are written by the server's own usage log on that
clock (as the call writes them). The charts must show what the API counts, a filter and
another range change them, CSV and Excel download and parse, travel distances are set
on a service and used in the appointment form; professionals get no report page."""

from __future__ import annotations

import csv
import io
import math
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import aiohttp
import openpyxl
import pytest
import pytest_asyncio
from aiohttp.test_utils import TestServer
from playwright.async_api import Browser, Page, ViewportSize, expect

from server.app import create_app
from server.app_keys import AUDIT
from server.audit import SYSTEM, Action, Actor
from server.settings import load_settings
from signalling.effects import CallAction
from tests.conftest import PASSWORD, free_port
from tests.e2e.booking_steps import check_page
from tests.e2e.kota_server import STAFF, seed_staff
from tests.e2e.page_checks import (
    PHONE,
    RECORD_CONNECTIONS,
    SIZES,
    TABLET_LANDSCAPE,
    TABLET_PORTRAIT,
    screenshots,
)
from tests.test_locales import load

pytestmark = pytest.mark.asyncio(loop_scope="session")

HELSINKI = ZoneInfo("Europe/Helsinki")
STAFF_SIZES = ("tablet-landscape", "tablet-portrait", "phone")
INARI = {"municipality": "Inari", "km": 42.0, "minutes": 45}
UTSJOKI = {"municipality": "Utsjoki", "km": 160.5, "minutes": 130}


class Clock:
    """The server's clock: real time plus an offset the test sets."""

    def __init__(self) -> None:
        self.offset = timedelta(0)

    def __call__(self) -> datetime:
        return datetime.now(UTC) + self.offset

    def set(self, moment: datetime) -> None:
        self.offset = moment - datetime.now(UTC)

    def reset(self) -> None:
        self.offset = timedelta(0)


def month_of(moment: datetime) -> str:
    return moment.astimezone(HELSINKI).strftime("%Y-%m")


def add_months(month: str, n: int) -> str:
    year, number = map(int, month.split("-"))
    index = year * 12 + number - 1 + n
    return f"{index // 12:04d}-{index % 12 + 1:02d}"


def local(month: str, day: int, hour: int) -> datetime:
    year, number = map(int, month.split("-"))
    return datetime(year, number, day, hour, 0, tzinfo=HELSINKI)


class Admin:
    """The administrator's HTTP session (cookie and CSRF header), as the pages have it."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.http = aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))
        self.csrf = ""

    async def sign_in(self, username: str = "admin") -> Admin:
        async with self.http.post(f"{self.base}/api/session",
                                  json={"username": username, "password": PASSWORD}) as resp:
            body = await resp.json()
            assert resp.status == 201, body
            self.csrf = body["csrf_token"]
        return self

    async def call(self, method: str, path: str, body: Any = None) -> Any:
        async with self.http.request(method, f"{self.base}{path}", json=body,
                                     headers={"X-CSRF-Token": self.csrf}) as resp:
            data = await resp.json() if resp.status != 204 else None
            assert resp.status < 300, (method, path, resp.status, data)
            return data


@dataclass
class ReportServer:
    base: str
    clock: Clock
    service: dict[str, Any]
    staff: dict[str, int]
    this_month: str


async def _appointment(admin: Admin, clock: Clock, starts: datetime, host: int, kind: str,
                       **travel: Any) -> dict[str, Any]:
    """Made an hour before it starts (the server refuses a start in the past)."""
    clock.set(starts - timedelta(hours=1))
    made: dict[str, Any] = await admin.call("POST", "/api/appointments", {
        "starts_at": starts.isoformat(), "ends_at": (starts + timedelta(minutes=60)).isoformat(),
        "kind": kind, "host_id": host,
        "participants": [{"display_name": "Laura", "role": "guardian"}],
        **travel,
    })
    return made


async def _call(app_audit: Any, clock: Clock, appointment: dict[str, Any], host: int,
                waited_s: int, minutes: int, verdict: str) -> None:
    """A family member runs the connection test, waits, is let in and talks: the rows the
    call writes, each at its moment on the server's clock."""
    start = datetime.fromisoformat(appointment["starts_at"])
    person = appointment["participants"][0]["id"]
    aid = appointment["id"]
    steps: list[tuple[datetime, Actor, str, int | None, dict[str, Any] | None]] = [
        (start - timedelta(minutes=3), Actor.participant(person),
         Action.CONNECTION_TEST_COMPLETED, person, {"verdict": verdict}),
        (start, Actor.staff(host), CallAction.CALL_JOINED, None, None),
        (start, Actor.participant(person), CallAction.WAITING_ENTERED, None, None),
        (start + timedelta(seconds=waited_s), Actor.staff(host), CallAction.ADMISSION_ADMITTED,
         person, None),
        (start + timedelta(seconds=waited_s), Actor.participant(person), CallAction.CALL_JOINED,
         None, None),
        (start + timedelta(seconds=waited_s, minutes=minutes), Actor.participant(person),
         CallAction.CALL_LEFT, None, None),
        (start + timedelta(seconds=waited_s, minutes=minutes), Actor.staff(host),
         CallAction.CALL_LEFT, None, None),
    ]
    for at, actor, action, subject, detail in steps:
        clock.set(at)
        await app_audit.record(actor, str(action), aid, subject, detail)


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def report_server(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[ReportServer]:
    """A server with two past months of appointments, calls and a contact line."""
    data = tmp_path_factory.mktemp("kota-reports")
    port = free_port()
    settings = load_settings({
        "KOTA_DATA_DIR": str(data), "KOTA_HOST": "127.0.0.1", "KOTA_PORT": str(port),
        "KOTA_PUBLIC_URL": f"http://127.0.0.1:{port}", "KOTA_TIMEZONE": "Europe/Helsinki",
    })
    await seed_staff(settings.db_path)
    clock = Clock()
    app = create_app(settings, clock)
    server = TestServer(app, host="127.0.0.1", port=port)
    await server.start_server()
    base = f"http://127.0.0.1:{port}"
    admin = await Admin(base).sign_in()
    try:
        names = {name: username for username, name, _ in STAFF}
        staff = {names[s["display_name"]]: s["id"]
                 for s in (await admin.call("GET", "/api/staff"))["staff"]}
        service = await admin.call("POST", "/api/services", {
            "slug": "perheneuvola-inari", "name": "Perheneuvola, Inari", "slot_minutes": 30,
            "buffer_minutes": 0, "notice_minutes": 60, "horizon_days": 30, "max_per_day": 8,
            "hold_minutes": 10, "cutoff_minutes": 1440, "kinds": ["family_counselling"],
            "staff_ids": [staff["sanna"]]})
        await admin.call("PUT", f"/api/services/{service['id']}/travel",
                         {"distances": [UTSJOKI, INARI]})
        this_month = month_of(datetime.now(UTC))
        two_ago, one_ago = add_months(this_month, -2), add_months(this_month, -1)
        audit = app[AUDIT]
        sanna, pekka = staff["sanna"], staff["pekka"]
        with_service = {"service_id": service["id"]}
        a1 = await _appointment(admin, clock, local(two_ago, 10, 10), sanna, "family_counselling",
                                municipality="Inari", **with_service)
        a2 = await _appointment(admin, clock, local(two_ago, 11, 10), sanna, "family_counselling",
                                municipality="Utsjoki", **with_service)
        await _appointment(admin, clock, local(two_ago, 12, 10), sanna, "family_counselling",
                           municipality="Inari", **with_service)  # nobody comes
        a6 = await _appointment(admin, clock, local(two_ago, 13, 14), sanna, "school_meeting")
        a4 = await _appointment(admin, clock, local(one_ago, 5, 12), pekka, "school_meeting",
                                municipality="Karasjok", travel_km=80, travel_minutes=70)
        a5 = await _appointment(admin, clock, local(one_ago, 6, 12), sanna, "child_protection")
        await admin.call("POST", f"/api/appointments/{a5['id']}/cancel")
        await _call(audit, clock, a1, sanna, waited_s=120, minutes=30, verdict="good")
        await _call(audit, clock, a2, sanna, waited_s=300, minutes=20, verdict="audio_only")
        await _call(audit, clock, a4, pekka, waited_s=60, minutes=45, verdict="good")
        await _call(audit, clock, a6, sanna, waited_s=30, minutes=10, verdict="too_weak")
        line = await admin.call("POST", "/api/lines", {
            "slug": "nuoret", "name": "Nuorten chat", "kind": "public", "modes": "both",
            "queue_cap": 20, "grace_minutes": 10, "callback_after_minutes": 5,
            "staff_ids": [sanna], "closures": [],
            "hours": [{"weekday": d, "opens": "08:00", "closes": "20:00"} for d in range(7)]})
        line_id = (line.get("line") or line)["id"]
        clock.set(local(one_ago, 8, 9))
        await audit.record(Actor.staff(sanna), "line.taken",
                           detail={"line": line_id, "waited_s": 90})
        await audit.record(Actor.staff(sanna), "line.ended",
                           detail={"line": line_id, "served_s": 600})
        await audit.record(SYSTEM, "line.left",
                           detail={"line": line_id, "reason": "left", "waited_s": 400})
        clock.reset()
        yield ReportServer(base, clock, service, staff, this_month)
    finally:
        await admin.http.close()
        await server.close()


@pytest_asyncio.fixture(loop_scope="session")
async def admin_api(report_server: ReportServer) -> AsyncIterator[Admin]:
    admin = await Admin(report_server.base).sign_in()
    yield admin
    await admin.http.close()


class Pages:
    """Browser contexts signed in as staff; page errors and missing texts fail the test."""

    def __init__(self, browser: Browser, base: str) -> None:
        self.browser = browser
        self.base = base
        self.contexts: list[Any] = []
        self.errors: list[str] = []

    async def open(self, viewport: ViewportSize, staff: str) -> Page:
        context = await self.browser.new_context(
            viewport=viewport, timezone_id="Europe/Helsinki", locale="fi-FI",
            base_url=self.base, accept_downloads=True)
        self.contexts.append(context)
        await context.add_init_script(RECORD_CONNECTIONS)
        resp = await context.request.post("/api/session",
                                          data={"username": staff, "password": PASSWORD})
        assert resp.status == 201, await resp.text()
        page = await context.new_page()
        page.on("pageerror", lambda error: self.errors.append(str(error)))
        page.on("console", lambda msg: self.errors.append(msg.text)
                if msg.text.startswith("kota: missing text") else None)
        return page


@pytest_asyncio.fixture(loop_scope="session")
async def pages(browser: Browser, report_server: ReportServer) -> AsyncIterator[Pages]:
    opened = Pages(browser, report_server.base)
    yield opened
    for context in opened.contexts:
        await context.close()
    assert not opened.errors, f"errors in the pages: {opened.errors}"


async def shown_values(page: Page, selector: str) -> dict[str, float]:
    """``data-month`` → ``data-value`` of the bars matching ``selector``."""
    found: dict[str, float] = await page.evaluate(
        """(selector) => Object.fromEntries([...document.querySelectorAll(selector)]
             .map((el) => [el.dataset.month, Number(el.dataset.value)]))""", selector)
    return found


def minutes_of(seconds: int) -> float:
    """As the page shows seconds: minutes to one decimal, halves up."""
    return math.floor(seconds / 6 + 0.5) / 10


def per_month(rows: list[dict[str, Any]], field: str) -> dict[str, float]:
    sums: dict[str, float] = {}
    for row in rows:
        sums[row["month"]] = round(sums.get(row["month"], 0) + row[field], 2)
    return {m: v for m, v in sums.items() if v}


async def shot_of(page: Page, name: str, selector: str, sizes: tuple[str, ...]) -> None:
    """Screenshots with ``selector`` at the top of the screen, at each size."""
    original = page.viewport_size
    for size in sizes:
        await page.set_viewport_size(SIZES[size])
        await page.locator(selector).evaluate("(el) => el.scrollIntoView({block: 'start'})")
        await screenshots(page, name, (size,))
    if original:
        await page.set_viewport_size(original)


async def choose(page: Page, selector: str, value: str) -> None:
    """A "show only" choice, then the server's answer drawn (the page is busy till then)."""
    await page.locator(selector).select_option(value)
    await expect(page.locator(".reports")).not_to_have_attribute("aria-busy", "true")


async def fact(page: Page, field: str) -> str:
    value: str = await page.locator(f".report-fact[data-field={field}] dd").get_attribute(
        "data-value") or ""
    return value


async def test_admin_reads_the_report_filters_it_and_downloads_it(
    pages: Pages, report_server: ReportServer, admin_api: Admin, tmp_path: Path
) -> None:
    texts = load("fi")
    month = report_server.this_month
    page = await pages.open(TABLET_LANDSCAPE, "admin")
    await page.goto("/staff#/reports")
    await expect(page.locator("#reports-title")).to_have_text(texts["reports.title"])
    await page.locator(".report-facts").wait_for()
    assert await page.locator("#r-from").input_value() == add_months(month, -11)
    assert await page.locator("#r-to").input_value() == month

    api = await admin_api.call(
        "GET", f"/api/reports/organisation?from={add_months(month, -11)}&to={month}")
    totals = api["totals"]
    assert (totals["held"], totals["cancelled"], totals["no_show"]) == (4, 1, 1)
    for field in ("appointments", "held", "cancelled", "no_show", "travel_km", "travel_hours",
                  "participants_joined"):
        assert float(await fact(page, field)) == totals[field], field
    assert float(await fact(page, "lines_served")) == 1
    assert float(await fact(page, "lines_left")) == 1
    # Each bar is the API's figure for its month; months without any have no bar.
    for series in ("held", "cancelled", "no_show"):
        bars = await shown_values(
            page, f"[data-chart=chart-appointments] rect[data-series={series}]")
        assert bars == per_month(api["rows"], series), series
    assert await shown_values(page, "[data-chart=chart-travel-km] rect") == per_month(
        api["rows"], "travel_km")
    waits = await shown_values(page, "[data-chart=chart-waiting] rect[data-series=waiting_median]")
    # Each month's median is the server's, counted over all of the month's waits.
    assert [m["month"] for m in api["months"]] == [add_months(month, n) for n in range(-11, 1)]
    assert waits == {m["month"]: minutes_of(m["waiting_median_s"]) for m in api["months"]
                     if m["waiting_median_s"] is not None}
    assert waits[add_months(month, -2)] == 2.0  # the median of 120 s, 120 s and 30 s
    # The same figures in the chart's table, one row per month of the range.
    table = page.locator("[data-chart=chart-appointments] table")
    await expect(table.locator("tbody tr")).to_have_count(12)
    held_cells = await table.locator("td[data-series=held]").evaluate_all(
        "(cells) => cells.map((c) => Number(c.dataset.value))")
    assert sum(held_cells) == totals["held"]
    await page.locator("[data-chart=chart-appointments] summary").click()
    await expect(table).to_be_visible()
    await page.evaluate("() => window.scrollTo(0, 0)")
    await check_page(page, "reports-fi", STAFF_SIZES)
    await shot_of(page, "reports-totals-fi", "#totals-title", ("tablet-landscape", "phone"))
    await shot_of(page, "reports-charts-fi", "#charts-title", ("tablet-landscape", "phone"))
    await shot_of(page, "reports-table-fi", "[data-chart=chart-appointments]",
                  ("tablet-portrait",))

    # The months add up to the totals (minutes, km and hours are rounded per month).
    for field in ("appointments", "held", "cancelled", "no_show", "participants_joined",
                  "travel_unknown", "waits_counted", "sound_only_switches"):
        assert sum(m[field] for m in api["months"]) == totals[field], field
    for field, unit in (("participant_minutes", 0.1), ("travel_km", 0.1), ("travel_hours", 0.01)):
        assert abs(sum(m[field] for m in api["months"]) - totals[field]) <= unit / 2 * 12 + 1e-9

    # Only Pekka: his one meeting, with its own travel (2 x 80 km).
    pekka = str(report_server.staff["pekka"])
    await choose(page, "#r-staff", pekka)
    assert float(await fact(page, "held")) == 1
    assert float(await fact(page, "travel_km")) == 160
    assert float(await fact(page, "lines_served")) == 0
    bars = await shown_values(page, "[data-chart=chart-appointments] rect[data-series=held]")
    assert bars == {add_months(month, -1): 1}
    # Only Sanna: two groups with waits in one month, still counted exactly by the server;
    # the downloads follow the choice.
    sanna = str(report_server.staff["sanna"])
    await choose(page, "#r-staff", sanna)
    await expect(page.locator("[data-action=download-csv]")).to_have_attribute(
        "href", re.compile(f"staff={sanna}"))
    assert float(await fact(page, "held")) == 3
    only_sanna = await admin_api.call(
        "GET", f"/api/reports/organisation?from={add_months(month, -11)}&to={month}"
        f"&staff={sanna}")
    assert only_sanna["totals"]["held"] == 3
    for field in ("waiting_median", "waiting_p90"):
        assert float(await fact(page, field)) == minutes_of(
            only_sanna["totals"][f"{field}_s"]), field
    assert await shown_values(
        page, "[data-chart=chart-waiting] rect[data-series=waiting_median]") == {
        m["month"]: minutes_of(m["waiting_median_s"]) for m in only_sanna["months"]
        if m["waiting_median_s"] is not None}
    await expect(page.locator(".report-summary")).not_to_contain_text("≈")
    # A choice stays offered while it is chosen.
    await expect(page.locator("#r-staff option")).to_have_count(
        1 + len(api["choices"]["staff"]))
    await choose(page, "#r-staff", "")
    await choose(page, "#r-kind", "family_counselling")
    assert float(await fact(page, "held")) == 2
    assert float(await fact(page, "no_show")) == 1
    # One group (Sanna's family counselling in one month): its waits are exact, 2 and 5 min.
    assert (float(await fact(page, "waiting_median")), float(await fact(page, "waiting_p90"))) == (
        2, 5)
    await choose(page, "#r-kind", "")

    # Another range: the last two months only.
    await page.locator("#r-from").fill(add_months(month, -1))
    await page.locator("[data-action=show-report]").click()
    await expect(page.locator("[data-chart=chart-appointments] tbody tr")).to_have_count(2)
    shorter = await admin_api.call(
        "GET", f"/api/reports/organisation?from={add_months(month, -1)}&to={month}")
    assert float(await fact(page, "appointments")) == shorter["totals"]["appointments"] == 2
    assert float(await fact(page, "cancelled")) == 1

    # Months with nothing in them say so, with every figure zero.
    await page.locator("#r-from").fill("2020-01")
    await page.locator("#r-to").fill("2020-03")
    await page.locator("[data-action=show-report]").click()
    await expect(page.locator(".report-content > .notice")).to_have_text(texts["reports.empty"])
    assert float(await fact(page, "appointments")) == 0
    await expect(page.locator("[data-chart=chart-appointments] tbody tr")).to_have_count(3)
    await page.locator("#r-to").fill(month)

    # A range the other way round is refused on the page, without asking the server.
    await page.locator("#r-from").fill(add_months(month, 1))
    await page.locator("[data-action=show-report]").click()
    await expect(page.locator(".reports .notice.error")).to_have_text(texts["reports.range_error"])
    await page.locator("#r-from").fill(add_months(month, -1))

    # Downloads of the chosen range.
    async with page.expect_download() as csv_download:
        await page.locator("[data-action=download-csv]").click()
    got = await csv_download.value
    assert got.suggested_filename == f"kota-report-{add_months(month, -1)}-{month}.csv"
    path = tmp_path / "report.csv"
    await got.save_as(path)
    lines = list(csv.reader(io.StringIO(path.read_text("utf-8-sig"))))
    header = lines[0]
    assert header[:2] == ["month", "service_id"]
    # The appointment rows end at the first empty line (the line rows follow).
    rows = [dict(zip(header, line, strict=True)) for line in lines[1:lines.index([])]]
    assert [r["held"] for r in rows if r["month"] == "total"] == ["1"]
    assert sum(int(r["held"]) for r in rows if r["month"] != "total") == 1

    async with page.expect_download() as xlsx_download:
        await page.locator("[data-action=download-xlsx]").click()
    got = await xlsx_download.value
    assert got.suggested_filename.endswith(".xlsx")
    path = tmp_path / "report.xlsx"
    await got.save_as(path)
    book = openpyxl.load_workbook(path, read_only=True)
    assert set(book.sheetnames) >= {"report", "lines"}
    sheet_rows = list(book["report"].iter_rows(values_only=True))
    columns = list(sheet_rows[0])
    held_at = columns.index("held")
    months_at = columns.index("month")
    assert sum(r[held_at] for r in sheet_rows[1:] if r[months_at] != "total") == 1


async def test_travel_distances_are_set_and_used_in_the_appointment_form(
    pages: Pages, report_server: ReportServer, admin_api: Admin
) -> None:
    texts = load("fi")
    service_id = report_server.service["id"]
    page = await pages.open(TABLET_PORTRAIT, "admin")
    await page.goto(f"/staff#/services/{service_id}")
    travel = page.locator(".service-travel")
    rows = travel.locator(".travel-row")
    await expect(rows).to_have_count(2)
    await expect(rows.nth(0).locator(".t-municipality")).to_have_value("Inari")
    # The same municipality twice is refused by the server, said in words, nothing saved.
    await travel.locator("[data-action=add-travel]").click()
    await rows.nth(2).locator(".t-municipality").fill(" inari ")
    await rows.nth(2).locator(".t-km").fill("1")
    await rows.nth(2).locator(".t-minutes").fill("1")
    await travel.locator("[data-action=save-travel]").click()
    await expect(travel.locator(".notice.error")).to_have_text(texts["error.invalid_field"])
    assert len((await admin_api.call("GET", f"/api/services/{service_id}/travel"))[
        "distances"]) == 2
    await rows.nth(2).locator("[data-action=remove-travel]").click()
    # Utsjoki goes, Enontekiö comes.
    await rows.nth(1).locator("[data-action=remove-travel]").click()
    await travel.locator("[data-action=add-travel]").click()
    new = rows.nth(1)
    await new.locator(".t-municipality").fill("Enontekiö")
    await new.locator(".t-km").fill("230.5")
    await new.locator(".t-minutes").fill("180")
    await travel.locator("[data-action=save-travel]").click()
    await expect(travel.locator(".notice")).to_have_text(texts["travel.saved"])
    saved = await admin_api.call("GET", f"/api/services/{service_id}/travel")
    assert saved["distances"] == [
        {"municipality": "Enontekiö", "km": 230.5, "minutes": 180}, INARI]
    await travel.scroll_into_view_if_needed()
    await check_page(page, "services-travel-fi", ("tablet-portrait", "tablet-landscape", "phone"))

    # The appointment form offers the service's municipalities and tells the distance.
    await page.goto("/staff#/new")
    await page.locator(f"#f-service option[value='{service_id}']").wait_for(state="attached")
    await page.locator("#f-service").select_option(str(service_id))
    await expect(page.locator("#f-municipalities option")).to_have_count(2)
    await page.locator("#f-municipality").fill("Enontekiö")
    await expect(page.locator("#f-configured")).to_contain_text("230,5 km")
    await page.locator("#f-travel-km").fill("50")
    # Beyond every range the other tests read, so the order of the tests does not matter.
    later = (datetime.now(HELSINKI) + timedelta(days=400)).date().isoformat()
    await page.locator("#f-date").fill(later)
    await page.locator(".appointment-travel").scroll_into_view_if_needed()
    await check_page(page, "appointment-form-travel-fi", ("tablet-portrait", "phone"))
    await page.locator("button[type=submit]").click()
    await page.wait_for_url("**/staff#/appointment/*")
    appointment_id = int(page.url.rsplit("/", 1)[1])
    made = await admin_api.call("GET", f"/api/appointments/{appointment_id}")
    assert (made["service_id"], made["municipality"], made["travel_km"],
            made["travel_minutes"]) == (service_id, "Enontekiö", 50, None)
    facts = page.locator("dl.facts")
    await expect(facts.locator(".travel-municipality")).to_have_text("Enontekiö")
    await expect(facts.locator(".travel-own")).to_contain_text("50 km")
    await expect(facts.locator(".travel-service")).to_have_text("Perheneuvola, Inari")
    await check_page(page, "appointment-travel-fi", ("tablet-portrait", "phone"))

    # Editing keeps them, and clearing the own distance goes back to the service's.
    await page.goto(f"/staff#/appointment/{appointment_id}/edit")
    await expect(page.locator("#f-municipality")).to_have_value("Enontekiö")
    await expect(page.locator("#f-service")).to_have_value(str(service_id))
    await page.locator("#f-travel-km").fill("")
    await page.locator("button[type=submit]").click()
    await expect(page.locator(".travel-own")).to_have_text(texts["travel.uses_service"])
    made = await admin_api.call("GET", f"/api/appointments/{appointment_id}")
    assert made["travel_km"] is None and made["municipality"] == "Enontekiö"


async def test_professionals_get_no_report_page_but_pick_a_service(
        pages: Pages, report_server: ReportServer) -> None:
    """No report for a professional; the appointment form still offers the services (the
    list is open to all staff) and the appointment page names the chosen one."""
    service_id = report_server.service["id"]
    page = await pages.open(PHONE, "sanna")
    await page.goto("/staff#/reports")
    await page.locator("#day-title").wait_for()
    assert await page.locator("a[href='#/reports']").count() == 0
    assert await page.locator("#reports-title").count() == 0
    await page.goto("/staff#/new")
    await page.locator(f"#f-service option[value='{service_id}']").wait_for(state="attached")
    await page.locator("#f-service").select_option(str(service_id))
    await page.locator("#f-municipality").fill("Inari")
    later = (datetime.now(HELSINKI) + timedelta(days=420)).date().isoformat()
    await page.locator("#f-date").fill(later)
    await page.locator("button[type=submit]").click()
    await page.wait_for_url("**/staff#/appointment/*")
    await expect(page.locator("dl.facts .travel-service")).to_have_text("Perheneuvola, Inari")


async def test_report_page_follows_a_language_change(
    pages: Pages, report_server: ReportServer
) -> None:
    """Changed to North Sámi in the header, every text of the page and of the charts
    (drawn into the SVG) is the Sámi one, and the page stays axe-clean on a phone."""
    sami = load("se")
    page = await pages.open(PHONE, "admin")
    await page.goto("/staff#/reports")
    await page.locator(".report-facts").wait_for()
    await page.locator("#language-select").select_option("se")
    await expect(page.locator("#reports-title")).to_have_text(sami["reports.title"])
    chart = page.locator("[data-chart=chart-tests]")
    await expect(chart.locator("h3")).to_have_text(sami["reports.chart_tests"])
    await expect(chart.locator(".chart-legend")).to_contain_text(sami["reports.verdict.audio_only"])
    await expect(chart.locator("summary")).to_have_text(sami["reports.show_table"])
    await expect(page.locator("#r-kind option").first).to_have_text(sami["reports.all_kinds"])
    bar = chart.locator("rect[data-series=audio_only] title")
    await expect(bar).to_contain_text(sami["reports.verdict.audio_only"])
    await chart.locator("summary").click()
    await expect(chart.locator("thead")).to_contain_text(sami["reports.month"])
    await check_page(page, "reports-se", ("phone", "tablet-portrait"))

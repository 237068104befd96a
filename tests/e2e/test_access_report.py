"""The client's access report in the browser: a family member's "Who has handled my
information" from their own join link (also after the appointment, never the camera,
the token never in a URL), and registry staff's report by contact with its PDF."""

from __future__ import annotations

import asyncio
import io
import itertools
import re
import sqlite3
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt
import pytest
from playwright.async_api import Page, Request, expect
from pypdf import PdfReader

from server.join_tokens import ALGORITHM, SigningKey
from server.passwords import hash_password
from tests.conftest import PASSWORD
from tests.e2e.flows import OpenPage, admit, family_to_waiting_room, staff_into_room
from tests.e2e.kota_server import Appointment, KotaProcess, StaffApi
from tests.e2e.page_checks import (
    PHONE,
    TABLET_LANDSCAPE,
    TABLET_PORTRAIT,
    assert_accessible,
    assert_remote_videos_play,
    screenshots,
)
from tests.e2e.test_too_early import COUNT_CAMERA_REQUESTS, camera_requests
from tests.test_locales import load

pytestmark = pytest.mark.asyncio(loop_scope="session")

TITLE = "Sosiaalityöntekijä"
TEXT = "Tulen hetken päästä."  # a waiting-room text: the report says that, never what
REGISTRY_USER = ("rauni", "Rauni Kirjaaja", "Kirjaaja")
_contacts = itertools.count(1)


def _db(kota: KotaProcess) -> sqlite3.Connection:
    return sqlite3.connect(kota.data_dir / "kota.sqlite3", timeout=30)


async def staff_titles(kota: KotaProcess) -> None:
    """Sanna's job title, and a registry account (``kota staff add --title --registry``)."""
    username, name, title = REGISTRY_USER
    hashed = hash_password(PASSWORD)

    def write() -> None:
        with _db(kota) as conn:
            conn.execute("UPDATE staff SET title = ? WHERE username = 'sanna'", (TITLE,))
            conn.execute(
                "INSERT OR IGNORE INTO staff (username, display_name, role, password_hash,"
                " created_at, title, registry) VALUES (?, ?, 'professional', ?, ?, ?, 1)",
                (username, name, hashed, "2026-01-01T00:00:00Z", title))

    await asyncio.to_thread(write)


async def appointment_with_contact(sanna: StaffApi, name: str) -> tuple[dict[str, Any], str, str]:
    """A child-protection appointment whose one person has an e-mail contact; the
    appointment, the person's link and the contact."""
    contact = f"perhe.{next(_contacts)}.{datetime.now(UTC).timestamp():.0f}@example.fi"
    start = sanna.kota.next_start()
    created = await sanna.call("POST", "/api/appointments", {
        "starts_at": start.isoformat(),
        "ends_at": (start + timedelta(minutes=30)).isoformat(),
        "kind": "child_protection",
        "participants": [{"display_name": name, "role": "guardian", "contact": contact}],
    })
    pid = created["participants"][0]["id"]
    link = await sanna.call("GET", f"/api/appointments/{created['id']}/participants/{pid}/link")
    return created, link["url"], contact


async def opened_appointment(
    kota: KotaProcess, staff_api: Callable[[str], Awaitable[StaffApi]], name: str
) -> tuple[StaffApi, dict[str, Any], str, str]:
    """Sanna (with her job title) makes an appointment for ``name`` and opens it."""
    await staff_titles(kota)
    sanna = await staff_api("sanna")
    created, link, contact = await appointment_with_contact(sanna, name)
    await sanna.call("GET", f"/api/appointments/{created['id']}")
    return sanna, created, link, contact


def entry_text(code: str, what: str, who: str = "Sanna Aikio", role: str = "sosiaalityöntekijä"
               ) -> str:
    """The start of a family's entry: "Sanna Aikio, sosiaalityöntekijä, avasi tietosi"."""
    texts = load(code)
    return (texts["access.entry"].split("{when}")[0]
            .replace("{who}", who).replace("{role}", role)
            .replace("{action}", texts[f"access.family.what.{what}"]))


def record_urls(page: Page) -> list[str]:
    urls: list[str] = []

    def seen(request: Request) -> None:
        urls.append(request.url)

    page.on("request", seen)
    return urls


def token_of(link: str) -> str:
    return link.split("#", 1)[1]


async def test_family_sees_who_handled_their_information(
    open_page: OpenPage, staff_api: Callable[[str], Awaitable[StaffApi]],
    kota_server: KotaProcess,
) -> None:
    sanna, created, link, _ = await opened_appointment(kota_server, staff_api, "Eeva Saraste")
    await sanna.call("PATCH", f"/api/appointments/{created['id']}",
                     {"kind": "family_counselling"})  # changed

    # A real admission and call: Sanna lets Eeva in and they see each other.
    staff = await open_page(TABLET_LANDSCAPE, staff="sanna", name="staff")
    await staff_into_room(staff, Appointment(created["id"], datetime.now(UTC),
                                             created["participants"], {}))
    caller = await open_page(TABLET_PORTRAIT, name="family-call")
    await family_to_waiting_room(caller, link)
    await staff.locator("#message-text").fill(TEXT)
    await staff.locator(".message-form .send-one").click()
    await expect(caller.locator(".staff-message-text")).to_have_text(TEXT)
    await admit(staff, "Eeva Saraste")
    await assert_remote_videos_play(caller, 1)

    # Later, on another device: the link's first page, then the report.
    family = await open_page(TABLET_PORTRAIT, name="family", init_script=COUNT_CAMERA_REQUESTS)
    urls = record_urls(family)
    await family.goto(link)
    await family.locator("[data-action=welcome-continue]").wait_for()
    fi = load("fi")
    button = family.locator("[data-action=access-report]")
    await expect(button).to_have_text(fi["access.family.open"])
    await button.click()
    report = family.locator(".family-access-report")
    await expect(report.locator("h1")).to_have_text(fi["access.family.title"])
    entries = report.locator(".access-entries li")
    for what in ("opened", "changed", "link", "messaged", "admitted", "spoke"):
        await expect(report.locator(f"li[data-what={what}]").first).to_contain_text(
            entry_text("fi", what))
    # "… avasi tietosi 4.12.2026 klo 14.05": a numeric date and the time.
    await expect(entries.first).to_contain_text(
        re.compile(r"\d{1,2}\.\d{1,2}\.\d{4} klo \d{1,2}\.\d\d"))
    heading = report.locator(".access-appointment h2").first
    await expect(heading).to_contain_text(
        fi["access.family.appointment"].replace(" {times}", ""))
    # Never the appointment's kind, before or after the change.
    for kind in ("kind.child_protection", "kind.family_counselling"):
        await expect(report).not_to_contain_text(fi[kind])
    await expect(report).to_contain_text(fi["access.family.no_content"])
    await expect(report).not_to_contain_text(TEXT)
    await assert_accessible(family, "the family's access report")
    await screenshots(family, "40-family-access-report", ("tablet-portrait", "phone"))
    await family.set_viewport_size(PHONE)
    await assert_accessible(family, "the family's access report on a phone")

    # North Sámi: the same entries in the family's words.
    await family.locator("#language-select").select_option("se")
    se = load("se")
    await expect(report.locator("h1")).to_have_text(se["access.family.title"])
    for what in ("opened", "admitted", "spoke"):
        await expect(report.locator(f"li[data-what={what}]").first).to_contain_text(
            entry_text("se", what))
    await assert_accessible(family, "the family's access report in North Sámi")
    await screenshots(family, "40-family-access-report-north-sami", ("phone", "tablet-portrait"))

    # Back returns to the first page, where the family was; the browser's Back too.
    await report.locator("[data-action=access-report-back]").click()
    await expect(family.locator("[data-action=welcome-continue]")).to_be_visible()
    await expect(report).to_have_count(0)
    await expect(button).to_be_focused()
    await button.click()
    await expect(report.locator("li[data-what=opened]").first).to_be_visible()
    await family.go_back()
    await expect(family.locator("[data-action=welcome-continue]")).to_be_visible()

    assert await camera_requests(family) == 0
    token = token_of(link)
    assert not [u for u in urls if token in u], "the token went into a URL"


async def expire(kota: KotaProcess, appointment_id: int, link: str) -> str:
    """The appointment a month in the past, and its link past its expiry: the same link
    (same id, validly signed by the server's key) with the expiry that it now has."""
    start = datetime.now(UTC).replace(microsecond=0) - timedelta(days=30)
    end = start + timedelta(minutes=30)
    expired = end + timedelta(hours=1)
    key = SigningKey.load_or_create(kota.data_dir / "signing.key")
    claims = jwt.decode(token_of(link), options={"verify_signature": False})
    claims["iat"] = int((start - timedelta(days=1)).timestamp())
    claims["exp"] = int(expired.timestamp())

    def as_db(moment: datetime) -> str:
        return moment.strftime("%Y-%m-%dT%H:%M:%SZ")

    def write() -> None:
        with _db(kota) as conn:
            conn.execute("UPDATE appointments SET starts_at = ?, ends_at = ? WHERE id = ?",
                         (as_db(start), as_db(end), appointment_id))
            conn.execute("UPDATE join_links SET expires_at = ? WHERE jti = ?",
                         (as_db(expired), claims["jti"]))

    await asyncio.to_thread(write)
    token = jwt.encode(claims, key.secret, algorithm=ALGORITHM)
    return f"{link.split('#', 1)[0]}#{token}"


async def test_an_expired_link_still_opens_the_report(
    open_page: OpenPage, staff_api: Callable[[str], Awaitable[StaffApi]],
    kota_server: KotaProcess,
) -> None:
    _, created, link, _ = await opened_appointment(kota_server, staff_api, "Ilmari Saraste")
    old_link = await expire(kota_server, created["id"], link)

    family = await open_page(PHONE, name="family", init_script=COUNT_CAMERA_REQUESTS)
    urls = record_urls(family)
    await family.goto(old_link)
    fi = load("fi")
    await expect(family.locator("[data-problem=expired] h1")).to_have_text(
        fi["link.expired.title"])
    await assert_accessible(family, "the expired link's page with the report link")
    await screenshots(family, "41-family-expired-link", ("phone",))
    await family.locator("[data-action=access-report]").click()
    report = family.locator(".family-access-report")
    await expect(report.locator("li[data-what=opened]").first).to_contain_text(
        entry_text("fi", "opened"))
    await assert_accessible(family, "the report from an expired link")
    await screenshots(family, "41-family-access-report-expired", ("phone", "tablet-portrait"))
    await report.locator("[data-action=access-report-back]").click()
    await expect(family.locator("[data-problem=expired]")).to_be_visible()
    assert await camera_requests(family) == 0
    assert not [u for u in urls if token_of(old_link) in u]


async def test_a_revoked_link_says_so_in_plain_words(
    open_page: OpenPage, staff_api: Callable[[str], Awaitable[StaffApi]],
    kota_server: KotaProcess,
) -> None:
    sanna = await staff_api("sanna")
    created, link, _ = await appointment_with_contact(sanna, "Aslak Saraste")
    family = await open_page(TABLET_PORTRAIT, name="family", init_script=COUNT_CAMERA_REQUESTS)
    await family.goto(link)
    await family.locator("[data-action=welcome-continue]").wait_for()
    pid = created["participants"][0]["id"]
    await sanna.call("DELETE", f"/api/appointments/{created['id']}/participants/{pid}/link")

    await family.locator("[data-action=access-report]").click()
    problem = family.locator(".family-access-report [data-error=link_revoked]")
    fi = load("fi")
    await expect(problem).to_contain_text(fi["access.family.error.link_revoked"])
    await expect(problem).to_contain_text(fi["access.family.error.ask"])
    await assert_accessible(family, "a revoked link's report")
    await family.set_viewport_size(PHONE)
    await assert_accessible(family, "a revoked link's report on a phone")
    await screenshots(family, "42-family-access-report-revoked", ("phone",))
    assert await camera_requests(family) == 0


async def test_registry_staff_make_the_report_by_contact_and_download_the_pdf(
    open_page: OpenPage, staff_api: Callable[[str], Awaitable[StaffApi]],
    kota_server: KotaProcess,
) -> None:
    _, created, _, contact = await opened_appointment(kota_server, staff_api, "Máret Sárá")

    page = await open_page(TABLET_LANDSCAPE, staff=REGISTRY_USER[0], name="registry")
    await page.goto("/staff")
    nav = page.locator("[data-action=nav-access-report]")
    fi = load("fi")
    await expect(nav).to_have_text(fi["access.staff.nav"])
    await nav.click()
    view = page.locator(".staff-access-report")
    await expect(view.locator("h1")).to_have_text(fi["access.staff.title"])
    await expect(view).to_contain_text(fi["access.staff.logged"])

    # A contact that is no contact: the server's words, nothing made.
    await page.locator("#access-contact").fill("ei yhteystieto")
    await page.locator("[data-action=make-access-report]").click()
    await expect(view.locator("[data-error=invalid_contact]")).to_have_text(
        fi["error.invalid_contact"])

    await page.locator("#access-contact").fill(contact.upper())  # letter case does not matter
    await page.locator("[data-action=make-access-report]").click()
    section = view.locator(f".access-appointment[data-appointment='{created['id']}']")
    await expect(section.locator(".access-person")).to_contain_text("Máret Sárá")
    opened = section.locator("tr[data-what=opened]").first
    await expect(opened).to_contain_text("Sanna Aikio")
    await expect(opened).to_contain_text(TITLE)
    await expect(opened).to_contain_text(fi["access.staff.what.opened"])
    await assert_accessible(page, "the registry's access report")
    await screenshots(page, "43-staff-access-report", ("tablet-landscape", "phone"))
    await page.evaluate("() => document.getElementById('access-staff-result').scrollIntoView()")
    await screenshots(page, "43-staff-access-report-result", ("tablet-landscape",))
    await page.set_viewport_size(PHONE)
    await assert_accessible(page, "the registry's access report on a phone")
    await section.scroll_into_view_if_needed()
    await screenshots(page, "43-staff-access-report-table", ("phone",))
    await page.set_viewport_size(TABLET_PORTRAIT)
    await assert_accessible(page, "the registry's access report on a tablet")

    async with page.expect_download() as info:
        await view.locator("[data-action=download-access-pdf]").click()
    download = await info.value
    assert download.suggested_filename.startswith("access-report-")
    pdf = await asyncio.to_thread((await download.path()).read_bytes)
    text = "\n".join(p.extract_text() for p in PdfReader(io.BytesIO(pdf)).pages)
    assert "Máret Sárá" in text
    assert "Sanna Aikio" in text
    assert contact in text.lower()  # as typed (upper case here)

    # The next report shows this one: producing it was logged.
    await page.locator("[data-action=make-access-report]").click()
    await expect(section.locator("tr[data-what=report]").first).to_contain_text(
        REGISTRY_USER[1])


async def test_staff_without_the_registry_right_see_no_access_report(
    open_page: OpenPage,
) -> None:
    page = await open_page(TABLET_LANDSCAPE, staff="pekka", name="staff")
    await page.goto("/staff")
    await expect(page.locator(".staff-nav a").first).to_be_visible()
    await expect(page.locator("[data-action=nav-access-report]")).to_have_count(0)
    await page.goto("/staff#/access-report")
    await expect(page.locator("#day-title")).to_be_visible()
    await expect(page.locator(".staff-access-report")).to_have_count(0)


async def test_the_family_report_in_swedish_and_english(
    open_page: OpenPage, staff_api: Callable[[str], Awaitable[StaffApi]],
    kota_server: KotaProcess,
) -> None:
    """A Swedish-speaking browser opens the report in Swedish; the family switches to
    English: headings and entries in each, no Finnish left."""
    sanna, created, link, _ = await opened_appointment(kota_server, staff_api, "Stina Saraste")
    await sanna.call("PATCH", f"/api/appointments/{created['id']}",
                     {"kind": "family_counselling"})  # changed

    family = await open_page(PHONE, name="family", locale="sv-SE")
    await family.goto(link)
    await family.locator("[data-action=welcome-continue]").wait_for()
    report = family.locator(".family-access-report")
    for code in ("sv", "en"):
        texts = load(code)
        if code == "en":
            await family.locator("#language-select").select_option("en")
        else:
            await family.locator("[data-action=access-report]").click()
        await expect(report.locator("h1")).to_have_text(texts["access.family.title"])
        await expect(report.locator(".access-appointment h2").first).to_contain_text(
            texts["access.family.appointment"].replace(" {times}", ""))
        for what in ("opened", "changed", "link"):
            await expect(report.locator(f"li[data-what={what}]").first).to_contain_text(
                entry_text(code, what))
        await expect(report).to_contain_text(texts["access.family.no_content"])
        await expect(report).not_to_contain_text(load("fi")["access.family.title"])
        await assert_accessible(family, f"the family's access report ({code})")

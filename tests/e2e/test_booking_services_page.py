"""The administrator's booking services page in the staff app: create a service, set a
professional's weekly hours, add and remove a closure, copy the public page's address;
professionals do not see it."""

from __future__ import annotations

import re

import pytest
from playwright.async_api import expect

from tests.e2e.booking_steps import StaffLogin, check_page
from tests.e2e.flows import OpenPage
from tests.e2e.kota_server import KotaProcess
from tests.e2e.page_checks import TABLET_LANDSCAPE
from tests.test_locales import load

pytestmark = pytest.mark.asyncio(loop_scope="session")

# Staff pages are shown on a landscape tablet; axe looks at them on a phone too.
STAFF_SIZES = ("tablet-landscape", "tablet-portrait", "phone")


async def test_admin_creates_a_service_and_sets_its_hours(
    open_page: OpenPage, staff_api: StaffLogin, kota_server: KotaProcess
) -> None:
    texts = load("fi")
    admin = await open_page(TABLET_LANDSCAPE, staff="admin", name="admin")
    await admin.goto("/staff#/services")
    await expect(admin.locator("#services-title")).to_have_text(texts["services.title"])

    await admin.locator("[data-action=new-service]").click()
    await admin.locator("#s-name").fill("Perheneuvola, Utsjoki")
    await admin.locator("#s-slug").fill("perheneuvola-utsjoki")
    await admin.locator("#s-slot_minutes").fill("60")
    await admin.get_by_label("Pekka Lehto").check()
    assert await admin.locator("#s-kind-child_protection").count() == 0, "never self-bookable"
    await admin.evaluate("() => window.scrollTo(0, 0)")
    await check_page(admin, "services-new-fi", STAFF_SIZES)
    await admin.locator("[data-action=save-service]").click()

    # Saved: the page is the service's own, with its address and its hours.
    await admin.wait_for_url(re.compile(r"/staff#/services/\d+$"))
    service_id = int(admin.url.rsplit("/", 1)[1])
    url = admin.locator("#public-url")
    await expect(url).to_have_value(f"{kota_server.base}/book/perheneuvola-utsjoki")
    hours = admin.locator(".hours-person", has_text="Pekka Lehto")
    await hours.locator("[data-action=add-hours]").click()
    await hours.locator("[data-action=add-hours]").click()
    rows = hours.locator(".hours-row")
    await expect(rows).to_have_count(2)
    await rows.nth(1).locator(".h-weekday").select_option("3")  # Thursday
    await rows.nth(1).locator(".h-opens").fill("12:00")
    await rows.nth(1).locator(".h-closes").fill("16:30")
    await admin.locator("[data-action=save-hours]").click()
    await expect(admin.locator(".service-hours .notice")).to_have_text(
        texts["services.hours_saved"])

    api = await staff_api("admin")
    saved = await api.call("GET", f"/api/services/{service_id}")
    assert saved["slot_minutes"] == 60
    assert saved["kinds"] == ["family_counselling"]
    assert sorted((h["weekday"], h["opens"], h["closes"]) for h in saved["hours"]) == [
        (0, "09:00", "15:00"), (3, "12:00", "16:30")]

    # A closure for the whole service, then removed again.
    await admin.locator("#c-starts").fill("2026-12-24T00:00")
    await admin.locator("#c-ends").fill("2026-12-27T00:00")
    await admin.locator("#c-note").fill("Joulu")
    await admin.locator("[data-action=add-closure]").click()
    closure = admin.locator(".closure", has_text="Joulu")
    await expect(closure).to_contain_text(texts["services.whole_service"])
    await check_page(admin, "services-edit-fi", STAFF_SIZES)
    await closure.get_by_role("button").click()
    await admin.locator("dialog .button.danger").click()
    await expect(admin.locator(".closure-list .empty")).to_have_text(
        texts["services.no_closures"])
    assert (await api.call("GET", f"/api/services/{service_id}/closures"))["closures"] == []

    # The list names it, with the address to give families.
    await admin.goto("/staff#/services")
    row = admin.locator(f"li[data-service='{service_id}']")
    await expect(row).to_contain_text("Perheneuvola, Utsjoki")
    await expect(row).to_contain_text("/book/perheneuvola-utsjoki")
    await check_page(admin, "services-list-fi", STAFF_SIZES)


async def test_professionals_do_not_see_the_services_page(open_page: OpenPage) -> None:
    sanna = await open_page(TABLET_LANDSCAPE, staff="sanna", name="sanna")
    await sanna.goto("/staff#/services")
    await sanna.locator("#day-title").wait_for()
    assert await sanna.locator("a[href='#/services']").count() == 0
    assert await sanna.locator("#services-title").count() == 0

"""Waiting-room texts both ways with separated guardians: both wait, the worker writes
to one (chosen by name), only that one reads it and answers, the answer shows on the
staff page with the sender's name, and admission (and moving back) clears the texts."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import pytest
from playwright.async_api import expect

from tests.e2e.flows import OpenPage, admit, family_to_waiting_room, staff_into_room
from tests.e2e.kota_server import StaffApi
from tests.e2e.page_checks import (
    PHONE,
    TABLET_LANDSCAPE,
    TABLET_PORTRAIT,
    assert_accessible,
    screenshots,
)

pytestmark = pytest.mark.asyncio(loop_scope="session")

MOTHER, FATHER = "Maija Virtanen", "Pekka Virtanen"
TO_FATHER = "Pekka, tulen sinun luoksesi ensin. 5521"
TO_MOTHER = "Maija, odota vielä hetki. 7730"
REPLY = "Selvä, odotan. 8842"


async def test_a_text_reaches_one_guardian_and_the_reply_reaches_the_worker(
    open_page: OpenPage,
    staff_api: Callable[[str], Awaitable[StaffApi]],
) -> None:
    sanna = await staff_api("sanna")
    appointment = await sanna.appointment((MOTHER, "guardian"), (FATHER, "guardian"))
    staff = await open_page(TABLET_LANDSCAPE, staff="sanna", name="staff")
    await staff_into_room(staff, appointment)
    mother = await open_page(TABLET_PORTRAIT, name="mother")
    father = await open_page(PHONE, name="father")
    await family_to_waiting_room(mother, appointment.links[MOTHER])
    await family_to_waiting_room(father, appointment.links[FATHER])
    await expect(staff.locator(".waiting-person")).to_have_count(2)

    # Two waiting: the worker must choose; everyone is a button of its own.
    form = staff.locator(".message-form")
    await expect(form.locator("#message-to")).to_be_visible()
    await expect(form.locator(".send-all")).to_be_visible()
    await expect(form.locator("#message-to")).to_have_value("")
    await staff.locator("#message-text").fill(TO_FATHER)
    await form.locator(".send-one").click()
    await expect(form.locator(".message-status")).to_have_text(
        "Valitse ensin, kenelle viesti menee.")
    await expect(staff.locator("#message-text")).to_have_value(TO_FATHER)

    await form.locator("#message-to").select_option(label=FATHER)
    await form.locator(".send-one").click()
    await expect(father.locator(".staff-message-text")).to_have_text(TO_FATHER)
    await expect(form.locator("#message-to")).to_have_value("")  # the next text: choose again
    await expect(father.locator("#reply-text")).to_be_visible()
    # Only the father: the mother's next text is the only one she ever gets.
    await form.locator("#message-to").select_option(label=MOTHER)
    await staff.locator("#message-text").fill(TO_MOTHER)
    await form.locator(".send-one").click()
    await expect(mother.locator(".staff-message-text")).to_have_text(TO_MOTHER)
    await expect(mother.locator(".waiting-texts li")).to_have_count(1)
    await expect(father.locator(".waiting-texts li")).to_have_count(1)

    # The father answers; the worker sees it under his name, the mother never does.
    await father.locator("#reply-text").fill(REPLY)
    await father.locator("[data-action=reply]").click()
    await expect(father.locator(".waiting-texts .text-own")).to_contain_text(REPLY)
    await expect(father.locator(".reply-status")).to_have_text("Vastaus lähetetty.")
    pekka = staff.locator(".waiting-person", has_text=FATHER)
    reply = pekka.locator(".person-texts .text-reply")
    await expect(reply).to_contain_text(REPLY)
    await expect(reply.locator(".text-sender")).to_have_text(f"{FATHER}:")
    await expect(pekka.locator(".person-texts .text-own")).to_contain_text(TO_FATHER)
    await expect(mother.locator(".waiting-texts li")).to_have_count(1)

    await assert_accessible(father, "the waiting room with a text and the reply box")
    await assert_accessible(staff, "the staff page with a reply and the recipient choice")
    await screenshots(father, "28-family-waiting-reply", ("tablet-portrait", "phone"))
    await form.locator(".send-all").scroll_into_view_if_needed()
    await screenshots(staff, "29-staff-waiting-texts", ("tablet-landscape", "phone"))

    # Too many replies at once: said in plain words, and the text goes back into the box.
    for n in (2, 3):
        await father.locator("#reply-text").fill(f"Vastaus {n}")
        await father.locator("[data-action=reply]").click()
        await expect(reply.filter(has_text=f"Vastaus {n}")).to_have_count(1)
    await father.locator("#reply-text").fill("Vastaus 4")
    await father.locator("[data-action=reply]").click()
    await expect(father.locator(".reply-status")).to_have_text(
        "Liian monta viestiä lyhyessä ajassa. Odota hetki.")
    await expect(father.locator("#reply-text")).to_have_value("Vastaus 4")
    await expect(father.locator(".waiting-texts .text-own")).to_have_count(3)
    await assert_accessible(father, "the waiting room with a refused reply")

    # Admission clears the texts on both sides; the one left waiting is the recipient.
    await admit(staff, FATHER)
    await expect(father.locator(".call-view")).to_be_visible()
    await expect(father.locator(".waiting-texts li")).to_have_count(0)
    await expect(staff.locator(".person-texts", has_text=REPLY)).to_have_count(0)
    await expect(mother.locator(".waiting-texts li")).to_have_count(1)
    await expect(form.locator("#message-to")).to_be_hidden()
    await expect(form.locator(".send-all")).to_be_hidden()
    await expect(form.locator(".message-to-one")).to_have_text(f"Vastaanottaja: {MOTHER}")
    await assert_accessible(staff, "the staff page with one person waiting")

    # Moved back to the waiting room: a new stay, with no old texts on either side.
    await staff.locator(".in-call-list .person", has_text=FATHER).locator(".to-waiting").click()
    await staff.locator("dialog button[value=ok]").click()
    await father.locator(".waiting [data-action=leave-waiting]").wait_for()
    await expect(father.locator(".staff-message")).to_be_hidden()
    await expect(father.locator(".waiting-texts li")).to_have_count(0)
    await expect(staff.locator(".waiting-person")).to_have_count(2)
    await expect(staff.locator(".waiting-person", has_text=FATHER)
                 .locator(".person-texts")).to_have_count(0)


async def test_two_professionals_see_the_same_texts_with_the_waiting_room(
    open_page: OpenPage,
    staff_api: Callable[[str], Awaitable[StaffApi]],
) -> None:
    """Sanna writes to the waiting mother; Pekka, in the same call, sees the text under
    her, with Sanna's name, and the mother's reply reaches both."""
    sanna = await staff_api("sanna")
    staff = await sanna.call("GET", "/api/staff")
    pekka_id = next(s["id"] for s in staff["staff"] if s["display_name"] == "Pekka Lehto")
    appointment = await sanna.appointment((MOTHER, "guardian"), staff_ids=[pekka_id])
    host = await open_page(TABLET_LANDSCAPE, staff="sanna", name="sanna")
    colleague = await open_page(TABLET_LANDSCAPE, staff="pekka", name="pekka")
    await staff_into_room(host, appointment)
    await staff_into_room(colleague, appointment)
    mother = await open_page(PHONE, name="mother")
    await family_to_waiting_room(mother, appointment.links[MOTHER])

    await host.locator("#message-text").fill(TO_MOTHER)
    await host.locator(".message-form .send-one").click()
    await expect(mother.locator(".staff-message-text")).to_have_text(TO_MOTHER)
    seen = colleague.locator(".waiting-person", has_text=MOTHER).locator(".person-texts li")
    await expect(seen).to_have_count(1)
    await expect(seen.locator(".text-sender")).to_have_text("Sanna Aikio:")
    await expect(seen).to_contain_text(TO_MOTHER)

    await mother.locator("#reply-text").fill(REPLY)
    await mother.locator("[data-action=reply]").click()
    for page in (host, colleague):
        await expect(page.locator(".person-texts .text-reply")).to_contain_text(REPLY)
    await assert_accessible(colleague, "a colleague's text in the waiting-room thread")

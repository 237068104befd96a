"""A participant's language: set by staff when adding them, returned to staff and to the
family's page, and nothing but fi, sv, en, se or none accepted."""

from __future__ import annotations

import aiohttp
import pytest

from tests.conftest import StaffClient, assert_error
from tests.server.conftest import MAIJA, appointment_body, book, copy_link

LANGUAGES = ["fi", "sv", "en", "se"]


@pytest.mark.parametrize("language", LANGUAGES)
async def test_language_set_at_booking_reaches_staff_and_family(
    sanna: StaffClient, family: aiohttp.ClientSession, language: str
) -> None:
    created = await book(
        sanna, participants=[{"display_name": MAIJA, "role": "guardian", "language": language}]
    )
    assert created["participants"][0]["language"] == language
    resp = await sanna.get(f"/api/appointments/{created['id']}")
    assert (await resp.json())["participants"][0]["language"] == language

    resp = await family.post("/api/join", json={"token": await copy_link(sanna, created)})
    body = await resp.json()
    assert resp.status == 200, body
    assert body["participant"]["language"] == language


async def test_no_language_is_null(sanna: StaffClient, family: aiohttp.ClientSession) -> None:
    created = await book(
        sanna, participants=[{"display_name": MAIJA, "role": "guardian", "language": None}]
    )
    assert created["participants"][0]["language"] is None
    resp = await family.post("/api/join", json={"token": await copy_link(sanna, created)})
    assert (await resp.json())["participant"]["language"] is None


async def test_language_of_a_person_added_later(sanna: StaffClient) -> None:
    created = await book(sanna)
    resp = await sanna.post(
        f"/api/appointments/{created['id']}/participants",
        json={"display_name": "Ánde Guttorm", "role": "guardian", "language": "se"},
    )
    body = await resp.json()
    assert resp.status == 201, body
    assert body["language"] == "se"


@pytest.mark.parametrize("bad", ["de", "FI", "fi-FI", "", 1, ["fi"], {"code": "fi"}])
async def test_any_other_language_is_refused(sanna: StaffClient, bad: object) -> None:
    body = appointment_body(
        participants=[{"display_name": MAIJA, "role": "guardian", "language": bad}]
    )
    error = await assert_error(
        await sanna.post("/api/appointments", json=body), 422, "invalid_field"
    )
    assert "language" in error["error"]["message"]

    created = await book(sanna)
    error = await assert_error(
        await sanna.post(
            f"/api/appointments/{created['id']}/participants",
            json={"display_name": "Ánde Guttorm", "role": "guardian", "language": bad},
        ),
        422,
        "invalid_field",
    )
    assert "language" in error["error"]["message"]

"""Staff see which appointments had their personal data removed, and when; the server
refuses every action the staff page leaves out for them."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestServer

from server.app_keys import RETENTION
from server.settings import Settings
from tests.conftest import assert_error
from tests.server.booking_helpers import booking_settings, local
from tests.server.conftest import Clock, SignIn, book

RETENTION_DAYS = 30


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return booking_settings(tmp_path, KOTA_RETENTION_DAYS=str(RETENTION_DAYS))


def _person(name: str, contact: str) -> dict[str, Any]:
    return {"display_name": name, "role": "guardian", "contact": contact}


async def test_the_appointment_says_when_its_personal_data_was_removed(
    kota: TestServer, staff_client: SignIn, clock: Clock,
) -> None:
    clock.set(local(4, 7, 30))
    sanna = await staff_client("sanna")
    old = await book(sanna, start=local(4, 9), participants=[
        _person("Vanha Vieras", "vanha.vieras@example.fi")])
    young = await book(sanna, start=local(29, 10), participants=[
        _person("Nuori Pysyva", "0409998877")])
    assert old["personal_data_removed_at"] is None
    clock.set(local(4, 0) + timedelta(days=RETENTION_DAYS + 5))
    removed_at = clock()
    await kota.app[RETENTION].run()
    sanna = await staff_client("sanna")  # the earlier session ran out with the clock

    got = await (await sanna.get(f"/api/appointments/{old['id']}")).json()
    assert got["personal_data_removed_at"] is not None
    when = datetime.fromisoformat(got["personal_data_removed_at"])
    assert when.utcoffset() == timedelta(hours=2)  # Helsinki winter time
    assert abs(when - removed_at) < timedelta(seconds=2)
    assert [(p["display_name"], p["contact"]) for p in got["participants"]] == [("", None)]
    day = await (await sanna.get("/api/appointments?date=2027-01-04")).json()
    assert [(a["id"], a["personal_data_removed_at"]) for a in day["appointments"]] == [
        (old["id"], got["personal_data_removed_at"])]
    later = await (await sanna.get(f"/api/appointments/{young['id']}")).json()
    assert later["personal_data_removed_at"] is None
    assert later["participants"][0]["display_name"] == "Nuori Pysyva"


async def test_every_action_the_page_leaves_out_is_refused(
    kota: TestServer, staff_client: SignIn, clock: Clock,
) -> None:
    clock.set(local(4, 7, 30))
    sanna = await staff_client("sanna")
    old = await book(sanna, start=local(4, 9), participants=[
        _person("Vanha Vieras", "vanha.vieras@example.fi")])
    clock.set(local(4, 0) + timedelta(days=RETENTION_DAYS + 5))
    await kota.app[RETENTION].run()
    sanna = await staff_client("sanna")
    base = f"/api/appointments/{old['id']}"
    person = f"{base}/participants/{old['participants'][0]['id']}"
    refused = [
        await sanna.patch(base, json={"kind": "family_counselling"}),
        await sanna.post(f"{base}/cancel"),
        await sanna.post(f"{base}/participants", json=_person("Uusi", "uusi@example.fi")),
        await sanna.delete(person),
        await sanna.post(f"{person}/link"),
        await sanna.put(f"{person}/delivery",
                        json={"delivery": "email", "contact": "uusi@example.fi"}),
        await sanna.post(f"{person}/messages"),
    ]
    for resp in refused:
        await assert_error(resp, 409, "appointment_over")

"""Bad input to the appointments API: a clear error, nothing stored, never a 500."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from server.settings import Settings
from tests.conftest import StaffClient, assert_error
from tests.server.conftest import SignIn, appointment_body, book, hours_ahead


async def _count(client: StaffClient) -> int:
    """Appointments the client sees from yesterday to tomorrow (Helsinki days)."""
    today = hours_ahead(0).astimezone(ZoneInfo("Europe/Helsinki")).date()
    seen = 0
    for day in (today - timedelta(days=1), today, today + timedelta(days=1)):
        body = await (await client.get(f"/api/appointments?date={day}")).json()
        seen += len(body["appointments"])
    return seen


async def _refused(
    client: StaffClient, body: Any, status: int, code: str, **kwargs: Any
) -> dict[str, Any]:
    """POST ``body``; the error must be ``status``/``code`` and nothing may be stored."""
    before = await _count(client)
    if "data" not in kwargs:
        kwargs["json"] = body
    resp = await client.post("/api/appointments", **kwargs)
    refused = await assert_error(resp, status, code)
    assert await _count(client) == before
    return refused


async def test_start_in_the_past_is_refused(sanna: StaffClient) -> None:
    await _refused(sanna, appointment_body(start=hours_ahead(-1)), 422, "starts_in_past")


async def test_end_before_start_is_refused(sanna: StaffClient) -> None:
    await _refused(sanna, appointment_body(minutes=-30), 422, "ends_before_start")


async def test_end_equal_to_start_is_refused(sanna: StaffClient) -> None:
    await _refused(sanna, appointment_body(minutes=0), 422, "ends_before_start")


async def test_time_without_zone_is_refused(sanna: StaffClient) -> None:
    start = hours_ahead(1).replace(tzinfo=None)
    body = appointment_body(
        starts_at=start.isoformat(), ends_at=(start + timedelta(hours=1)).isoformat()
    )
    await _refused(sanna, body, 422, "time_without_zone")


async def test_appointment_longer_than_twelve_hours_is_refused(sanna: StaffClient) -> None:
    await _refused(sanna, appointment_body(minutes=13 * 60), 422, "too_long")


async def test_start_centuries_ahead_is_refused(sanna: StaffClient) -> None:
    refused = await _refused(
        sanna,
        appointment_body(
            starts_at="9999-12-31T20:00:00-05:00", ends_at="9999-12-31T21:00:00-05:00"
        ),
        422,
        "invalid_field",
    )
    assert "starts_at" in refused["error"]["message"]


async def test_unknown_kind_is_refused(sanna: StaffClient) -> None:
    refused = await _refused(sanna, appointment_body(kind="secret"), 422, "invalid_field")
    assert "kind" in refused["error"]["message"]


async def test_unknown_participant_role_is_refused(sanna: StaffClient) -> None:
    body = appointment_body(participants=[{"display_name": "X", "role": "uncle"}])
    refused = await _refused(sanna, body, 422, "invalid_field")
    assert "role" in refused["error"]["message"]


async def test_empty_participant_name_is_refused(sanna: StaffClient) -> None:
    body = appointment_body(participants=[{"display_name": "", "role": "child"}])
    await _refused(sanna, body, 422, "invalid_field")


async def test_too_many_participants_are_refused(sanna: StaffClient) -> None:
    people = [{"display_name": f"P{i}", "role": "child"} for i in range(21)]
    await _refused(sanna, appointment_body(participants=people), 422, "invalid_field")


async def test_unknown_staff_id_is_refused(sanna: StaffClient) -> None:
    await _refused(sanna, appointment_body(staff_ids=[999]), 422, "unknown_staff")


async def test_unknown_host_id_is_refused(staff_client: SignIn) -> None:
    admin = await staff_client("admin")
    await _refused(admin, appointment_body(host_id=999), 422, "unknown_staff")


async def test_staff_id_beyond_64_bits_is_refused(sanna: StaffClient) -> None:
    await _refused(sanna, appointment_body(staff_ids=[2**64]), 422, "invalid_field")


async def test_host_id_at_the_64_bit_edge_is_refused(staff_client: SignIn) -> None:
    admin = await staff_client("admin")
    await _refused(admin, appointment_body(host_id=2**64 - 1), 422, "invalid_field")


async def test_overlapping_appointment_for_the_same_host_is_refused(sanna: StaffClient) -> None:
    first = await book(sanna, start=hours_ahead(2))
    refused = await _refused(
        sanna, appointment_body(start=hours_ahead(2.5)), 409, "appointment_overlap"
    )
    assert refused["error"]["appointment_id"] == first["id"]


async def test_back_to_back_appointments_do_not_overlap(sanna: StaffClient) -> None:
    await book(sanna, start=hours_ahead(2), minutes=60)
    await book(sanna, start=hours_ahead(3), minutes=60)


async def test_malformed_json_is_refused(sanna: StaffClient) -> None:
    await _refused(
        sanna,
        None,
        400,
        "bad_json",
        data=b'{"starts_at": ',
        headers={"Content-Type": "application/json"},
    )


async def test_wrong_content_type_is_refused(sanna: StaffClient) -> None:
    await _refused(
        sanna,
        None,
        400,
        "json_expected",
        data=json.dumps(appointment_body()),
        headers={"Content-Type": "text/plain"},
    )


async def test_unknown_field_is_refused(sanna: StaffClient) -> None:
    refused = await _refused(sanna, appointment_body(notes="private"), 422, "invalid_field")
    assert "notes" in refused["error"]["message"]


async def test_unknown_participant_field_is_refused(sanna: StaffClient) -> None:
    body = appointment_body(participants=[{"display_name": "X", "role": "child", "ssn": "1"}])
    await _refused(sanna, body, 422, "invalid_field")


async def test_oversized_body_is_refused(sanna: StaffClient, settings: Settings) -> None:
    padding = "x" * settings.max_body_bytes
    body = appointment_body(participants=[{"display_name": padding, "role": "child"}])
    await _refused(sanna, body, 413, "body_too_large")


async def test_body_that_is_not_an_object_is_refused(sanna: StaffClient) -> None:
    await _refused(sanna, [1, 2, 3], 422, "invalid_field")


@pytest.mark.parametrize("raw_id", ["abc", "-1", "1.5", "%C2%B2", "1" * 13])
async def test_non_numeric_id_in_path_is_not_found(sanna: StaffClient, raw_id: str) -> None:
    await assert_error(await sanna.get(f"/api/appointments/{raw_id}"), 404, "not_found")
    resp = await sanna.post(f"/api/appointments/{raw_id}/cancel")
    await assert_error(resp, 404, "not_found")


async def test_non_numeric_participant_id_in_path_is_not_found(sanna: StaffClient) -> None:
    created = await book(sanna)
    resp = await sanna.get(f"/api/appointments/{created['id']}/participants/x/link")
    await assert_error(resp, 404, "not_found")


# -- changing --------------------------------------------------------------------


async def test_changing_a_cancelled_appointment_is_refused(sanna: StaffClient) -> None:
    created = await book(sanna)
    path = f"/api/appointments/{created['id']}"
    assert (await sanna.post(f"{path}/cancel")).status == 200
    pid = created["participants"][0]["id"]
    for resp in [
        await sanna.patch(path, json={"kind": "other"}),
        await sanna.post(f"{path}/cancel"),
        await sanna.post(f"{path}/participants", json={"display_name": "X", "role": "child"}),
        await sanna.delete(f"{path}/participants/{pid}"),
        await sanna.post(f"{path}/participants/{pid}/link"),
    ]:
        await assert_error(resp, 409, "appointment_cancelled")
    after = await (await sanna.get(path)).json()
    assert after["kind"] == created["kind"]
    assert [p["id"] for p in after["participants"]] == [pid]


async def test_update_moving_the_end_into_the_past_is_refused(sanna: StaffClient) -> None:
    created = await book(sanna)
    resp = await sanna.patch(
        f"/api/appointments/{created['id']}",
        json={
            "starts_at": hours_ahead(-3).isoformat(),
            "ends_at": hours_ahead(-2).isoformat(),
        },
    )
    await assert_error(resp, 422, "ends_in_past")


async def test_update_onto_another_appointment_is_refused(sanna: StaffClient) -> None:
    first = await book(sanna, start=hours_ahead(2))
    second = await book(sanna, start=hours_ahead(4))
    resp = await sanna.patch(
        f"/api/appointments/{second['id']}", json={"starts_at": first["starts_at"]}
    )
    await assert_error(resp, 409, "appointment_overlap")


async def test_update_with_unknown_field_is_refused(sanna: StaffClient) -> None:
    created = await book(sanna)
    resp = await sanna.patch(f"/api/appointments/{created['id']}", json={"status": "scheduled"})
    await assert_error(resp, 422, "invalid_field")


async def test_update_with_naive_time_is_refused(sanna: StaffClient) -> None:
    created = await book(sanna)
    naive = hours_ahead(2).replace(tzinfo=None).isoformat()
    resp = await sanna.patch(f"/api/appointments/{created['id']}", json={"starts_at": naive})
    await assert_error(resp, 422, "time_without_zone")


async def test_update_to_centuries_ahead_is_refused(sanna: StaffClient) -> None:
    created = await book(sanna)
    resp = await sanna.patch(
        f"/api/appointments/{created['id']}",
        json={"starts_at": "9999-12-31T20:00:00-05:00", "ends_at": "9999-12-31T21:00:00-05:00"},
    )
    await assert_error(resp, 422, "invalid_field")


async def test_adding_participant_with_unknown_role_is_refused(sanna: StaffClient) -> None:
    created = await book(sanna)
    resp = await sanna.post(
        f"/api/appointments/{created['id']}/participants",
        json={"display_name": "X", "role": "neighbour"},
    )
    await assert_error(resp, 422, "invalid_field")

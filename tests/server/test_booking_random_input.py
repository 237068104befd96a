"""Hypothesis feeds random JSON and queries to the booking API: a clear 4xx (or a
success) every time, never a 500, and the server stays ready."""
# ruff: noqa: F401, F811 - the tests take the imported ``live`` fixture as their argument

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from server.settings import Settings
from tests.server.booking_helpers import booking_settings
from tests.server.test_random_input import (
    LiveServer,
    any_time,
    examples,
    json_values,
    live,  # the fixture: a server and a signed-in admin, for hypothesis to drive
    near_now,
)

SLUG = "satunnainen"


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    """Messaging on, so that holds get past the contact's channel."""
    return booking_settings(tmp_path)


def _service(live: LiveServer) -> int:
    async def make() -> int:
        resp = await live.client.post("/api/services", json={
            "slug": SLUG, "name": "Satunnainen", "slot_minutes": 30, "buffer_minutes": 0,
            "notice_minutes": 0, "staff_ids": [2, 3]})
        service: dict[str, Any] = await resp.json()
        assert resp.status == 201, service
        hours = [{"staff_id": s, "weekday": d, "opens": "00:00", "closes": "23:30"}
                 for s in (2, 3) for d in range(7)]
        resp = await live.client.request("PUT", f"/api/services/{service['id']}/hours",
                                         json={"hours": hours})
        assert resp.status == 200
        return int(service["id"])

    return live.runner.run(make())


contacts = st.one_of(st.emails(), st.from_regex(r"\+?[0-9 ]{3,16}", fullmatch=True),
                     st.text(max_size=260))
holds = st.fixed_dictionaries(
    {"starts_at": st.one_of(near_now, any_time).map(lambda t: t.isoformat()),
     "display_name": st.text(max_size=90), "contact": contacts,
     "language": st.sampled_from(["fi", "sv", "en", "se", "de"])},
    optional={"kind": st.sampled_from(["family_counselling", "child_protection", "x"]),
              "topic": st.text(max_size=600)},
)


@st.composite
def mutated(draw: st.DrawFn, base: st.SearchStrategy[dict[str, Any]]) -> dict[str, Any]:
    body = draw(base)
    for key in draw(st.lists(st.sampled_from(sorted(body)), unique=True, max_size=2)):
        if draw(st.booleans()):
            del body[key]
        else:
            body[key] = draw(json_values)
    return body


def test_random_holds_never_give_500(live: LiveServer) -> None:
    _service(live)

    @examples
    @given(body=st.one_of(holds, mutated(holds), json_values))
    def check(body: Any) -> None:
        live.send("POST", f"/api/book/{SLUG}/holds", body)

    check()
    assert {"slot_taken", "invalid_field"} & set(live.seen), live.seen
    live.assert_ready()


def test_random_times_queries_never_give_500(live: LiveServer) -> None:
    _service(live)
    values = st.one_of(st.text(max_size=12), st.dates().map(str), st.integers().map(str))

    @examples
    @given(start=values, days=values)
    def check(start: str, days: str) -> None:
        async def send() -> tuple[int, str]:
            resp = await live.client.get(f"/api/book/{SLUG}/times",
                                         params={"from": start, "days": days})
            return resp.status, await resp.text()

        status, text = live.runner.run(send())
        assert status < 500, (start, days, text)

    check()
    live.assert_ready()


def test_random_tokens_and_moves_never_give_500(live: LiveServer) -> None:
    tokens = st.text() | st.from_regex(
        r"[A-Za-z0-9_-]{0,60}\.[A-Za-z0-9_-]{0,200}\.[A-Za-z0-9_-]{0,60}")

    @examples
    @given(path=st.sampled_from(["confirm", "manage", "manage/cancel", "manage/move"]),
           body=st.fixed_dictionaries({"token": tokens},
                                      optional={"starts_at": any_time.map(str)}) | json_values)
    def check(path: str, body: Any) -> None:
        live.send("POST", f"/api/book/{path}", body)

    check()
    live.assert_ready()


def test_random_service_bodies_never_give_500(live: LiveServer) -> None:
    service_id = _service(live)
    services = st.fixed_dictionaries(
        {"slug": st.from_regex(r"[a-z0-9-]{1,70}", fullmatch=True), "name": st.text(max_size=130)},
        optional={"slot_minutes": st.integers(), "kinds": st.lists(st.text(max_size=20)),
                  "staff_ids": st.lists(st.integers(-5, 2**70), max_size=3),
                  "max_per_day": st.integers(), "active": json_values})
    hours = st.fixed_dictionaries({"hours": st.lists(st.fixed_dictionaries({
        "staff_id": st.integers(-1, 5), "weekday": st.integers(-1, 8),
        "opens": st.from_regex(r"[0-9]{1,2}:[0-9]{2}", fullmatch=True),
        "closes": st.from_regex(r"[0-9]{1,2}:[0-9]{2}", fullmatch=True)}), max_size=4)})
    closures = st.fixed_dictionaries(
        {"starts_local": st.one_of(any_time.map(lambda t: t.replace(tzinfo=None).isoformat()),
                                   st.text(max_size=40)),
         "ends_local": st.one_of(any_time.map(lambda t: t.replace(tzinfo=None).isoformat()),
                                 st.text(max_size=40))},
        optional={"staff_id": st.integers(-1, 2**64), "note": st.text(max_size=220)})

    @examples
    @given(which=st.sampled_from(["create", "patch", "hours", "closure"]),
           body=st.one_of(services, hours, closures, json_values))
    def check(which: str, body: Any) -> None:
        method, path = {"create": ("POST", "/api/services"),
                        "patch": ("PATCH", f"/api/services/{service_id}"),
                        "hours": ("PUT", f"/api/services/{service_id}/hours"),
                        "closure": ("POST", f"/api/services/{service_id}/closures")}[which]
        live.send(method, path, body)

    check()
    live.assert_ready()

"""Hypothesis feeds random JSON to the API: a clear 4xx every time, never a 500."""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from collections.abc import Iterator
from datetime import timedelta, timezone
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestServer
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from server.app import create_app
from server.settings import Settings
from tests.conftest import PASSWORD, Accounts, StaffClient
from tests.server.conftest import book, hours_ahead

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=12,
)
offsets = [None, *(timezone(timedelta(hours=h)) for h in (-12, 0, 2, 14))]
near_now = st.builds(
    lambda seconds, tz: (hours_ahead(0) + timedelta(seconds=seconds)).astimezone(tz),
    st.integers(min_value=-86_400, max_value=30 * 86_400),
    st.sampled_from(offsets[1:]),
)
any_time = st.datetimes(timezones=st.sampled_from(offsets))
wide_ids = st.integers(min_value=-(2**70), max_value=2**70)
# Mostly the four accounts or a missing id; one draw in ten anything at all.
ids = st.integers(min_value=0, max_value=9).flatmap(
    lambda n: wide_ids if n == 0 else st.integers(min_value=1, max_value=5)
)
participants = st.fixed_dictionaries(
    {
        "display_name": st.text(min_size=1, max_size=90),
        "role": st.sampled_from(["guardian", "child", "interpreter"]),
    },
    optional={"contact": st.text(max_size=210)},
)


@st.composite
def plausible_bodies(draw: st.DrawFn) -> dict[str, Any]:
    """Well-typed bookings whose values wander: past, far ahead, overlapping, unknown ids."""
    start = draw(st.one_of(near_now, near_now, any_time))
    minutes = draw(st.integers(min_value=-60, max_value=14 * 60))
    end = start + timedelta(minutes=minutes) if start.year < 9999 else start
    return {
        "starts_at": start.isoformat(),
        "ends_at": end.isoformat(),
        "kind": draw(st.sampled_from(["child_protection", "other"])),
        "host_id": draw(ids),
        "staff_ids": draw(st.lists(ids, max_size=2)),
        "participants": draw(st.lists(participants, max_size=3)),
    }


@st.composite
def mutated_bodies(draw: st.DrawFn) -> dict[str, Any]:
    """A plausible booking with one or two fields dropped or replaced by random JSON."""
    body = draw(plausible_bodies())
    for key in draw(st.lists(st.sampled_from(sorted(body)), unique=True, min_size=1, max_size=2)):
        if draw(st.booleans()):
            del body[key]
        else:
            body[key] = draw(json_values)
    return body


bodies = st.one_of(plausible_bodies(), mutated_bodies(), json_values)
examples = hypothesis_settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)


class LiveServer:
    """A server and a signed-in admin on their own event loop, so that hypothesis can
    drive them from a plain function; counts the answers it saw."""

    def __init__(self, runner: asyncio.Runner, client: StaffClient) -> None:
        self.runner = runner
        self.client = client
        self.seen: Counter[str] = Counter()

    def send(self, method: str, path: str, body: Any) -> None:
        async def send() -> tuple[int, str]:
            resp = await self.client.request(method, path, json=body)
            return resp.status, await resp.text()

        status, text = self.runner.run(send())
        assert status < 500, (body, text)
        if status >= 400:
            error = json.loads(text)
            assert set(error) == {"error"}, text
            self.seen[error["error"]["code"]] += 1
        else:
            self.seen[str(status)] += 1

    def assert_ready(self) -> None:
        async def probe() -> int:
            async with aiohttp.ClientSession() as session:
                resp = await session.get(f"{self.client.base}/readyz")
                return resp.status

        assert self.runner.run(probe()) == 200


@pytest.fixture
def live(settings: Settings, accounts: Accounts) -> Iterator[LiveServer]:
    with asyncio.Runner() as runner:

        async def start() -> tuple[TestServer, StaffClient]:
            server = TestServer(create_app(settings), host="127.0.0.1", port=settings.port)
            await server.start_server()
            client = StaffClient(str(server.make_url("")).rstrip("/"))
            assert (await client.login("admin", PASSWORD)).status == 201
            return server, client

        server, client = runner.run(start())
        try:
            yield LiveServer(runner, client)
        finally:

            async def stop() -> None:
                await client.close()
                await server.close()

            runner.run(stop())


# Codes that only the scheduling rules give: proof the bodies got past decoding.
SCHEDULER_CODES = {"201", "200", "appointment_overlap", "unknown_staff", "starts_in_past"}


def test_random_appointment_bodies_never_give_500(live: LiveServer) -> None:
    @examples
    @given(body=bodies)
    def check(body: Any) -> None:
        live.send("POST", "/api/appointments", body)

    check()
    assert SCHEDULER_CODES & set(live.seen), live.seen
    live.assert_ready()


def test_random_patch_bodies_never_give_500(live: LiveServer) -> None:
    created = live.runner.run(book(live.client, start=hours_ahead(24 * 40)))

    @examples
    @given(body=bodies)
    def check(body: Any) -> None:
        if isinstance(body, dict):
            body.pop("participants", None)
        live.send("PATCH", f"/api/appointments/{created['id']}", body)

    check()
    live.assert_ready()


def test_random_participant_bodies_never_give_500(live: LiveServer) -> None:
    created = live.runner.run(book(live.client, start=hours_ahead(24 * 41)))

    @examples
    @given(body=participants | json_values)
    def check(body: Any) -> None:
        live.send("POST", f"/api/appointments/{created['id']}/participants", body)

    check()
    live.assert_ready()


def test_random_join_bodies_never_give_500(live: LiveServer) -> None:
    tokens = st.text() | st.from_regex(
        r"[A-Za-z0-9_-]{0,60}\.[A-Za-z0-9_-]{0,200}\.[A-Za-z0-9_-]{0,60}"
    )

    @examples
    @given(body=st.fixed_dictionaries({"token": tokens}) | json_values)
    def check(body: Any) -> None:
        live.send("POST", "/api/join", body)

    check()
    assert "token_malformed" in live.seen, live.seen
    live.assert_ready()


clocks = st.from_regex(r"\A[0-2][0-9]:[0-5][0-9]\Z") | st.text(max_size=6)
days = st.dates().map(str) | st.text(max_size=12)
line_bodies = st.fixed_dictionaries(
    {
        "slug": st.from_regex(r"\A[a-z0-9-]{1,62}\Z") | st.sampled_from(["my", "linja"]),
        "name": st.text(max_size=90),
        "kind": st.sampled_from(["public", "personal", "other"]),
    },
    optional={
        "modes": st.sampled_from(["chat", "video", "both", "audio"]),
        "queue_cap": st.integers(min_value=-5, max_value=1100),
        "grace_minutes": st.integers(min_value=-5, max_value=130),
        "callback_after_minutes": st.integers(min_value=-5, max_value=250),
        "staff_ids": st.lists(ids, max_size=3),
        "hours": st.lists(st.fixed_dictionaries({
            "weekday": st.integers(min_value=-1, max_value=8), "opens": clocks,
            "closes": clocks}), max_size=4),
        "closures": st.lists(st.fixed_dictionaries(
            {"starts_on": days, "ends_on": days}, optional={"note": st.text(max_size=120)}),
            max_size=3),
        "active": st.booleans(),
    },
)
# Codes only the line rules give: proof the bodies got past decoding.
LINE_CODES = {"201", "200", "slug_taken", "invalid_hours", "unknown_staff", "slug_reserved"}


def test_random_line_bodies_never_give_500(live: LiveServer) -> None:
    @examples
    @given(body=line_bodies | json_values, replace=st.booleans())
    def check(body: Any, replace: bool) -> None:
        live.send("PUT" if replace else "POST", "/api/lines/1" if replace else "/api/lines",
                  body)

    live.send("POST", "/api/lines", {"slug": "linja", "name": "Linja", "kind": "personal",
                                     "staff_ids": [1]})
    check()
    assert LINE_CODES & set(live.seen), live.seen
    live.assert_ready()


def test_random_enrolment_bodies_never_give_500(live: LiveServer) -> None:
    live.send("POST", "/api/lines", {"slug": "oma", "name": "Oma", "kind": "personal",
                                     "staff_ids": [1, 2]})

    @examples
    @given(body=st.fixed_dictionaries(
        {"family_name": st.text(max_size=90)},
        optional={"language": st.sampled_from(["fi", "sv", "en", "se", "de"]),
                  "staff_ids": st.lists(ids, max_size=3)}) | json_values)
    def check(body: Any) -> None:
        live.send("POST", "/api/lines/1/enrolments", body)

    check()
    assert {"201", "staff_not_on_line"} & set(live.seen), live.seen
    live.assert_ready()

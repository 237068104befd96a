"""StaffWriter: one staff member's browser in the write benchmark, and the Tally of
what its requests got.

A writer signs in (its own cookie jar and CSRF token) and loops: book an appointment
with one or two people, move it, add a person, issue and revoke a person's join link,
and cancel its older booking. Each request is timed and judged against the one answer
it should get; ``409 appointment_overlap`` is expected only where the writer aimed at a
contested time (``Slots``), and anything else unexpected is an error.
"""

from __future__ import annotations

import collections
import json
import random
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import aiohttp

from bench.report import percentile
from server.staff_auth import CSRF_HEADER

SLOT = timedelta(minutes=30)
CONTESTED_STEP = timedelta(minutes=15)  # contested times start this far apart: each
# overlaps its neighbours, so the overlap check is tested on more than equal times
FRESH_AFTER = timedelta(days=1)  # fresh times start a day after the contested ones
REQUEST_TIMEOUT = aiohttp.ClientTimeout(total=60)
OPS = ("create", "move", "add_participant", "issue_link", "revoke_link", "cancel")


@dataclass(frozen=True)
class OpStats:
    requests: int
    p50_ms: float
    p99_ms: float
    overlaps: int
    errors: int


class Tally:
    """Every request's latency and what came of it, by operation."""

    def __init__(self) -> None:
        self.latencies: dict[str, list[float]] = {op: [] for op in OPS}
        self.overlaps: collections.Counter[str] = collections.Counter()
        self.errors: collections.Counter[str] = collections.Counter()

    def record(self, op: str, latency: float, error: str | None, overlap: bool) -> None:
        self.latencies[op].append(latency)
        if error is not None:
            self.errors[f"{op} {error}"] += 1
        elif overlap:
            self.overlaps[op] += 1

    def by_op(self) -> dict[str, OpStats]:
        def errors(op: str) -> int:
            return sum(n for key, n in self.errors.items() if key.split(" ", 1)[0] == op)

        return {op: OpStats(len(values), percentile(values, 0.5) * 1e3,
                            percentile(values, 0.99) * 1e3, self.overlaps[op], errors(op))
                for op, values in self.latencies.items()}


class Slots:
    """Where writers book: for each host a lane of fresh times that never overlap (any
    booking there must succeed) and a few contested times that writers race for."""

    def __init__(self, hosts: Sequence[int], contested: int, day: datetime) -> None:
        self.day = day
        self.contested_count = contested
        self._next_fresh = dict.fromkeys(hosts, 0)

    def fresh(self, host: int) -> tuple[datetime, datetime]:
        n = self._next_fresh[host]
        self._next_fresh[host] = n + 1
        start = self.day + FRESH_AFTER + n * SLOT
        return start, start + SLOT

    def contested(self, rng: random.Random) -> tuple[datetime, datetime]:
        start = self.day + rng.randrange(self.contested_count) * CONTESTED_STEP
        return start, start + SLOT


@dataclass
class Booking:
    id: int
    host_id: int
    participant_ids: list[int]


class TimeUp(Exception):
    """The run's time is up: start no more requests."""


class SignInFailed(Exception):
    """A writer could not sign in: the run cannot start."""


@dataclass
class StaffWriter:
    """One staff member's browser: its own cookie jar, CSRF token and bookings."""

    index: int
    username: str
    password: str
    hosts: Sequence[int]
    slots: Slots
    tally: Tally
    contested_share: float
    rng: random.Random
    session: aiohttp.ClientSession
    staff_id: int = 0
    csrf: str = ""
    deadline: float = 0.0
    live: list[Booking] = field(default_factory=list)
    made: int = 0

    async def sign_in(self) -> None:
        body = {"username": self.username, "password": self.password}
        async with self.session.post("/api/session", json=body) as resp:
            data = await resp.json()
            if resp.status != 201:
                raise SignInFailed(f"writer {self.index}: sign-in gave {resp.status} {data}")
        self.staff_id = int(data["staff"]["id"])
        self.csrf = str(data["csrf_token"])

    async def run(self, deadline: float) -> None:
        self.deadline = deadline
        try:
            while True:
                await self.iteration()
        except TimeUp:
            pass

    def _times(self, host: int) -> tuple[tuple[datetime, datetime], bool]:
        if self.rng.random() < self.contested_share:
            return self.slots.contested(self.rng), True
        return self.slots.fresh(host), False

    async def iteration(self) -> None:
        host = self.rng.choice(self.hosts)
        (starts_at, ends_at), contested = self._times(host)
        people = [self._person() for _ in range(self.rng.randint(1, 2))]
        body = {"starts_at": starts_at.isoformat(), "ends_at": ends_at.isoformat(),
                "kind": "family_counselling", "host_id": host,
                "staff_ids": [] if host == self.staff_id else [self.staff_id],
                "participants": people}
        created = await self.call("create", "POST", "/api/appointments", body, 201, contested)
        if created is not None:
            self.live.append(Booking(int(created["id"]), host,
                                     [int(p["id"]) for p in created["participants"]]))
        if not self.live:
            return
        target = self.live[-1]
        (starts_at, ends_at), contested = self._times(target.host_id)
        await self.call("move", "PATCH", f"/api/appointments/{target.id}",
                        {"starts_at": starts_at.isoformat(), "ends_at": ends_at.isoformat()},
                        200, contested)
        added = await self.call("add_participant", "POST",
                                f"/api/appointments/{target.id}/participants",
                                self._person(), 201)
        if added is not None:
            target.participant_ids.append(int(added["id"]))
        link = (f"/api/appointments/{target.id}/participants/"
                f"{self.rng.choice(target.participant_ids)}/link")
        await self.call("issue_link", "POST", link, None, 201)
        await self.call("revoke_link", "DELETE", link, None, 204)
        if len(self.live) > 1:
            old = self.live.pop(0)
            await self.call("cancel", "POST", f"/api/appointments/{old.id}/cancel", None, 200)

    def _person(self) -> dict[str, str]:
        self.made += 1
        role = self.rng.choice(("guardian", "child", "interpreter"))
        return {"display_name": f"Bench Person {self.index}.{self.made}", "role": role}

    async def call(self, op: str, method: str, path: str, body: Any, ok: int,
                   overlap_allowed: bool = False) -> dict[str, Any] | None:
        """One request, timed and judged; the decoded body when it answered ``ok``."""
        if time.perf_counter() >= self.deadline:
            raise TimeUp
        started = time.perf_counter()
        try:
            async with self.session.request(method, path, json=body,
                                            headers={CSRF_HEADER: self.csrf}) as resp:
                raw = await resp.read()
                status = resp.status
        except (aiohttp.ClientError, TimeoutError) as exc:
            self.tally.record(op, time.perf_counter() - started, type(exc).__name__, False)
            return None
        latency = time.perf_counter() - started
        try:
            data = json.loads(raw) if raw else {}
        except ValueError:
            data = {}  # a plain-text 5xx
        if status == ok:
            self.tally.record(op, latency, None, False)
            return data if isinstance(data, dict) else {}
        code = data.get("error", {}).get("code") if isinstance(data, dict) else None
        overlap = status == 409 and code == "appointment_overlap" and overlap_allowed
        self.tally.record(op, latency, None if overlap else f"{status} {code}", overlap)
        return None

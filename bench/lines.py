"""Position updates on a full line: ``python -m bench lines``.

Against a fresh ``kota run``: P people (500 by default) join one public line over
``/ws/line`` and wait; professionals on duty take the next one, T times, each take
followed by the end of its session. For each take the clock runs from the moment
``take_next`` is sent until every person still waiting has received a ``queue`` message
with its new place (one less than before); the spread of those times over the takes is
reported (p50, p95, max). The issue's aim: within 1 s at p95.

The floor is measured in the same run with the same load generator: a bare aiohttp
WebSocket server (bench/line_floor.py) that keeps the same queue and, on a take, sends
each waiting person its new place — no checks, no staff board, no expected wait, no
usage log. See docs/lines.md, "Expected wait" for the other line benchmark.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import secrets
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp

from bench.report import percentile
from bench.server_process import ServerProcess
from bench.signalling_relay import (
    LOAD_CORE,
    REPO,
    SERVER_CORE,
    describe_machine,
    free_port,
    raise_file_limit,
)
from server.db import Database
from server.passwords import hash_password
from server.records import StaffRole
from server.staff_auth import CSRF_HEADER

SLUG = "bench-line"
TIMEOUT = aiohttp.ClientTimeout(total=120)
JOIN_CONCURRENCY = 50
KOTA, FLOOR = "kota", "floor"


@dataclass(frozen=True)
class LinesBenchConfig:
    people: int = 500
    takes: int = 40
    professionals: int = 2
    round_timeout: float = 30.0  # a take whose updates do not all arrive by then fails
    pin: bool = True
    tree: Path = REPO
    workdir: Path | None = None
    log: bool = True


@dataclass(frozen=True)
class Spread:
    """Per take: milliseconds until every waiting person had its new place."""

    server: str
    rounds: list[float]
    incomplete: int  # takes after which someone never heard of its new place

    @property
    def p50_ms(self) -> float:
        return percentile(self.rounds, 0.5)

    @property
    def p95_ms(self) -> float:
        return percentile(self.rounds, 0.95)

    @property
    def max_ms(self) -> float:
        return max(self.rounds, default=float("nan"))


@dataclass(frozen=True)
class LinesResult:
    people: int
    floor: Spread
    kota: Spread

    @property
    def ratio_p95(self) -> float:
        return self.kota.p95_ms / self.floor.p95_ms

    @property
    def clean(self) -> bool:
        return (self.floor.incomplete == self.kota.incomplete == 0
                and bool(self.kota.rounds) and bool(self.floor.rounds))


class LineFailed(Exception):
    """The run could not go on: a join refused, a take found nobody, a timeout."""


@dataclass(eq=False)
class Person:
    """One waiting person's socket and what it was last told."""

    ws: aiohttp.ClientWebSocketResponse
    position: int | None = None
    target: int | None = None  # the place this take should bring
    reached_at: float | None = None
    taken: bool = False


@dataclass
class Crowd:
    """Everyone waiting, and the take being measured."""

    people: list[Person] = field(default_factory=list)
    remaining: int = 0
    done: asyncio.Event = field(default_factory=asyncio.Event)
    placed: asyncio.Event = field(default_factory=asyncio.Event)

    def heard(self, person: Person, data: dict[str, Any]) -> None:
        kind = data.get("type")
        if kind == "queue":
            person.position = int(data["position"])
            if person.target == person.position and person.reached_at is None:
                person.reached_at = time.perf_counter()
                self.remaining -= 1
                if self.remaining == 0:
                    self.done.set()
            if not self.placed.is_set() and self.all_placed():
                self.placed.set()
        elif kind == "taken":
            person.taken = True

    def all_placed(self) -> bool:
        places = sorted(p.position or 0 for p in self.people if not p.taken)
        return places == list(range(1, len(places) + 1))

    async def listen(self, person: Person) -> None:
        async for msg in person.ws:
            if msg.type is aiohttp.WSMsgType.TEXT:
                self.heard(person, json.loads(msg.data))

    async def measure(self, take: Callable[[], Awaitable[None]], limit: float,
                      ) -> float | None:
        """Milliseconds from ``take`` until all who stay have their new place; None if
        some never do within ``limit`` seconds."""
        waiting = [p for p in self.people if not p.taken]
        if not waiting:
            raise LineFailed("nobody left to take")
        for person in waiting:
            assert person.position is not None
            person.target = person.position - 1 if person.position > 1 else None
            person.reached_at = None
        self.remaining = len(waiting) - 1
        self.done.clear()
        if self.remaining == 0:
            self.done.set()
        started = time.perf_counter()
        await take()
        try:
            await asyncio.wait_for(self.done.wait(), limit)
        except TimeoutError:
            return None
        last = max((p.reached_at for p in waiting if p.reached_at is not None),
                   default=started)
        return (last - started) * 1e3


async def _join_all(crowd: Crowd, count: int, connect: Callable[[], Awaitable[Person]],
                    tasks: list[asyncio.Task[None]], limit: float) -> None:
    """``count`` people joined a few at a time, in order, each told its place."""
    gate = asyncio.Semaphore(JOIN_CONCURRENCY)

    async def one() -> None:
        async with gate:
            person = await connect()
            crowd.people.append(person)
            tasks.append(asyncio.create_task(crowd.listen(person)))

    await asyncio.gather(*(one() for _ in range(count)))
    try:
        await asyncio.wait_for(crowd.placed.wait(), limit)
    except TimeoutError:
        raise LineFailed(f"only {sum(p.position is not None for p in crowd.people)} of "
                         f"{count} people were told a place") from None


# -- the floor ----------------------------------------------------------------------------

async def run_floor(config: LinesBenchConfig, workdir: Path) -> Spread:
    port = free_port()
    process = await ServerProcess.start(
        FLOOR, [sys.executable, "-m", "bench.line_floor", "--port", str(port)],
        env={"PATH": os.defpath, "PYTHONDONTWRITEBYTECODE": "1"}, cwd=config.tree, port=port,
        log_path=workdir / "floor.log", core=SERVER_CORE if config.pin else None,
    )
    url = f"http://127.0.0.1:{port}/ws/line"
    crowd, tasks = Crowd(), list[asyncio.Task[None]]()
    try:
        async with aiohttp.ClientSession(
            timeout=TIMEOUT, connector=aiohttp.TCPConnector(limit=0),
        ) as http:
            async def connect() -> Person:
                ws = await http.ws_connect(url)
                await ws.send_json({"type": "hello"})
                return Person(ws)

            await _join_all(crowd, config.people, connect, tasks, config.round_timeout)
            control = await http.ws_connect(url)

            async def take() -> None:
                await control.send_json({"type": "take"})

            rounds, incomplete = [], 0
            for _ in range(config.takes):
                took = await crowd.measure(take, config.round_timeout)
                if took is None:
                    incomplete += 1
                else:
                    rounds.append(took)
            process.check_alive()
            await control.close()
            await asyncio.gather(*(p.ws.close() for p in crowd.people))
    finally:
        for task in tasks:
            task.cancel()
        await process.stop()
    return Spread(FLOOR, rounds, incomplete)


# -- Kota ---------------------------------------------------------------------------------

async def seed_staff(db_path: Path, professionals: int, password: str) -> list[str]:
    """An admin and ``professionals`` professionals sharing one password: usernames,
    the admin's first."""
    now = datetime.now(UTC)
    db = Database(db_path)
    await db.open()
    try:
        await db.migrate()
        password_hash = hash_password(password)
        async with db.transaction() as tx:
            await tx.create_staff("bench-admin", "Bench Admin", StaffRole.ADMIN,
                                  password_hash, now)
            for i in range(professionals):
                await tx.create_staff(f"bench-pro{i}", f"Pro{i} Bench",
                                      StaffRole.PROFESSIONAL, password_hash, now)
    finally:
        await db.close()
    return ["bench-admin", *(f"bench-pro{i}" for i in range(professionals))]


async def _sign_in(session: aiohttp.ClientSession, username: str, password: str,
                   ) -> tuple[int, str]:
    async with session.post("/api/session",
                            json={"username": username, "password": password}) as resp:
        data = await resp.json()
        if resp.status != 201:
            raise LineFailed(f"{username}: sign-in gave {resp.status} {data}")
    return int(data["staff"]["id"]), str(data["csrf_token"])


async def _make_line(session: aiohttp.ClientSession, csrf: str, staff_ids: list[int],
                     cap: int) -> int:
    """A public chat line open all week (00:00-23:59, two hours' grace), served by
    ``staff_ids``."""
    body = {
        "slug": SLUG, "name": "Bench line", "kind": "public", "modes": "chat",
        "queue_cap": cap, "grace_minutes": 120, "callback_after_minutes": 10,
        "staff_ids": staff_ids, "closures": [],
        "hours": [{"weekday": d, "opens": "00:00", "closes": "23:59"} for d in range(7)],
    }
    async with session.post("/api/lines", json=body, headers={CSRF_HEADER: csrf}) as resp:
        data = await resp.json()
        if resp.status != 201:
            raise LineFailed(f"making the line gave {resp.status} {data}")
    return int(data["id"])


@dataclass
class Professional:
    ws: aiohttp.ClientWebSocketResponse
    sessions: asyncio.Queue[str] = field(default_factory=asyncio.Queue)
    ended: asyncio.Queue[str] = field(default_factory=asyncio.Queue)
    nobody: int = 0

    async def listen(self) -> None:
        async for msg in self.ws:
            if msg.type is not aiohttp.WSMsgType.TEXT:
                continue
            data = json.loads(msg.data)
            if data.get("type") == "session":
                self.sessions.put_nowait(str(data["session"]))
            elif data.get("type") == "ended":
                self.ended.put_nowait(str(data["session"]))
            elif data.get("type") == "nobody":
                self.nobody += 1
                self.sessions.put_nowait("")


@contextlib.asynccontextmanager
async def _kota(config: LinesBenchConfig, workdir: Path) -> AsyncIterator[tuple[int, str]]:
    """A fresh ``kota run`` with its staff seeded: (port, password)."""
    password = secrets.token_urlsafe(16)
    data_dir = workdir / "kota-data"
    data_dir.mkdir()
    await seed_staff(data_dir / "kota.sqlite3", config.professionals, password)
    port = free_port()
    process = await ServerProcess.start(
        KOTA, [sys.executable, "-m", "server.cli", "run"],
        env={"PATH": os.defpath, "PYTHONDONTWRITEBYTECODE": "1",
             "KOTA_HOST": "127.0.0.1", "KOTA_PORT": str(port),
             "KOTA_PUBLIC_URL": f"http://127.0.0.1:{port}", "KOTA_DATA_DIR": str(data_dir),
             "KOTA_LOG_LEVEL": "WARNING"},
        cwd=config.tree, port=port, log_path=workdir / "kota.log",
        core=SERVER_CORE if config.pin else None,
    )
    try:
        yield port, password
        process.check_alive()
    finally:
        await process.stop()


async def run_kota(config: LinesBenchConfig, workdir: Path) -> Spread:
    async with _kota(config, workdir) as (port, password):
        base = f"http://127.0.0.1:{port}"
        origin = {"Origin": base}
        crowd, tasks = Crowd(), list[asyncio.Task[None]]()
        sessions: list[aiohttp.ClientSession] = []

        def browser() -> aiohttp.ClientSession:
            # cookies from an IP address need the unsafe jar
            made = aiohttp.ClientSession(base_url=base, timeout=TIMEOUT,
                                         cookie_jar=aiohttp.CookieJar(unsafe=True))
            sessions.append(made)
            return made

        try:
            admin = browser()
            _, csrf = await _sign_in(admin, "bench-admin", password)
            pros: list[Professional] = []
            ids = []
            for i in range(config.professionals):
                session = browser()
                staff_id, _ = await _sign_in(session, f"bench-pro{i}", password)
                ids.append(staff_id)
                ws = await session.ws_connect("/ws/line", headers=origin)
                await ws.send_json({"type": "hello", "version": "1", "staff": True})
                pros.append(Professional(ws))
            line_id = await _make_line(admin, csrf, ids, max(config.people, 1))
            for pro in pros:
                tasks.append(asyncio.create_task(pro.listen()))
                await pro.ws.send_json({"type": "duty", "lines": [line_id]})
            people = aiohttp.ClientSession(base_url=base, timeout=TIMEOUT,
                                           connector=aiohttp.TCPConnector(limit=0))
            sessions.append(people)

            async def connect() -> Person:
                ws = await people.ws_connect("/ws/line", headers=origin)
                await ws.send_json({"type": "hello", "version": "1", "line": SLUG,
                                    "mode": "chat"})
                return Person(ws)

            await _join_all(crowd, config.people, connect, tasks, config.round_timeout)
            rounds, incomplete = [], 0
            for turn in range(config.takes):
                pro = pros[turn % len(pros)]

                async def take(pro: Professional = pro) -> None:
                    await pro.ws.send_json({"type": "take_next"})

                took = await crowd.measure(take, config.round_timeout)
                if took is None:
                    incomplete += 1
                else:
                    rounds.append(took)
                session_id = await asyncio.wait_for(pro.sessions.get(), config.round_timeout)
                if not session_id:
                    raise LineFailed("take_next found nobody while people were waiting")
                await pro.ws.send_json({"type": "end", "session": session_id})
                await asyncio.wait_for(pro.ended.get(), config.round_timeout)
            for pro in pros:
                await pro.ws.close()
            await asyncio.gather(*(p.ws.close() for p in crowd.people))
        finally:
            for task in tasks:
                task.cancel()
            for session in sessions:
                await session.close()
    return Spread(KOTA, rounds, incomplete)


@contextlib.contextmanager
def _workdir(config: LinesBenchConfig) -> Iterator[Path]:
    with tempfile.TemporaryDirectory(prefix="kota-lines-", dir=config.workdir) as tmp:
        yield Path(tmp)


async def run_lines(config: LinesBenchConfig) -> LinesResult:
    """The floor first, then Kota; each pinned to core 0 while this process uses core 1."""
    raise_file_limit()
    if config.people < 2 or config.takes >= config.people:
        raise ValueError("at least 2 people, and fewer takes than people")
    if config.pin:
        if (os.cpu_count() or 1) < 2:
            raise RuntimeError("pinning needs two cores; run with --no-pin")
        os.sched_setaffinity(0, {LOAD_CORE})
    with _workdir(config) as tmp:
        if config.log:
            print(f"floor: {config.people} people, {config.takes} takes…", file=sys.stderr)
        floor = await run_floor(config, tmp)
        if config.log:
            print(f"kota: {config.people} people, {config.takes} takes…", file=sys.stderr)
        kota = await run_kota(config, tmp)
    return LinesResult(config.people, floor, kota)


def render_text(result: LinesResult) -> str:
    rows = [f"{'server':8} {'takes':>6} {'p50 ms':>8} {'p95 ms':>8} {'max ms':>8} "
            f"{'incomplete':>10}"]
    for spread in (result.floor, result.kota):
        rows.append(f"{spread.server:8} {len(spread.rounds):6d} {spread.p50_ms:8.1f} "
                    f"{spread.p95_ms:8.1f} {spread.max_ms:8.1f} {spread.incomplete:10d}")
    rows.append(f"Kota / floor at p95: {result.ratio_p95:.2f}; aim: every waiting person has "
                f"its new place within 1 s at p95: "
                f"{'met' if result.kota.p95_ms <= 1000 else 'NOT met'}")
    return "\n".join(rows)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m bench lines",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("--people", type=int, default=LinesBenchConfig.people)
    parser.add_argument("--takes", type=int, default=LinesBenchConfig.takes)
    parser.add_argument("--professionals", type=int, default=LinesBenchConfig.professionals)
    parser.add_argument("--no-pin", action="store_true",
                        help="do not pin the server and load generator to cores 0 and 1")
    return parser


def main(argv: Sequence[str]) -> int:
    """Exits 1 when a take's updates did not all arrive or p95 misses 1 s."""
    args = _parser().parse_args(argv)
    config = LinesBenchConfig(people=args.people, takes=args.takes,
                              professionals=args.professionals, pin=not args.no_pin)
    started = datetime.now(UTC)
    try:
        result = asyncio.run(run_lines(config))
    except (asyncio.CancelledError, KeyboardInterrupt):
        print("bench: stopped before the end; servers stopped", file=sys.stderr)
        return 130
    print(f"Line position updates, {started:%Y-%m-%d %H:%M} UTC, {describe_machine()}")
    print(f"{config.people} people on one line, {config.takes} takes by "
          f"{config.professionals} professionals{'' if config.pin else ', NOT pinned'}")
    print(render_text(result))
    return 0 if result.clean and result.kota.p95_ms <= 1000 else 1


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))

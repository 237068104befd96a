"""What metrics cost: ``python -m bench metrics-cost``.

Three measurements, each against a floor measured in the same run, in alternating rounds
so that a busy machine slows both sides alike:

- **relay**: the relay's short way (``LiveRoom.handle`` for a signal between two seated
  participants, encoding included) with a room registry that counts nothing, against the
  same with the app's ``Metrics`` counting each relayed signal;
- **database reads**: ``Database.ping()`` (one read through the read connection) with the
  timing hook a no-op, against the hook feeding the ``kota_db_seconds`` histogram;
- **scrape**: one ``Metrics.scrape()`` (text format) with 50 live calls of four people,
  two waiting each, and 10 contact lines of 20 people (its time is reported, not compared:
  Prometheus asks every 15 s).

Each side's best round counts (the least disturbed). Goals: relay and reads with metrics
at most 1.10x the floor.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from server.db import Database
from server.metrics import Metrics
from signalling import messages as wire
from signalling.effects import CloseReason, Record, Revoke
from signalling.line_desk import LineDesk
from signalling.line_effects import HoursState, LineRules
from signalling.ports import CallSnapshot, JoinWindow, Member, RoomFacts, RoomRules
from signalling.room_registry import LiveRoom, RoomRegistry

NOW = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)
GOAL = 1.10
OFFER = wire.SdpOffer(sdp="v=0\r\no=- 4611 2 IN IP4 127.0.0.1\r\n" + "a=x\r\n" * 30)


class _Discard:
    """An Outbox that drops what it is given (the socket is not what is measured)."""

    def send(self, data: bytes) -> None:
        pass

    def close(self, reason: CloseReason) -> None:
        pass


class _Store:
    """A RoomStore that keeps nothing."""

    async def load(self, appointment_id: str) -> RoomFacts:
        window = JoinWindow(NOW - timedelta(hours=1), NOW + timedelta(hours=1))
        return RoomFacts(window, frozenset({"s:1"}), "s:1")

    def record(self, appointment_id: str, record: Record) -> None:
        pass

    def revoke(self, appointment_id: str, revoke: Revoke) -> None:
        pass

    def save(self, snapshot: CallSnapshot) -> None:
        pass


async def _call(registry: RoomRegistry, key: str, guests: int = 1,
                waiting: int = 0) -> tuple[LiveRoom, _Discard]:
    """A live room with the host and ``guests`` admitted, ``waiting`` more knocking."""
    live = await registry.enter(key)
    host = _Discard()
    live.join(Member("s:1", "Host", "social_worker", is_staff=True), host)
    for n in range(guests + waiting):
        live.join(Member(f"l:{n}", "Guest", "guardian", is_staff=False), _Discard())
        if n < guests:
            live.handle("s:1", host, wire.Admit(participant=f"l:{n}"))
    return live, host


def _registry(observer: Metrics | None) -> RoomRegistry:
    rules = RoomRules(timedelta(seconds=60), 6)
    return RoomRegistry(_Store(), rules, lambda: NOW, observer=observer)


async def _relay_seconds(registry: RoomRegistry, n: int) -> float:
    live, host = await _call(registry, "1")
    signal = wire.Signal(to="l:0", payload=OFFER)
    started = time.perf_counter()
    for _ in range(n):
        live.handle("s:1", host, signal)
    return (time.perf_counter() - started) / n


async def _read_seconds(db: Database, n: int) -> float:
    started = time.perf_counter()
    for _ in range(n):
        await db.ping()
    return (time.perf_counter() - started) / n


def _open_hours(now: datetime) -> HoursState:
    return HoursState(open=True, closes_at=None, opens_at=None)


async def _scrape_seconds(n: int) -> tuple[float, int]:
    metrics = Metrics(lambda: NOW)
    registry = _registry(metrics)
    for key in range(50):
        await _call(registry, str(key + 1), guests=3, waiting=2)
    desk = LineDesk(ice=lambda pid, now: ())
    for line in range(1, 11):
        desk.set_line(LineRules(line, f"Line {line}", "public", "chat", 50, timedelta(minutes=10),
                                timedelta(minutes=5), frozenset({1}), _open_hours))
        for person in range(20):
            desk.board.join(line, f"t{line}-{person}", "chat", NOW - timedelta(seconds=person))

    metrics.watch(rooms=registry, lines=_Hub(desk))
    body = await metrics.scrape()
    started = time.perf_counter()
    for _ in range(n):
        await metrics.scrape()
    return (time.perf_counter() - started) / n, len(body)


@dataclass
class _Hub:
    """What the gauges read of the LineHub: its desk."""

    desk: LineDesk


@dataclass
class Result:
    name: str
    floor: float
    metrics: float

    @property
    def ratio(self) -> float:
        return self.metrics / self.floor


async def _rounds(rounds: int, measure: Callable[[bool], object]) -> tuple[float, float]:
    """Best per-operation seconds without and with metrics, in alternating rounds."""
    plain: list[float] = []
    counted: list[float] = []
    for _ in range(rounds):
        for on, into in ((False, plain), (True, counted)):
            into.append(await measure(on))  # type: ignore[misc]
    return min(plain), min(counted)


async def run(rounds: int, relays: int, reads: int, scrapes: int) -> tuple[list[Result], float,
                                                                          int]:
    async def relay(on: bool) -> float:
        metrics = Metrics(lambda: NOW) if on else None
        return await _relay_seconds(_registry(metrics), relays)

    with tempfile.TemporaryDirectory() as tmp:
        db = Database(Path(tmp) / "bench.sqlite3")
        await db.open()
        await db.migrate()
        untimed = db.timed
        metrics = Metrics(lambda: NOW)

        async def read(on: bool) -> float:
            db.timed = metrics.db_timed if on else untimed
            return await _read_seconds(db, reads)

        try:
            results = [Result("relay a signal (short way)", *await _rounds(rounds, relay)),
                       Result("database read (ping)", *await _rounds(rounds, read))]
        finally:
            await db.close()
    scrape, size = await _scrape_seconds(scrapes)
    return results, scrape, size


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench metrics-cost",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--relays", type=int, default=50_000)
    parser.add_argument("--reads", type=int, default=3_000)
    parser.add_argument("--scrapes", type=int, default=50)
    args = parser.parse_args(argv)
    started = datetime.now(UTC)
    results, scrape, size = asyncio.run(run(args.rounds, args.relays, args.reads, args.scrapes))
    print(f"Metrics cost, {started:%Y-%m-%d %H:%M} UTC, best of {args.rounds} rounds each")
    print(f"{'what':32} {'floor':>10} {'metrics':>10} {'ratio':>7}")
    for r in results:
        print(f"{r.name:32} {r.floor * 1e6:8.2f}us {r.metrics * 1e6:8.2f}us {r.ratio:6.2f}x")
    print(f"one scrape (50 calls, 10 lines): {scrape * 1e3:.2f} ms, {size} bytes")
    lines = [f"{r.name}: {r.ratio:.2f}x the floor (goal <= {GOAL:.2f}: "
             f"{'met' if r.ratio <= GOAL else 'NOT met'})" for r in results]
    print("\n".join(lines))
    return 1 if any("NOT" in line for line in lines) else 0


if __name__ == "__main__":
    sys.exit(main())

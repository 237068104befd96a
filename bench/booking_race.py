"""Families racing for booking times: ``python -m bench booking``.

Against a fresh ``kota run``: B concurrent bookers race for one slot, R rounds (a new
slot each round) — every round must give exactly one ``201`` and B-1 clear ``409
slot_taken`` answers, each with next free times; then B bookers spread over S slots must
make exactly S bookings. Afterwards the SQLite file is read directly: no professional
may hold two overlapping times. Hold latency (from the moment all B requests are let go
to each answer, so it includes the queue for the write lock) is compared with a floor
measured in the same run under the same load: a plain aiohttp handler doing one SQLite
``BEGIN IMMEDIATE`` insert (bench/booking_floor.py). See docs/performance.md,
"Booking race".
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import secrets
import signal
import sqlite3
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session

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

SLUG = "bench-booking"
# A professional's ordinary day: sixteen half-hour slots, every day of the week.
SLOT_MINUTES = 30
OPENS, CLOSES = "08:00", "16:00"
TIMEOUT = aiohttp.ClientTimeout(total=120)


@dataclass
class MailSink:
    """A real SMTP server on loopback (aiosmtpd) for the confirm e-mails Kota sends while
    the families race: a hold is only taken when its confirm link can go out."""

    received: int = 0

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        self.received += 1
        return "250 OK"


@contextlib.contextmanager
def mail_sink() -> Iterator[tuple[MailSink, dict[str, str]]]:
    sink, port = MailSink(), free_port()
    controller = Controller(sink, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield sink, {"KOTA_SMTP_HOST": "127.0.0.1", "KOTA_SMTP_PORT": str(port),
                     "KOTA_SMTP_SECURITY": "none", "KOTA_SMTP_FROM": "kota@bench.invalid"}
    finally:
        controller.stop()


@dataclass(frozen=True)
class BookingBenchConfig:
    bookers: int = 200
    rounds: int = 100
    spread_slots: int = 50
    pin: bool = True
    tree: Path = REPO
    workdir: Path | None = None
    log: bool = True


@dataclass
class RaceTally:
    """What one server answered in the race rounds and the spread phase."""

    latencies: list[float] = field(default_factory=list)
    won_latencies: list[float] = field(default_factory=list)  # the 201s alone
    good_rounds: int = 0
    bad_rounds: list[str] = field(default_factory=list)
    spread_successes: int = 0
    statuses: Counter[str] = field(default_factory=Counter)


@dataclass(frozen=True)
class ServerFigures:
    name: str
    requests: int
    p50_ms: float
    p99_ms: float
    won_p50_ms: float
    won_p99_ms: float
    good_rounds: int
    bad_rounds: tuple[str, ...]
    spread_successes: int
    statuses: dict[str, int]


@dataclass(frozen=True)
class BookingBenchResult:
    bookers: int
    rounds: int
    spread_slots: int
    floor: ServerFigures
    kota: ServerFigures
    double_bookings: int
    holds_stored: int
    server_log_errors: int
    # Confirm e-mails the SMTP sink had received when Kota stopped (one per hold taken,
    # unless the server stopped before its outbox sent the last few).
    confirm_emails: int = 0

    @property
    def correct(self) -> bool:
        return (self.kota.good_rounds == self.rounds and not self.kota.bad_rounds
                and self.kota.spread_successes == self.spread_slots
                and self.double_bookings == 0 and self.server_log_errors == 0
                and self.holds_stored == self.rounds + self.spread_slots)

    def ratio(self, which: str) -> float:
        floor = float(getattr(self.floor, which))
        return float(getattr(self.kota, which)) / floor if floor else float("nan")

    def as_dict(self) -> dict[str, Any]:
        return asdict(self) | {"correct": self.correct}


def _figures(name: str, tally: RaceTally) -> ServerFigures:
    return ServerFigures(
        name=name, requests=len(tally.latencies),
        p50_ms=percentile(tally.latencies, 0.5) * 1e3,
        p99_ms=percentile(tally.latencies, 0.99) * 1e3,
        won_p50_ms=percentile(tally.won_latencies, 0.5) * 1e3,
        won_p99_ms=percentile(tally.won_latencies, 0.99) * 1e3,
        good_rounds=tally.good_rounds, bad_rounds=tuple(tally.bad_rounds[:10]),
        spread_successes=tally.spread_successes, statuses=dict(tally.statuses),
    )


def _address(round_: int, booker: int) -> str:
    """A client address per booker and round, as many families behind Kota's proxy."""
    return f"10.{round_ % 250}.{booker // 250 % 250}.{booker % 250}"


async def _burst(http: aiohttp.ClientSession, path: str, bodies: list[dict[str, Any]],
                 round_: int, tally: RaceTally) -> list[tuple[int, dict[str, Any]]]:
    """All ``bodies`` at once; latency from the release to each answer."""
    gate = asyncio.Event()
    released = 0.0

    async def one(n: int, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        await gate.wait()
        async with http.post(path, json=body,
                             headers={"X-Forwarded-For": _address(round_, n)}) as resp:
            answer = await resp.json()
            tally.latencies.append(time.perf_counter() - released)
            if resp.status == 201:
                tally.won_latencies.append(tally.latencies[-1])
            code = answer.get("error", {}).get("code", "") if resp.status >= 400 else ""
            tally.statuses[f"{resp.status} {code}".strip()] += 1
            return resp.status, answer

    tasks = [asyncio.create_task(one(n, b)) for n, b in enumerate(bodies)]
    await asyncio.sleep(0)
    released = time.perf_counter()
    gate.set()
    return list(await asyncio.gather(*tasks))


def _body(starts_at: str, round_: int, booker: int) -> dict[str, Any]:
    return {"starts_at": starts_at, "display_name": f"Perhe {booker}",
            "contact": f"r{round_}b{booker}@example.fi", "language": "fi"}


def _clear_loss(status: int, body: dict[str, Any], raced: str, kota: bool) -> bool:
    if status != 409 or body.get("error", {}).get("code") != "slot_taken":
        return False
    if not kota:
        return True
    free = body["error"].get("next_free", [])
    return 1 <= len(free) <= 3 and raced not in free


async def race(http: aiohttp.ClientSession, path: str, times: list[str],
               config: BookingBenchConfig, kota: bool) -> RaceTally:
    tally = RaceTally()
    for round_ in range(config.rounds):
        raced = times[round_]
        answers = await _burst(http, path,
                               [_body(raced, round_, b) for b in range(config.bookers)],
                               round_, tally)
        won = sum(status == 201 for status, _ in answers)
        clear = sum(_clear_loss(status, body, raced, kota) for status, body in answers)
        if won == 1 and clear == config.bookers - 1:
            tally.good_rounds += 1
        else:
            tally.bad_rounds.append(f"round {round_}: {won} successes, {clear} clear 409s")
    spread = times[config.rounds:config.rounds + config.spread_slots]
    answers = await _burst(
        http, path,
        [_body(spread[b % len(spread)], config.rounds, b) for b in range(config.bookers)],
        config.rounds, tally)
    tally.spread_successes = sum(status == 201 for status, _ in answers)
    return tally


def count_double_bookings(db_path: Path) -> tuple[int, int]:
    """(overlapping pairs of one professional's holds, holds stored), straight from the
    file: the check must not trust the code it checks."""
    conn = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True)
    try:
        (pairs,) = conn.execute(
            "SELECT COUNT(*) FROM bookings a JOIN bookings b ON b.staff_id = a.staff_id"
            " AND b.id > a.id WHERE a.state IN ('held', 'confirmed')"
            " AND b.state IN ('held', 'confirmed')"
            " AND a.starts_at < b.ends_at AND b.starts_at < a.ends_at").fetchone()
        (stored,) = conn.execute("SELECT COUNT(*) FROM bookings").fetchone()
    finally:
        conn.close()
    return int(pairs), int(stored)


async def _seed(db_path: Path, password: str) -> int:
    """An admin and one professional; returns the professional's id."""
    db = Database(db_path)
    await db.open()
    try:
        await db.migrate()
        hashed = hash_password(password)
        now = datetime.now(UTC)
        async with db.transaction() as tx:
            await tx.create_staff("admin", "Bench Admin", StaffRole.ADMIN, hashed, now)
            host = await tx.create_staff("sanna", "Sanna Bench", StaffRole.PROFESSIONAL,
                                         hashed, now)
    finally:
        await db.close()
    return host.id


async def _open_service(http: aiohttp.ClientSession, password: str, host_id: int,
                        slots_needed: int) -> list[str]:
    """The service (a working day of half-hour slots, every day of the week) and enough
    free times."""
    resp = await http.post("/api/session", json={"username": "admin", "password": password})
    csrf = (await resp.json())["csrf_token"]
    headers = {"X-CSRF-Token": csrf}
    resp = await http.post("/api/services", headers=headers, json={
        "slug": SLUG, "name": "Bench", "slot_minutes": SLOT_MINUTES, "buffer_minutes": 0,
        "notice_minutes": 0, "horizon_days": 30, "max_per_day": 100, "hold_minutes": 120,
        "staff_ids": [host_id]})
    service = await resp.json()
    assert resp.status == 201, service
    hours = [{"staff_id": host_id, "weekday": d, "opens": OPENS, "closes": CLOSES}
             for d in range(7)]
    resp = await http.put(f"/api/services/{service['id']}/hours", headers=headers,
                          json={"hours": hours})
    assert resp.status == 200, await resp.text()
    await http.delete("/api/session", headers=headers)
    tomorrow = (datetime.now(UTC) + timedelta(days=1)).date().isoformat()
    resp = await http.get(f"/api/book/{SLUG}/times?from={tomorrow}&days=31")
    times = [t["starts_at"] for d in (await resp.json())["days"] for t in d["times"]]
    assert len(times) >= slots_needed, len(times)
    return times[:slots_needed]


class BookingRace:
    def __init__(self, config: BookingBenchConfig, workdir: Path,
                 mail_env: dict[str, str]) -> None:
        self.config = config
        self.workdir = workdir
        self.mail_env = mail_env

    def say(self, text: str) -> None:
        if self.config.log:
            print(text, file=sys.stderr, flush=True)

    def _session(self, port: int) -> aiohttp.ClientSession:
        return aiohttp.ClientSession(
            base_url=f"http://127.0.0.1:{port}", timeout=TIMEOUT,
            connector=aiohttp.TCPConnector(limit=0),
            cookie_jar=aiohttp.CookieJar(unsafe=True))

    async def floor(self) -> RaceTally:
        config = self.config
        port = free_port()
        self.say(f"floor: {config.rounds} rounds of {config.bookers} bookers…")
        process = await ServerProcess.start(
            "floor", [sys.executable, "-m", "bench.booking_floor", str(port),
                      str(self.workdir / "floor.sqlite3")],
            env={"PATH": os.defpath, "PYTHONDONTWRITEBYTECODE": "1"}, cwd=config.tree,
            port=port, log_path=self.workdir / "floor.log",
            core=SERVER_CORE if config.pin else None)
        try:
            times = [f"slot-{n}" for n in range(config.rounds + config.spread_slots)]
            async with self._session(port) as http:
                tally = await race(http, "/hold", times, config, kota=False)
            process.check_alive()
            return tally
        finally:
            await process.stop()

    async def kota(self) -> tuple[RaceTally, int, int, int]:
        config = self.config
        data = self.workdir / "kota-data"
        password = secrets.token_urlsafe(16)
        host_id = await _seed(data / "kota.sqlite3", password)
        port = free_port()
        mail = self.mail_env
        process = await ServerProcess.start(
            "kota", [sys.executable, "-m", "server.cli", "run"],
            env={"PATH": os.defpath, "PYTHONDONTWRITEBYTECODE": "1",
                 "KOTA_HOST": "127.0.0.1", "KOTA_PORT": str(port),
                 "KOTA_PUBLIC_URL": f"http://127.0.0.1:{port}", "KOTA_DATA_DIR": str(data),
                 "KOTA_TRUSTED_PROXY": "true", **mail},
            cwd=config.tree, port=port, log_path=self.workdir / "kota.log",
            core=SERVER_CORE if config.pin else None)
        try:
            async with self._session(port) as http:
                times = await _open_service(http, password, host_id,
                                            config.rounds + config.spread_slots)
                self.say(f"kota: {config.rounds} rounds of {config.bookers} bookers…")
                tally = await race(http, f"/api/book/{SLUG}/holds", times, config, kota=True)
            process.check_alive()
        finally:
            await process.stop()
        double, stored = count_double_bookings(data / "kota.sqlite3")
        log = (self.workdir / "kota.log").read_text(errors="replace")
        errors = sum("http.internal_error" in line or "db.write_failed" in line
                     for line in log.splitlines())
        return tally, double, stored, errors


@contextlib.contextmanager
def _workdir(config: BookingBenchConfig) -> Iterator[Path]:
    with tempfile.TemporaryDirectory(prefix="kota-booking-", dir=config.workdir) as tmp:
        yield Path(tmp)


async def run_booking_race(config: BookingBenchConfig) -> BookingBenchResult:
    """The floor first, then Kota; each pinned to core 0 while this process uses core 1."""
    raise_file_limit()
    if config.pin and (os.cpu_count() or 1) < 2:
        raise RuntimeError("pinning needs two cores; run with --no-pin")
    if config.pin:
        os.sched_setaffinity(0, {LOAD_CORE})
    with _workdir(config) as tmp, mail_sink() as (sink, mail_env):
        bench = BookingRace(config, tmp, mail_env)
        floor = await bench.floor()
        kota, double, stored, errors = await bench.kota()
        emails = sink.received
    return BookingBenchResult(
        bookers=config.bookers, rounds=config.rounds, spread_slots=config.spread_slots,
        floor=_figures("floor", floor), kota=_figures("kota", kota), double_bookings=double,
        holds_stored=stored, server_log_errors=errors, confirm_emails=emails,
    )


def render_text(result: BookingBenchResult) -> str:
    k, f = result.kota, result.floor
    lines = [
        f"race: {k.good_rounds}/{result.rounds} rounds with exactly one 201 and "
        f"{result.bookers - 1} clear 409 slot_taken (with next_free)"
        + (f"; BAD: {'; '.join(k.bad_rounds)}" if k.bad_rounds else ""),
        f"spread: {k.spread_successes} bookings from {result.bookers} bookers over "
        f"{result.spread_slots} slots",
        f"double bookings in the file: {result.double_bookings}; holds stored: "
        f"{result.holds_stored}; server log errors: {result.server_log_errors}; "
        f"confirm e-mails received by the SMTP sink: {result.confirm_emails}",
        f"answers: {dict(sorted(k.statuses.items()))}",
        "",
        "| server | holds | p50 ms | p99 ms | successful holds p50 ms | p99 ms |",
        "|---|---:|---:|---:|---:|---:|",
        f"| floor (aiohttp + one BEGIN IMMEDIATE insert) | {f.requests} | {f.p50_ms:.1f} | "
        f"{f.p99_ms:.1f} | {f.won_p50_ms:.1f} | {f.won_p99_ms:.1f} |",
        f"| Kota | {k.requests} | {k.p50_ms:.1f} | {k.p99_ms:.1f} | {k.won_p50_ms:.1f} | "
        f"{k.won_p99_ms:.1f} |",
        f"| Kota / floor | | {result.ratio('p50_ms'):.2f}x | {result.ratio('p99_ms'):.2f}x | "
        f"{result.ratio('won_p50_ms'):.2f}x | {result.ratio('won_p99_ms'):.2f}x |",
        "",
        "CORRECT: no double booking, one winner a round" if result.correct
        else "NOT CORRECT: see above",
    ]
    return "\n".join(lines)


def _parser() -> argparse.ArgumentParser:
    defaults = BookingBenchConfig()
    parser = argparse.ArgumentParser(prog="python -m bench booking",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("--bookers", type=int, default=defaults.bookers,
                        help="concurrent bookers in every burst (default 200)")
    parser.add_argument("--rounds", type=int, default=defaults.rounds,
                        help="races for one slot (default 100)")
    parser.add_argument("--spread-slots", type=int, default=defaults.spread_slots,
                        help="slots the last burst spreads over (default 50)")
    parser.add_argument("--no-pin", action="store_true",
                        help="do not pin the server and load generator to cores 0 and 1")
    parser.add_argument("--json", type=Path, help="also write the raw results here")
    return parser


async def _run(config: BookingBenchConfig) -> BookingBenchResult:
    task = asyncio.current_task()
    assert task is not None
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, task.cancel)
    return await run_booking_race(config)


def main(argv: Sequence[str]) -> int:
    """Exits 1 when a round had no single winner or anything was double-booked."""
    args = _parser().parse_args(argv)
    config = BookingBenchConfig(bookers=args.bookers, rounds=args.rounds,
                                spread_slots=args.spread_slots, pin=not args.no_pin)
    started = datetime.now(UTC)
    try:
        result = asyncio.run(_run(config))
    except (asyncio.CancelledError, KeyboardInterrupt):
        print("bench: stopped before the end; servers stopped", file=sys.stderr)
        return 130
    print(f"Booking race, {started:%Y-%m-%d %H:%M} UTC, {describe_machine()}")
    print(f"{config.bookers} bookers, {config.rounds} rounds, spread over "
          f"{config.spread_slots} slots{'' if config.pin else ', NOT pinned'}; "
          f"args: {' '.join(argv) or '(defaults)'}")
    print(render_text(result))
    if args.json:
        args.json.write_text(json.dumps(result.as_dict(), indent=2))
    return 0 if result.correct else 1

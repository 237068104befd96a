"""The staff API under write load: W writers against ``kota run``, and the SQLite floor.

The floor (bench/sqlite_floor.py) runs first, with as many tasks as writers. Then a
fresh ``kota run`` gets a few seeded professionals, and W writers (bench/staff_writer.py)
sign in as them and book, move, add people, issue and revoke links and cancel for a
fixed time, a quarter of the bookings and moves racing on purpose for a few contested
times per host. After the run the benchmark opens the SQLite file read-only and counts
double bookings: pairs of scheduled appointments of one host whose times overlap, which
must be none. See docs/performance.md, "Staff API under write load".
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import os
import random
import secrets
import signal
import sqlite3
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import aiohttp

from bench.report import percentile
from bench.server_process import ServerProcess, cores_busy_seconds
from bench.signalling_relay import (
    LOAD_CORE,
    REPO,
    SERVER_CORE,
    describe_machine,
    free_port,
    raise_file_limit,
)
from bench.sqlite_floor import FloorResult, run_sqlite_floor
from bench.staff_writer import REQUEST_TIMEOUT, Slots, StaffWriter, Tally
from bench.staff_writes_report import KotaResult, StaffWritesResult, render_markdown, render_text
from server.db import Database
from server.passwords import hash_password
from server.records import StaffRole
from server.settings import load_settings

SERVER_LOG_ERRORS = ("http.internal_error", "db.write_failed")


@dataclass(frozen=True)
class WriteBenchConfig:
    writers: int = 100
    seconds: float = 60.0
    floor_seconds: float | None = None  # None: as long as the writers
    hosts: int | None = None  # professionals; None: one per ten writers, at least two
    contested_share: float = 0.25  # of bookings and moves aimed at a contested time
    contested_times: int = 4  # per host
    floor_rows: int = 6  # row inserts per floor transaction; a booking writes 6-10
    seed: int = 1
    pin: bool = True
    tree: Path = REPO  # the source tree whose ``server.cli run`` is started
    workdir: Path | None = None
    keep: bool = False  # leave the work dir (server log, both databases) behind
    log: bool = True

    @property
    def host_count(self) -> int:
        return self.hosts if self.hosts is not None else max(2, self.writers // 10)


async def seed_staff(db_path: Path, hosts: int, password: str) -> list[tuple[int, str]]:
    """``hosts`` professionals sharing one password; returns (id, username) each."""
    now = datetime.now(UTC)
    db = Database(db_path)
    await db.open()
    try:
        await db.migrate()
        password_hash = hash_password(password)
        async with db.transaction() as tx:
            made = [await tx.create_staff(f"writer{i:03d}", f"Bench Writer {i}",
                                          StaffRole.PROFESSIONAL, password_hash, now)
                    for i in range(hosts)]
    finally:
        await db.close()
    return [(staff.id, staff.username) for staff in made]


def count_double_bookings(db_path: Path) -> tuple[int, int, int]:
    """(double bookings, appointments, scheduled), read straight from the file.

    Deliberately not through ``server.db``: the check must not trust the code it checks.
    Times are stored as ``YYYY-MM-DDTHH:MM:SSZ``, so text order is time order.
    """
    conn = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True)
    try:
        (pairs,) = conn.execute(
            "SELECT COUNT(*) FROM appointments a JOIN appointments b"
            " ON b.host_id = a.host_id AND b.id > a.id"
            " WHERE a.status = 'scheduled' AND b.status = 'scheduled'"
            " AND a.starts_at < b.ends_at AND b.starts_at < a.ends_at"
        ).fetchone()
        total, scheduled = conn.execute(
            "SELECT COUNT(*), COALESCE(SUM(status = 'scheduled'), 0) FROM appointments"
        ).fetchone()
    finally:
        conn.close()
    return int(pairs), int(total), int(scheduled)


class StaffWrites:
    """One invocation: the floor, then Kota with its seeded database, in a work dir."""

    def __init__(self, config: WriteBenchConfig, workdir: Path) -> None:
        self.config = config
        self.workdir = workdir
        self.settings = load_settings({"KOTA_DATA_DIR": str(workdir / "kota-data")})
        self.floor_other_load = self.kota_other_load = math.nan

    def say(self, text: str) -> None:
        if self.config.log:
            print(text, file=sys.stderr, flush=True)

    def _pin(self, core: int) -> None:
        if self.config.pin:
            os.sched_setaffinity(0, {core})

    async def floor(self) -> FloorResult:
        config = self.config
        seconds = config.floor_seconds if config.floor_seconds is not None else config.seconds
        self.say(f"floor: {config.writers} tasks, {config.floor_rows} rows a transaction, "
                 f"{seconds:g}s…")
        self._pin(SERVER_CORE)  # the floor is the server here; its thread inherits this
        try:
            cores, own, wall = cores_busy_seconds(), time.process_time(), time.perf_counter()
            floor = await run_sqlite_floor(self.workdir / "floor.sqlite3", config.writers,
                                           seconds, config.floor_rows)
            self.floor_other_load = self._other_load(
                cores, time.process_time() - own, time.perf_counter() - wall)
            return floor
        finally:
            self._pin(LOAD_CORE)

    def _other_load(self, cores_before: tuple[float, ...], own_s: float, wall_s: float) -> float:
        """Share of core 0 that went to anything but ``own_s`` over ``wall_s``."""
        if not self.config.pin:
            return math.nan
        busy = cores_busy_seconds()[SERVER_CORE] - cores_before[SERVER_CORE]
        return (busy - own_s) / wall_s

    async def kota(self) -> KotaResult:
        config = self.config
        password = secrets.token_urlsafe(16)
        accounts = await seed_staff(self.settings.db_path, config.host_count, password)
        hosts = [staff_id for staff_id, _ in accounts]
        port = free_port()
        process = await ServerProcess.start(
            "kota", [sys.executable, "-m", "server.cli", "run"],
            env={"PATH": os.defpath, "PYTHONDONTWRITEBYTECODE": "1",
                 "KOTA_HOST": "127.0.0.1", "KOTA_PORT": str(port),
                 "KOTA_PUBLIC_URL": f"http://127.0.0.1:{port}",
                 "KOTA_DATA_DIR": str(self.settings.data_dir)},
            cwd=config.tree, port=port, log_path=self.workdir / "kota.log",
            core=SERVER_CORE if config.pin else None,
        )
        tally = Tally()
        day = (datetime.now(UTC) + timedelta(days=2)).replace(hour=0, minute=0, second=0,
                                                              microsecond=0)
        slots = Slots(hosts, config.contested_times, day)
        writers: list[StaffWriter] = []
        try:
            for i in range(config.writers):
                session = aiohttp.ClientSession(
                    base_url=f"http://127.0.0.1:{port}", timeout=REQUEST_TIMEOUT,
                    cookie_jar=aiohttp.CookieJar(unsafe=True),  # cookies from an IP address
                )
                writers.append(StaffWriter(
                    i, accounts[i % len(accounts)][1], password, hosts, slots, tally,
                    config.contested_share, random.Random(config.seed * 100_003 + i), session,
                ))
            self.say(f"kota: {config.writers} writers signing in as {len(hosts)} "
                     "professionals…")
            # One after another: sign-ins from one address count as attempts until they
            # succeed, so a hundred at once would be throttled (docs/api.md).
            for writer in writers:
                await writer.sign_in()
            self.say(f"kota: writing for {config.seconds:g}s…")
            started, cpu, cores = time.perf_counter(), process.cpu_seconds(), cores_busy_seconds()
            await asyncio.gather(*(w.run(started + config.seconds) for w in writers))
            window, cpu = time.perf_counter() - started, process.cpu_seconds() - cpu
            self.kota_other_load = self._other_load(cores, cpu, window)
            process.check_alive()
        finally:
            await asyncio.gather(*(w.session.close() for w in writers))
            await process.stop()
        double, total, scheduled = count_double_bookings(self.settings.db_path)
        latencies = [v for values in tally.latencies.values() for v in values]
        return KotaResult(
            writers=config.writers, hosts=len(hosts), requests=len(latencies),
            window_s=window, cpu_s=cpu, p50_ms=percentile(latencies, 0.5) * 1e3,
            p99_ms=percentile(latencies, 0.99) * 1e3,
            overlaps=sum(tally.overlaps.values()), errors=dict(tally.errors),
            double_bookings=double, appointments=total, scheduled=scheduled,
            server_log_errors=self._server_log_errors(), by_op=tally.by_op(),
        )

    def _server_log_errors(self) -> int:
        text = (self.workdir / "kota.log").read_text(errors="replace")
        return sum(any(name in line for name in SERVER_LOG_ERRORS)
                   for line in text.splitlines())


@contextlib.contextmanager
def _workdir(config: WriteBenchConfig) -> Iterator[Path]:
    prefix = "kota-staff-writes-"
    if config.keep:
        yield Path(tempfile.mkdtemp(prefix=prefix, dir=config.workdir))
        return
    with tempfile.TemporaryDirectory(prefix=prefix, dir=config.workdir) as tmp:
        yield Path(tmp)


async def run_staff_writes(config: WriteBenchConfig) -> StaffWritesResult:
    """The floor first, then Kota; each pinned to core 0 while this process uses core 1."""
    raise_file_limit()
    if config.pin and (os.cpu_count() or 1) < 2:
        raise RuntimeError("pinning needs two cores; run with --no-pin")
    with _workdir(config) as tmp:
        bench = StaffWrites(config, tmp)
        if config.keep:
            bench.say(f"work dir (kept): {tmp}")
        floor = await bench.floor()
        kota = await bench.kota()
    return StaffWritesResult(floor, kota, bench.floor_other_load, bench.kota_other_load)


# -- command line ----------------------------------------------------------------------


def _parser() -> argparse.ArgumentParser:
    defaults = WriteBenchConfig()
    parser = argparse.ArgumentParser(prog="python -m bench staff-writes",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("--writers", type=int, default=defaults.writers,
                        help="concurrent writers, and the floor's tasks (default 100)")
    parser.add_argument("--seconds", type=float, default=defaults.seconds,
                        help="how long the writers write (default 60)")
    parser.add_argument("--floor-seconds", type=float,
                        help="how long the floor runs (default: --seconds)")
    parser.add_argument("--hosts", type=int,
                        help="professionals to sign in as and book for (default writers/10, "
                        "at least 2)")
    parser.add_argument("--contested-share", type=float, default=defaults.contested_share,
                        help="share of bookings and moves aimed at a contested time "
                        "(default 0.25)")
    parser.add_argument("--floor-rows", type=int, default=defaults.floor_rows,
                        help="row inserts per floor transaction (default 6)")
    parser.add_argument("--seed", type=int, default=defaults.seed,
                        help="for the writers' random choices")
    parser.add_argument("--tree", type=Path, default=REPO,
                        help="start `kota run` from this source tree (e.g. an earlier commit "
                        "unpacked with `git archive`)")
    parser.add_argument("--keep", action="store_true",
                        help="keep the work dir: the server's log and both databases")
    parser.add_argument("--no-pin", action="store_true",
                        help="do not pin the server and load generator to cores 0 and 1")
    parser.add_argument("--json", type=Path, help="also write the raw results here")
    parser.add_argument("--markdown", action="store_true",
                        help="also print the tables as Markdown for docs/performance.md")
    return parser


async def _run(config: WriteBenchConfig) -> StaffWritesResult:
    """SIGTERM cancels the run like Ctrl+C, so the server it started is stopped too."""
    task = asyncio.current_task()
    assert task is not None
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, task.cancel)
    return await run_staff_writes(config)


def main(argv: Sequence[str]) -> int:
    """Exits 1 on an error or a double booking, never on the latency goal."""
    args = _parser().parse_args(argv)
    config = WriteBenchConfig(
        writers=args.writers, seconds=args.seconds, floor_seconds=args.floor_seconds,
        hosts=args.hosts, contested_share=args.contested_share, floor_rows=args.floor_rows,
        seed=args.seed, pin=not args.no_pin, tree=args.tree.resolve(), keep=args.keep,
    )
    started = datetime.now(UTC)
    try:
        result = asyncio.run(_run(config))
    except (asyncio.CancelledError, KeyboardInterrupt):
        print("bench: stopped before the end; server stopped", file=sys.stderr)
        return 130
    print(f"Staff API under write load, {started:%Y-%m-%d %H:%M} UTC, {describe_machine()}")
    print(f"{config.writers} writers as {result.kota.hosts} professionals for "
          f"{config.seconds:g}s, {config.contested_share:.0%} aimed at contested times; floor: "
          f"{config.writers} tasks, {config.floor_rows} rows a transaction"
          f"{'' if config.pin else ', NOT pinned'}"
          f"{'' if config.tree == REPO else f', server from {config.tree}'}; "
          f"args: {' '.join(argv) or '(defaults)'}")
    print(render_text(result))
    if args.markdown:
        print()
        print(render_markdown(result))
    if args.json:
        args.json.write_text(json.dumps(result.as_dict(), indent=2))
    return 0 if result.correct else 1

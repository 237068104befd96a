"""The floor for the staff write benchmark: bare aiosqlite transactions, nothing else.

N asyncio tasks share one connection behind one lock, as Kota's request handlers share
its one write connection. Each task loops: wait for the lock, ``BEGIN IMMEDIATE``,
``rows`` single-row inserts (one awaited statement each, as Kota issues them), ``COMMIT``.
Durability is Kota's (WAL, ``synchronous=NORMAL``, ``busy_timeout``, foreign keys on);
there is no HTTP, no session, no validation, no read, no usage-log chain. Latency runs
from the moment a task wants to write to its commit, so it includes the wait for the
lock behind the other tasks, as a Kota request's latency includes its queue.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import aiosqlite

from bench.report import percentile

PRAGMAS = ("journal_mode=WAL", "foreign_keys=ON", "busy_timeout=5000", "synchronous=NORMAL")
# A row about the size of an appointment, participant or usage-log row, with an index to
# keep up to date like each of Kota's tables has.
SCHEMA = (
    "CREATE TABLE IF NOT EXISTS floor_rows (id INTEGER PRIMARY KEY, task INTEGER NOT NULL,"
    " at TEXT NOT NULL, payload TEXT NOT NULL)",
    "CREATE INDEX IF NOT EXISTS floor_rows_by_task ON floor_rows(task, at)",
)
INSERT = "INSERT INTO floor_rows (task, at, payload) VALUES (?, ?, ?)"
PAYLOAD = "x" * 120


@dataclass(frozen=True)
class FloorResult:
    tasks: int
    rows_per_transaction: int
    transactions: int
    window_s: float
    cpu_s: float  # this process's CPU time (every thread) over the window
    p50_ms: float
    p99_ms: float

    @property
    def rate(self) -> float:
        return self.transactions / self.window_s if self.window_s else 0.0

    @property
    def cpu_per_transaction_ms(self) -> float:
        return self.cpu_s / self.transactions * 1e3 if self.transactions else float("nan")


async def run_sqlite_floor(path: Path, tasks: int, seconds: float, rows: int) -> FloorResult:
    """``tasks`` writers for ``seconds``, each transaction inserting ``rows`` rows."""
    conn = await aiosqlite.connect(path, isolation_level=None)
    try:
        for setting in PRAGMAS:
            async with conn.execute(f"PRAGMA {setting}") as cursor:
                await cursor.fetchall()
        for statement in SCHEMA:
            await conn.execute(statement)
        lock = asyncio.Lock()
        latencies: list[float] = []
        started, cpu = time.perf_counter(), time.process_time()
        deadline = started + seconds

        async def writer(task: int) -> None:
            while time.perf_counter() < deadline:
                wanted = time.perf_counter()
                async with lock:
                    await conn.execute("BEGIN IMMEDIATE")
                    at = datetime.now(UTC).isoformat()
                    for _ in range(rows):
                        await conn.execute(INSERT, (task, at, PAYLOAD))
                    await conn.execute("COMMIT")
                latencies.append(time.perf_counter() - wanted)

        await asyncio.gather(*(writer(i) for i in range(tasks)))
        window, cpu = time.perf_counter() - started, time.process_time() - cpu
    finally:
        await conn.close()
    return FloorResult(
        tasks=tasks, rows_per_transaction=rows, transactions=len(latencies), window_s=window,
        cpu_s=cpu, p50_ms=percentile(latencies, 0.5) * 1e3,
        p99_ms=percentile(latencies, 0.99) * 1e3,
    )

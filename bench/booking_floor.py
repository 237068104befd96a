"""The floor for the booking benchmark: a plain aiohttp server whose hold handler does one
SQLite ``BEGIN IMMEDIATE`` insert, nothing else.

``python -m bench.booking_floor PORT DB``. One aiosqlite connection behind one lock, as
Kota's handlers share its write connection, with Kota's pragmas (WAL, ``synchronous=
NORMAL``, foreign keys, ``busy_timeout``). ``POST /hold`` parses the JSON body, takes the
lock, inserts one row (a UNIQUE index on the time, so a second hold of a time is a
``409``) and commits. No validation, no reads, no slot rules, no usage log, no outbox.
"""

from __future__ import annotations

import asyncio
import sqlite3
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import aiosqlite
from aiohttp import web

from bench.sqlite_floor import PRAGMAS

CONNECTION = web.AppKey("connection", aiosqlite.Connection)
LOCK = web.AppKey("lock", asyncio.Lock)


async def healthz(request: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})


async def hold(request: web.Request) -> web.Response:
    body = await request.json()
    conn = request.app[CONNECTION]
    async with request.app[LOCK]:
        await conn.execute("BEGIN IMMEDIATE")
        try:
            await conn.execute("INSERT INTO holds (starts_at, contact) VALUES (?, ?)",
                               (str(body["starts_at"]), str(body["contact"])))
        except sqlite3.IntegrityError:
            await conn.execute("ROLLBACK")
            return web.json_response({"error": {"code": "slot_taken"}}, status=409)
        await conn.execute("COMMIT")
    return web.json_response({"booking": {"starts_at": body["starts_at"]}}, status=201)


async def _database(app: web.Application, path: Path) -> AsyncIterator[None]:
    conn = await aiosqlite.connect(path, isolation_level=None)
    for setting in PRAGMAS:
        async with conn.execute(f"PRAGMA {setting}") as cursor:
            await cursor.fetchall()
    await conn.execute("CREATE TABLE IF NOT EXISTS holds (id INTEGER PRIMARY KEY,"
                       " starts_at TEXT NOT NULL UNIQUE, contact TEXT NOT NULL)")
    app[CONNECTION] = conn
    app[LOCK] = asyncio.Lock()
    yield
    await conn.close()


def make_app(path: Path) -> web.Application:
    app = web.Application()
    app.cleanup_ctx.append(lambda a: _database(a, path))
    app.router.add_get("/healthz", healthz)
    app.router.add_post("/hold", hold)
    return app


if __name__ == "__main__":
    web.run_app(make_app(Path(sys.argv[2])), host="127.0.0.1", port=int(sys.argv[1]),
                print=None, access_log=None)

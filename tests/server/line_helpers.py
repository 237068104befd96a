"""Line test helpers: a line set up through the admin API, a frozen Monday, the DB file
read directly."""

from __future__ import annotations

import sqlite3
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from server.settings import Settings
from tests.conftest import Accounts, StaffClient

HELSINKI = ZoneInfo("Europe/Helsinki")
# A Monday morning in winter (UTC+2): the tests' clock is set here (and flows on).
MONDAY = datetime(2027, 1, 4, 10, 0, tzinfo=HELSINKI)


def line_body(accounts: Accounts, **fields: Any) -> dict[str, Any]:
    """A public line Sanna and Pekka serve on weekdays 8-20; ``fields`` override."""
    body: dict[str, Any] = {
        "slug": "perheneuvonta", "name": "Perheneuvonta — chat", "kind": "public",
        "modes": "both", "queue_cap": 20, "grace_minutes": 10, "callback_after_minutes": 5,
        "staff_ids": [accounts.worker.id, accounts.specialist.id],
        "hours": [{"weekday": d, "opens": "08:00", "closes": "20:00"} for d in range(5)],
        "closures": [],
    }
    body.update(fields)
    return body


async def make_line(admin: StaffClient, accounts: Accounts, **fields: Any) -> dict[str, Any]:
    resp = await admin.post("/api/lines", json=line_body(accounts, **fields))
    created: dict[str, Any] = await resp.json()
    assert resp.status == 201, created
    return created


def rows(settings: Settings, sql: str, *params: Any) -> list[tuple[Any, ...]]:
    with sqlite3.connect(settings.db_path) as conn:
        return list(conn.execute(sql, params))


def execute(settings: Settings, sql: str, *params: Any) -> None:
    """A change behind the server's back (an account closed elsewhere, say)."""
    with sqlite3.connect(settings.db_path) as conn:
        conn.execute(sql, params)


def file_bytes(settings: Settings) -> bytes:
    """The database file and its write-ahead log, as they lie on disk."""
    found = b""
    for suffix in ("", "-wal"):
        path = settings.db_path.with_name(settings.db_path.name + suffix)
        if path.exists():
            found += path.read_bytes()
    return found

"""Parsing of path and query parameters into the values handlers need."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from aiohttp import web

from server.errors import BadRequest, NotFound

# Days far enough from date.min/date.max that local midnights convert to UTC and back.
FIRST_DAY = date(1970, 1, 1)
LAST_DAY = date(9998, 12, 31)


def _whole_number(raw: str) -> int | None:
    """ASCII digits only: ``str.isdigit`` also accepts '²', which ``int`` refuses."""
    if raw.isascii() and raw.isdigit() and len(raw) <= 12:
        return int(raw)
    return None


def path_id(request: web.Request, name: str) -> int:
    value = _whole_number(request.match_info[name])
    if value is None:
        raise NotFound("not_found", "Nothing is here.")
    return value


def query_int(request: web.Request, name: str) -> int | None:
    raw = request.query.get(name)
    if raw is None or raw == "":
        return None
    value = _whole_number(raw)
    if value is None:
        raise BadRequest("bad_query", f"{name} must be a whole number.")
    return value


def query_date(request: web.Request, name: str, default: date | None = None) -> date:
    raw = request.query.get(name)
    if not raw:
        if default is None:
            raise BadRequest("bad_query", f"{name} is required (YYYY-MM-DD).")
        return default
    try:
        day = date.fromisoformat(raw)
    except ValueError:
        raise BadRequest("bad_query", f"{name} must be a date like 2026-12-01.") from None
    if not FIRST_DAY <= day <= LAST_DAY:
        raise BadRequest("bad_query", f"{name} must be between {FIRST_DAY} and {LAST_DAY}.")
    return day


def day_bounds(day: date, tz: ZoneInfo) -> tuple[datetime, datetime]:
    """Local midnight to the next local midnight, so DST days have their true length."""
    start = datetime.combine(day, time.min, tz)
    end = datetime.combine(day + timedelta(days=1), time.min, tz)
    return start, end

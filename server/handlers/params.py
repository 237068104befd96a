"""Parsing of path and query parameters into the values handlers need."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from aiohttp import web

from server.errors import BadRequest, NotFound


def path_id(request: web.Request, name: str) -> int:
    raw = request.match_info[name]
    if not raw.isdigit() or len(raw) > 12:
        raise NotFound("not_found", "Nothing is here.")
    return int(raw)


def query_int(request: web.Request, name: str) -> int | None:
    raw = request.query.get(name)
    if raw is None or raw == "":
        return None
    if not raw.isdigit() or len(raw) > 12:
        raise BadRequest("bad_query", f"{name} must be a whole number.")
    return int(raw)


def query_date(request: web.Request, name: str, default: date | None = None) -> date:
    raw = request.query.get(name)
    if not raw:
        if default is None:
            raise BadRequest("bad_query", f"{name} is required (YYYY-MM-DD).")
        return default
    try:
        return date.fromisoformat(raw)
    except ValueError:
        raise BadRequest("bad_query", f"{name} must be a date like 2026-12-01.") from None


def day_bounds(day: date, tz: ZoneInfo) -> tuple[datetime, datetime]:
    """Local midnight to the next local midnight, so DST days have their true length."""
    start = datetime.combine(day, time.min, tz)
    end = datetime.combine(day + timedelta(days=1), time.min, tz)
    return start, end

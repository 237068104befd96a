"""Usage-log export for administrators, as CSV for a date range."""

from __future__ import annotations

from aiohttp import web

from server import audit
from server.app_keys import AUDIT, DB, SETTINGS
from server.errors import BadRequest
from server.handlers.params import day_bounds, query_date
from server.staff_auth import require_admin

routes = web.RouteTableDef()

MAX_DAYS = 366


@routes.get("/api/audit.csv")
async def export_audit_log(request: web.Request) -> web.StreamResponse:
    """Rows from local midnight of ``from`` to the end of ``to``, streamed."""
    session = require_admin(request)
    tz = request.app[SETTINGS].timezone
    first = query_date(request, "from")
    last = query_date(request, "to")
    if last < first:
        raise BadRequest("bad_query", "'to' must not be before 'from'.")
    if (last - first).days >= MAX_DAYS:
        raise BadRequest("bad_query", f"Export at most {MAX_DAYS} days at a time.")
    start, _ = day_bounds(first, tz)
    _, end = day_bounds(last, tz)
    await request.app[AUDIT].flush()  # call rows still queued belong in the export
    await request.app[AUDIT].record(
        audit.Actor.staff(session.staff.id),
        audit.Action.AUDIT_EXPORTED,
        detail={"days": (last - first).days + 1},
    )
    response = web.StreamResponse(
        headers={
            "Content-Type": "text/csv; charset=utf-8",
            "Content-Disposition": f'attachment; filename="kota-usage-{first}-{last}.csv"',
            "Cache-Control": "no-store",
        }
    )
    await response.prepare(request)
    await response.write(audit.csv_header().encode())
    async for row in request.app[DB].iter_audit_rows(start, end):
        await response.write(audit.csv_line(row).encode())
    await response.write_eof()
    return response

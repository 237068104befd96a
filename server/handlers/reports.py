"""The organisation report for admins: JSON, CSV and XLSX (docs/reports.md)."""

from __future__ import annotations

from aiohttp import web

from server import audit
from server.app_keys import AUDIT, CLOCK, DB, SETTINGS
from server.organisation_report import OrganisationReport
from server.report_exports import report_csv, report_xlsx
from server.report_reader import (
    MonthRange,
    month_range,
    read_organisation_report,
    selection_of,
)
from server.staff_auth import require_admin

routes = web.RouteTableDef()

XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


async def _read(request: web.Request, fmt: str) -> tuple[MonthRange, OrganisationReport]:
    """The report, and its ``report.read`` row stored before anything is sent."""
    session = require_admin(request)
    query = request.query
    months = month_range(query.get("from"), query.get("to"))
    selection = selection_of(query.get("service"), query.get("kind"), query.get("staff"))
    await request.app[AUDIT].flush()  # call rows still queued belong in the report
    report = await read_organisation_report(request.app[DB], months,
                                            request.app[SETTINGS].timezone,
                                            request.app[CLOCK](), selection)
    detail = {"format": fmt, "months": months.months, **selection.detail()}
    await request.app[AUDIT].record(audit.Actor.staff(session.staff.id),
                                    audit.Action.REPORT_READ, detail=detail)
    return months, report


def _file(months: MonthRange, body: bytes, content_type: str, ext: str) -> web.Response:
    name = f"kota-report-{months.label(months.first)}-{months.label(months.last)}.{ext}"
    return web.Response(body=body, headers={
        "Content-Type": content_type,
        "Content-Disposition": f'attachment; filename="{name}"',
        "Cache-Control": "no-store",
    })


@routes.get("/api/reports/organisation")
async def get_organisation_report(request: web.Request) -> web.Response:
    months, report = await _read(request, "json")
    return web.json_response(
        {
            "from": months.label(months.first),
            "to": months.label(months.last),
            "timezone": request.app[SETTINGS].timezone.key,
            "rows": report.rows,
            "lines": report.lines,
            "totals": report.totals,
            "months": report.months,
            "choices": report.choices,
        },
        headers={"Cache-Control": "no-store"},
    )


@routes.get("/api/reports/organisation.csv")
async def export_organisation_report_csv(request: web.Request) -> web.Response:
    months, report = await _read(request, "csv")
    return _file(months, report_csv(report), "text/csv; charset=utf-8", "csv")


@routes.get("/api/reports/organisation.xlsx")
async def export_organisation_report_xlsx(request: web.Request) -> web.Response:
    months, report = await _read(request, "xlsx")
    return _file(months, report_xlsx(report), XLSX_TYPE, "xlsx")

"""The client's access report: from the family's own join link, or by contact for
registry staff (JSON or PDF). docs/access-report.md says what it holds and why."""

from __future__ import annotations

import asyncio
import time
from typing import Any
from zoneinfo import ZoneInfo

import msgspec
from aiohttp import web

from server import staff_auth
from server.access_report import AppointmentReport, Entry
from server.access_report_pdf import render_pdf
from server.access_reports import AccessReports, ContactReport
from server.app_keys import AUDIT, CLOCK, DB, JOIN_THROTTLE, LINKS, SETTINGS
from server.errors import Unprocessable
from server.join_throttle import check_join_rate
from server.request_bodies import decode_body

routes = web.RouteTableDef()


class ReportIn(msgspec.Struct, forbid_unknown_fields=True):
    # As at /api/join: decode_token refuses an empty or overlong token as token_malformed.
    token: str


def _reports(request: web.Request) -> AccessReports:
    app = request.app
    return AccessReports(app[DB], app[AUDIT], app[LINKS], app[SETTINGS].timezone)


def entry_json(entry: Entry, tz: ZoneInfo) -> dict[str, Any]:
    return {"at": entry.at.astimezone(tz).isoformat(), "who": entry.who, "role": entry.role,
            "role_code": entry.role_code, "title": entry.title, "what": entry.what.value,
            "count": entry.count}


def appointment_json(report: AppointmentReport, tz: ZoneInfo) -> dict[str, Any]:
    """Times and entries only: never the kind, other participants or anyone's contact."""
    return {
        "starts_at": report.starts_at.astimezone(tz).isoformat(),
        "ends_at": report.ends_at.astimezone(tz).isoformat(),
        "cancelled": report.cancelled,
        "entries": [entry_json(e, tz) for e in report.entries],
    }


def contact_report_json(report: ContactReport, tz: ZoneInfo) -> dict[str, Any]:
    appointments = []
    for item in report.appointments:
        people = [{"display_name": p.display_name, "role": p.role} for p in item.people]
        appointments.append({**appointment_json(item, tz), "appointment_id": item.appointment_id,
                             "participant": people[0], "participants": people})
    return {
        "contact": report.contact,
        "produced_at": report.produced_at.astimezone(tz).isoformat(),
        "produced_by": {"display_name": report.produced_by.display_name,
                        "title": report.produced_by.title},
        "appointments": appointments,
        "timezone": str(tz),
    }


def _no_store(response: web.StreamResponse) -> web.StreamResponse:
    response.headers["Cache-Control"] = "no-store"
    return response


@routes.post("/api/join/access-report")
async def read_family_access_report(request: web.Request) -> web.StreamResponse:
    """Who on the staff handled the family member's data; the same rate limit and the
    same refusals as /api/join, but an expired link still works."""
    check_join_rate(request.app[JOIN_THROTTLE], staff_auth.client_address(request),
                    time.monotonic())
    body = await decode_body(request, ReportIn)
    tz = request.app[SETTINGS].timezone
    report = await _reports(request).for_link(body.token, request.app[CLOCK]())
    return _no_store(web.json_response({
        "appointments": [appointment_json(a, tz) for a in report.appointments],
        "timezone": str(tz),
    }))


def _contact(request: web.Request) -> str:
    values = request.query.getall("contact", [])
    if len(values) != 1:
        raise Unprocessable("invalid_contact",
                            "Give an e-mail address or a phone number with its country code.")
    return str(values[0])


@routes.get("/api/access-reports")
async def produce_access_report(request: web.Request) -> web.StreamResponse:
    session = staff_auth.require_staff(request)
    tz = request.app[SETTINGS].timezone
    report = await _reports(request).for_contact(
        session.staff, _contact(request), "json", request.app[CLOCK]())
    return _no_store(web.json_response(contact_report_json(report, tz)))


@routes.get("/api/access-reports.pdf")
async def produce_access_report_pdf(request: web.Request) -> web.StreamResponse:
    session = staff_auth.require_staff(request)
    tz = request.app[SETTINGS].timezone
    report = await _reports(request).for_contact(
        session.staff, _contact(request), "pdf", request.app[CLOCK]())
    pdf = await asyncio.to_thread(render_pdf, report, tz)  # keeps the loop free meanwhile
    response = web.Response(body=pdf, content_type="application/pdf")
    day = report.produced_at.astimezone(tz).date().isoformat()
    response.headers["Content-Disposition"] = f'attachment; filename="access-report-{day}.pdf"'
    return _no_store(response)

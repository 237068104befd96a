"""The public booking API: no account; a family books, confirms and manages its time."""

from __future__ import annotations

import dataclasses
import time
from datetime import timedelta
from typing import Any
from zoneinfo import ZoneInfo

from aiohttp import web

from server.app_keys import BOOKING_DESK, BOOKING_THROTTLE, CLOCK, ROOMS, SETTINGS
from server.booking import MAX_DAYS, Confirmed, HoldIn, MoveIn, TokenIn, contact_hint
from server.errors import BadRequest
from server.handlers.params import query_date, query_int
from server.records import AppointmentStatus, Booking
from server.request_bodies import decode_body
from server.staff_auth import client_address

routes = web.RouteTableDef()


def held_json(booking: Booking, tz: ZoneInfo) -> dict[str, Any]:
    """What the family who asked sees of its hold: never the professional."""
    return {
        "starts_at": booking.starts_at.astimezone(tz).isoformat(),
        "ends_at": booking.ends_at.astimezone(tz).isoformat(),
        "hold_expires_at": booking.hold_expires_at.astimezone(tz).isoformat(),
        "channel": booking.channel.value,
        "contact_hint": contact_hint(booking.contact),
    }


def booking_json(request: web.Request, done: Confirmed) -> dict[str, Any]:
    tz = request.app[SETTINGS].timezone
    desk = request.app[BOOKING_DESK]
    now = request.app[CLOCK]()
    # The appointment's own times: staff may have moved it since the family booked.
    booking = dataclasses.replace(done.booking, starts_at=done.appointment.starts_at,
                                  ends_at=done.appointment.ends_at)
    service = done.service
    # Staff may cancel the appointment itself: the family's page then says cancelled.
    cancelled_by_staff = done.appointment.status is AppointmentStatus.CANCELLED
    return {
        "booking": {
            "service": service.name,
            "slug": service.slug,
            "starts_at": booking.starts_at.astimezone(tz).isoformat(),
            "ends_at": booking.ends_at.astimezone(tz).isoformat(),
            "state": "cancelled" if cancelled_by_staff else booking.state.value,
            "host_first_name": done.appointment.host.first_name,
            "cutoff_at": desk.cutoff_at(booking, service).astimezone(tz).isoformat(),
            "can_change": not cancelled_by_staff and desk.can_change(booking, service, now),
            "channel": booking.channel.value,
            "contact_hint": contact_hint(booking.contact),
            # The pages speak it on a device that has no language chosen of its own.
            "language": booking.language.value,
        },
        "join_url": done.join_url,
        "manage_url": done.manage_url,
    }


@routes.get("/api/book/{slug}")
async def get_booking_page(request: web.Request) -> web.Response:
    service = await request.app[BOOKING_DESK].service(request.app[BOOKING_DESK].db,
                                                      request.match_info["slug"])
    return web.json_response({
        "name": service.name,
        "slug": service.slug,
        "kinds": [k.value for k in service.kinds],
        "slot_minutes": service.slot_minutes,
        "hold_minutes": service.hold_minutes,
        "timezone": request.app[SETTINGS].timezone.key,
        "horizon_days": service.horizon_days,
        # What a family's contact may be: the confirm link goes by these.
        "channels": [c.value for c in request.app[BOOKING_DESK].channels],
    })


@routes.get("/api/book/{slug}/times")
async def list_free_times(request: web.Request) -> web.Response:
    tz = request.app[SETTINGS].timezone
    now = request.app[CLOCK]()
    first_day = query_date(request, "from", now.astimezone(tz).date())
    days = query_int(request, "days") or 7
    if not 1 <= days <= MAX_DAYS:
        raise BadRequest("bad_query", f"days must be between 1 and {MAX_DAYS}.")
    _, slots = await request.app[BOOKING_DESK].free_times(request.match_info["slug"],
                                                          first_day, days, now)
    by_day: dict[str, list[dict[str, str]]] = {
        (first_day + timedelta(days=n)).isoformat(): [] for n in range(days)
    }
    for slot in slots:
        local = slot.starts_at.astimezone(tz)
        by_day.setdefault(local.date().isoformat(), []).append(
            {"starts_at": local.isoformat(), "ends_at": slot.ends_at.astimezone(tz).isoformat()}
        )
    return web.json_response({"days": [{"date": d, "times": t} for d, t in by_day.items()]})


@routes.post("/api/book/{slug}/holds")
async def hold_time(request: web.Request) -> web.Response:
    request.app[BOOKING_THROTTLE].check(client_address(request), time.monotonic())
    body = await decode_body(request, HoldIn)
    booking = await request.app[BOOKING_DESK].hold(request.match_info["slug"], body,
                                                   request.app[CLOCK]())
    return web.json_response({"booking": held_json(booking, request.app[SETTINGS].timezone)},
                             status=201)


@routes.post("/api/book/confirm")
async def confirm_booking(request: web.Request) -> web.Response:
    body = await decode_body(request, TokenIn)
    done = await request.app[BOOKING_DESK].confirm(body.token, request.app[CLOCK]())
    return web.json_response(booking_json(request, done))


@routes.post("/api/book/manage")
async def read_booking(request: web.Request) -> web.Response:
    body = await decode_body(request, TokenIn)
    done = await request.app[BOOKING_DESK].manage(body.token, request.app[CLOCK]())
    return web.json_response(booking_json(request, done))


@routes.post("/api/book/manage/move")
async def move_booking(request: web.Request) -> web.Response:
    body = await decode_body(request, MoveIn)
    done = await request.app[BOOKING_DESK].move(body.token, body.starts_at, request.app[CLOCK]())
    await request.app[ROOMS].appointment_changed(str(done.appointment.id))
    return web.json_response(booking_json(request, done))


@routes.post("/api/book/manage/cancel")
async def cancel_booking(request: web.Request) -> web.Response:
    body = await decode_body(request, TokenIn)
    done = await request.app[BOOKING_DESK].cancel(body.token, request.app[CLOCK]())
    await request.app[ROOMS].appointment_changed(str(done.appointment.id))
    return web.json_response(booking_json(request, done))

"""A professional's calendar feed: make, look at and revoke its secret URL; serve it."""

from __future__ import annotations

from aiohttp import web

from server.app_keys import CALENDAR_FEEDS, CLOCK, SETTINGS
from server.calendar_feed import feed_urls
from server.staff_auth import require_staff

routes = web.RouteTableDef()

FEED_API = "/api/staff/me/calendar-feed"


@routes.get(FEED_API)
async def get_calendar_feed(request: web.Request) -> web.Response:
    session = require_staff(request)
    feed = await request.app[CALENDAR_FEEDS].status(session.staff)
    return web.json_response({
        "active": feed is not None,
        "created_at": None if feed is None else feed.created_at.isoformat(),
    })


@routes.post(FEED_API)
async def create_calendar_feed(request: web.Request) -> web.Response:
    session = require_staff(request)
    secret = await request.app[CALENDAR_FEEDS].create(session.staff, request.app[CLOCK]())
    url, https_url = feed_urls(request.app[SETTINGS].public_url, secret)
    return web.json_response({"url": url, "https_url": https_url}, status=201)


@routes.delete(FEED_API)
async def revoke_calendar_feed(request: web.Request) -> web.Response:
    session = require_staff(request)
    await request.app[CALENDAR_FEEDS].revoke(session.staff)
    return web.Response(status=204)


# The route's pattern, not the path, is what the request log writes: the secret never
# reaches the log.
@routes.get("/calendar/{secret}.ics")
async def read_calendar_feed(request: web.Request) -> web.StreamResponse:
    found = await request.app[CALENDAR_FEEDS].read(request.match_info["secret"],
                                                   request.app[CLOCK]())
    if found is None:
        raise web.HTTPNotFound()
    headers = {"ETag": found.etag, "Cache-Control": "private, no-cache"}
    if found.etag in request.headers.get("If-None-Match", ""):
        return web.Response(status=304, headers=headers)
    return web.Response(body=found.body, headers=headers,
                        content_type="text/calendar", charset="utf-8")

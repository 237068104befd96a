"""``/metrics``: the Prometheus text format, for admins on the main port, and for anyone
who can reach ``KOTA_METRICS_HOST:KOTA_METRICS_PORT`` on a port of its own
(docs/metrics.md). The own port is meant for a loopback or private address only."""

from __future__ import annotations

import logging

from aiohttp import web

from server.app_keys import METRICS
from server.errors import Forbidden, Unauthorized
from server.metrics import CONTENT_TYPE, Metrics
from server.staff_auth import current_staff

logger = logging.getLogger(__name__)

routes = web.RouteTableDef()


@routes.get("/metrics")
async def get_metrics(request: web.Request) -> web.Response:
    """Signed-in admins only: 401 without a staff session, 403 for a professional.

    Outside ``/api/``, so the session middleware leaves it alone: the session is read
    here, and a scrape never slides its expiry.
    """
    session = await current_staff(request)
    if session is None:
        raise Unauthorized("not_signed_in", "Please sign in.")
    if not session.staff.is_admin:
        raise Forbidden("admin_only", "Only an administrator can do this.")
    return _scraped(await request.app[METRICS].scrape())


def _scraped(body: bytes) -> web.Response:
    return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE,
                                            "Cache-Control": "no-store"})


async def start_metrics_port(metrics: Metrics, host: str, port: int) -> web.AppRunner:
    """A second, bare site serving ``/metrics`` only; the caller cleans the runner up."""
    side = web.Application()

    async def scrape(request: web.Request) -> web.Response:
        return _scraped(await metrics.scrape())

    side.router.add_get("/metrics", scrape)
    runner = web.AppRunner(side, access_log=None, handle_signals=False)
    await runner.setup()
    try:
        await web.TCPSite(runner, host, port).start()
    except BaseException:
        await runner.cleanup()
        raise
    logger.info("metrics.listening", extra={"host": host, "port": port})
    return runner

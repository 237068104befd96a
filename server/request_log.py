"""One log line per request: route, status and time; never query strings or bodies."""

from __future__ import annotations

import logging
import secrets
import time
from collections.abc import Awaitable, Callable

from aiohttp import web

logger = logging.getLogger("kota.http")
REQUEST_ID = web.RequestKey("request_id", str)
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@web.middleware
async def request_log_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    request_id = secrets.token_hex(6)
    request[REQUEST_ID] = request_id
    started = time.perf_counter()
    status = 500
    try:
        response = await handler(request)
        status = response.status
        return response
    except web.HTTPException as exc:
        status = exc.status
        raise
    finally:
        resource = request.match_info.route.resource
        logger.info(
            "http.request",
            extra={
                "request_id": request_id,
                "method": request.method,
                "route": resource.canonical if resource is not None else "unmatched",
                "status": status,
                "duration_ms": round((time.perf_counter() - started) * 1000, 1),
            },
        )

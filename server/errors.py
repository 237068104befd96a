"""The API's error family and the middleware that renders every failure the same way.

Clients translate by ``code``, so codes are stable snake_case and messages plain.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable
from typing import Any

from aiohttp import web

from server.db import StorageError, StorageFull
from server.request_log import REQUEST_ID, Handler

logger = logging.getLogger(__name__)


class ApiError(Exception):
    status = 400

    def __init__(self, code: str, message: str, **extra: Any) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.extra = extra

    def to_json(self) -> dict[str, Any]:
        return {"error": {"code": self.code, "message": self.message, **self.extra}}


class BadRequest(ApiError):
    status = 400


class Unauthorized(ApiError):
    status = 401


class Forbidden(ApiError):
    status = 403


class NotFound(ApiError):
    status = 404


class Conflict(ApiError):
    status = 409


class Gone(ApiError):
    status = 410


class TooLarge(ApiError):
    status = 413


class Unprocessable(ApiError):
    status = 422


class TooManyRequests(ApiError):
    status = 429

    def __init__(self, code: str, message: str, retry_after: int) -> None:
        super().__init__(code, message, retry_after=retry_after)
        self.retry_after = retry_after


class InsufficientStorage(ApiError):
    """The disk is full: nothing was saved, and the client may try again later."""

    status = 507


class Unavailable(ApiError):
    """Busy for now: the client may try again after ``retry_after`` seconds."""

    status = 503

    def __init__(self, code: str, message: str, retry_after: int) -> None:
        super().__init__(code, message, retry_after=retry_after)
        self.retry_after = retry_after


# Long enough for an operator to free space or remount; short enough to keep trying.
STORAGE_RETRY_SECONDS = 30


def storage_refusal(fault: StorageError) -> ApiError:
    """What a client hears when the database cannot be written; nothing was saved."""
    if isinstance(fault, StorageFull):
        return InsufficientStorage(
            "storage_full",
            "The server's disk is full, so nothing was saved. Try again later.",
            retry_after=STORAGE_RETRY_SECONDS,
        )
    return Unavailable(
        "storage_unavailable",
        "The server cannot save anything right now, so nothing was saved. Try again later.",
        retry_after=STORAGE_RETRY_SECONDS,
    )


def error_response(error: ApiError) -> web.Response:
    response = web.json_response(error.to_json(), status=error.status)
    retry_after = error.extra.get("retry_after")
    if isinstance(retry_after, int):
        response.headers["Retry-After"] = str(retry_after)
    return response


_HTTP_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    413: "body_too_large",
}


# The status the request log shows for a request whose client left before the answer, as
# nginx logs it; no client ever receives it.
CLIENT_GONE = 499


# Routes that stay open for a whole call: their handlers answer their own refusals, so
# no middleware frame of ours lives as long as the socket (docs/performance.md).
LONG_LIVED_PATHS = frozenset({"/ws"})


@web.middleware
def error_middleware(request: web.Request, handler: Handler) -> Awaitable[web.StreamResponse]:
    """One JSON error shape for the API; never a traceback to the client."""
    if request.path in LONG_LIVED_PATHS:
        return handler(request)
    return _rendering_errors(request, handler)


async def _rendering_errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except ApiError as exc:
        return error_response(exc)
    except StorageError as exc:
        return error_response(storage_refusal(exc))
    except web.HTTPException as exc:
        if exc.status < 400 or not request.path.startswith("/api/"):
            raise
        code = _HTTP_CODES.get(exc.status, "http_error")
        message = "The request body is too large." if exc.status == 413 else exc.reason
        return web.json_response({"error": {"code": code, "message": message}}, status=exc.status)
    except ConnectionResetError:
        # The client went away mid-request (mid-body, say): no bug of ours, nobody to answer.
        logger.info("http.client_gone", extra={"request_id": request.get(REQUEST_ID)})
        return web.Response(status=CLIENT_GONE, reason="Client Closed Request")
    except Exception:
        logger.exception("http.internal_error", extra={"request_id": request.get(REQUEST_ID)})
        return web.json_response(
            {"error": {"code": "internal", "message": "Something went wrong on the server."}},
            status=500,
        )
